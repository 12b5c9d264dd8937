//===- CheckpointImportFuzzer.cpp - GPTQ, AWQ and bitsandbytes weights ----===//
//
// Input: config.json, then (after fuzz::kFileSeparator) model.safetensors,
// then optionally model.safetensors.index.json of a Hugging Face directory. The directory is read as --import-hf reads it:
// configuration, quantization config, weight files, and the unpacking of
// GPTQ/AWQ linears into lowbit's affine layout. The same tensors are then
// read as the side files of lowbit's own passes: affine codes and
// bitsandbytes NF4/FP4 weights (the layout --export-bnb converts from).
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "lowbit/Formats/AffinePacking.h"
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Quant/Bnb.h"
#include "lowbit/Support/InputFiles.h"

using namespace llvm;
using namespace lowbit;

// Decoding is linear in the weight, which the file holds; this keeps a
// single input fast.
static constexpr int64_t kMaxElements = 1 << 20;

static void readUnpacked(const ModelSource &src, const WeightStore &weights) {
  for (const auto &[name, scheme] : src.affineWeights) {
    Expected<AffineWeight> w = readAffineWeight(
        weights, name, scheme.bits, scheme.groupSize, scheme.actOrder);
    if (!w)
      __builtin_trap(); // the importer wrote these tensors itself
    fuzz::touch(w->codes.data(), w->codes.size());
  }
}

/// The side-file readers take the weight's shape and scheme from the IR;
/// here every scheme the tensors could be meant for is tried.
static void readSideFileWeights(const std::string &path) {
  auto file = SafetensorsFile::open(path);
  if (!file) {
    fuzz::ignore(file.takeError());
    return;
  }
  WeightStore store;
  if (Error e = store.addFile(path)) {
    fuzz::ignore(std::move(e));
    return;
  }
  for (const TensorRef &t : (*file)->tensors()) {
    const TensorRef *scales = store.find(companionName(t.name, Companion::Scales));
    if (scales && t.shape.size() == 2 && scales->shape.size() == 2 &&
        scales->shape[1] > 0 && t.shape[1] % scales->shape[1] == 0) {
      bool actOrder = store.find(companionName(t.name, Companion::GroupIndex));
      for (int bits : {2, 4, 8}) {
        Expected<AffineWeight> w = readAffineWeight(
            store, t.name, bits, t.shape[1] / scales->shape[1], actOrder);
        if (w)
          fuzz::touch(w->scales.data(), w->scales.size() * sizeof(float));
        else
          fuzz::ignore(w.takeError());
      }
    }
    if (!store.find(companionName(t.name, Companion::Absmax)) ||
        t.shape.size() != 2 || t.shape[0] <= 0 || t.shape[0] > kMaxElements / 2)
      continue;
    for (int64_t blockSize = 64; blockSize <= 4096; blockSize *= 2)
      for (int64_t cols : {2 * t.shape[0], 2 * t.shape[0] - 1}) {
        Bnb4BitType type = cols % 2 ? Bnb4BitType::FP4 : Bnb4BitType::NF4;
        Expected<Bnb4BitWeight> w =
            readBnb4BitWeight(store, t.name, type, blockSize, 1, cols);
        if (!w) {
          fuzz::ignore(w.takeError());
          continue;
        }
        std::vector<float> values = dequantizeBnb4Bit(*w);
        if (int64_t(values.size()) != cols)
          __builtin_trap();
      }
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static fuzz::ScratchDir dir;
  static const bool tokenizer = !dir.write("tokenizer.model", "").empty();
  (void)tokenizer;
  std::vector<StringRef> files = fuzz::splitFiles(fuzz::bytesOf(data, size), 3);
  // Each input is unrelated to the last: keep the record of inputs small.
  forgetInputFiles();
  dir.write("config.json", files[0]);
  std::string weightsPath = dir.write("model.safetensors", files[1]);
  if (files[2].empty())
    dir.remove("model.safetensors.index.json");
  else
    dir.write("model.safetensors.index.json", files[2]);
  dir.remove("unpacked.safetensors");

  {
    WeightStore weights;
    HfImportOptions options;
    options.sideFile = dir.path() + "/unpacked.safetensors";
    Expected<ModelSource> src = readHfDirectory(dir.path(), weights, options);
    if (src)
      readUnpacked(*src, weights);
    else
      fuzz::expectErrorIn(src.takeError(), dir.path());
  }
  readSideFileWeights(weightsPath);
  return 0;
}
