//===- GgufExport.cpp - lowbit IR -> GGUF ---------------------------------===//
#include "lowbit/Export/GgufExport.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Formats/AffinePacking.h"
#include "lowbit/Formats/GgmlQuants.h"
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Import/TensorNames.h"
#include "lowbit/Quant/Affine.h"
#include "lowbit/Quant/Encode.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Progress.h"

#include <map>

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSet.h"

using namespace llvm;
using namespace lowbit;

namespace {
/// Row order of convert_hf_to_gguf's permute (formats.md §2.6): inside each
/// head, rotate-half pairs (i, i + d/2) become adjacent (2i, 2i + 1).
/// Returns, for each destination row, its source row.
std::vector<int64_t> ropeRowPermutation(int64_t rows, int64_t heads,
                                        bool toInterleaved) {
  int64_t d = rows / heads;
  std::vector<int64_t> src(rows);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < d / 2; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        int64_t interleaved = h * d + 2 * i + j;
        int64_t halves = h * d + j * (d / 2) + i;
        if (toInterleaved)
          src[interleaved] = halves;
        else
          src[halves] = interleaved;
      }
  return src;
}

/// An affine weight (GPTQ/AWQ/RTN codes) as f32 values, to be re-encoded.
Error dequantizeAffineTensor(const WeightStore &weights, StringRef name,
                             mlir::lowbit::QuantSchemeAttr scheme,
                             std::vector<float> &out) {
  Expected<AffineWeight> w =
      readAffineWeight(weights, name, int(scheme.getBits()),
                       scheme.getGroupSize(), scheme.getActOrder());
  if (!w)
    return w.takeError();
  out.resize(size_t(w->rows * w->cols));
  dequantizeAffine(w->codes.data(), w->scales.data(), w->zeros.data(), w->rows,
                   w->cols, w->groupSize, out.data(),
                   w->gIdx.empty() ? nullptr : w->gIdx.data());
  return Error::success();
}
} // namespace

Error lowbit::exportGguf(const LoadedModel &model, StringRef path,
                         const GgufExportOptions &options) {
  const ModelConfig &cfg = model.config;
  if (cfg.arch != "llama" && cfg.arch != "mistral" && cfg.arch != "qwen2")
    return fileError(path, "cannot export architecture '{0}' to GGUF", cfg.arch);
  std::string arch = cfg.arch == "qwen2" ? "qwen2" : "llama";

  // Which rope order do the IR's q/k weights have, and which does llama.cpp
  // expect for this architecture?
  bool irInterleaved = false;
  mlir::ModuleOp module = model.module.get();
  module.walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() == "lowbit.rope")
      if (auto b = dyn_cast_or_null<mlir::BoolAttr>(op->getAttr("interleaved")))
        irInterleaved = b.getValue();
  });
  bool wantInterleaved = arch == "llama";

  GgufWriter writer;
  std::string p = arch + ".";
  writer.setString("general.architecture", arch);
  writer.setString("general.name", options.name.empty() ? "lowbit" : options.name);
  writer.setU32(p + "context_length", uint32_t(cfg.contextLength));
  writer.setU32(p + "embedding_length", uint32_t(cfg.hiddenSize));
  writer.setU32(p + "block_count", uint32_t(cfg.numLayers));
  writer.setU32(p + "feed_forward_length", uint32_t(cfg.intermediateSize));
  writer.setU32(p + "attention.head_count", uint32_t(cfg.numHeads));
  writer.setU32(p + "attention.head_count_kv", uint32_t(cfg.numKvHeads));
  writer.setF32(p + "rope.freq_base", float(cfg.ropeTheta));
  writer.setF32(p + "attention.layer_norm_rms_epsilon", cfg.rmsNormEps);
  writer.setU32(p + "attention.key_length", uint32_t(cfg.headDim));
  writer.setU32(p + "attention.value_length", uint32_t(cfg.headDim));
  writer.setU32(p + "rope.dimension_count", uint32_t(cfg.headDim));
  writer.setU32(p + "vocab_size", uint32_t(cfg.vocabSize));

  const Vocabulary &vocab = model.tokenizer->vocabulary();
  if (vocab.modelType != 2 && vocab.modelType != 1)
    return fileError(path, "only SentencePiece BPE/unigram vocabularies can be "
                     "exported");
  writer.setString("tokenizer.ggml.model", "llama");
  writer.setString("tokenizer.ggml.pre", "default");
  writer.setArrayString("tokenizer.ggml.tokens", vocab.pieces);
  writer.setArrayF32("tokenizer.ggml.scores", vocab.scores);
  std::vector<int32_t> types;
  for (TokenType t : vocab.types)
    types.push_back(int32_t(t));
  writer.setArrayI32("tokenizer.ggml.token_type", types);
  writer.setU32("tokenizer.ggml.bos_token_id", uint32_t(vocab.bosId));
  writer.setU32("tokenizer.ggml.eos_token_id", uint32_t(vocab.eosId));
  writer.setU32("tokenizer.ggml.unknown_token_id", uint32_t(vocab.unkId));
  writer.setBool("tokenizer.ggml.add_bos_token", vocab.addBos);
  writer.setBool("tokenizer.ggml.add_eos_token", vocab.addEos);

  // Every weight the IR names, in IR order, once; affine ones (integer
  // codes with group scales and zeros) are dequantized and re-encoded.
  std::vector<std::string> names;
  StringSet<> seen;
  StringMap<mlir::lowbit::QuantSchemeAttr> affine;
  module.walk([&](mlir::lowbit::WeightOp op) {
    if (!seen.insert(op.getName()).second)
      return;
    names.push_back(op.getName().str());
    if (auto q = dyn_cast<mlir::lowbit::QuantizedWeightType>(op.getResult().getType()))
      if (q.getScheme().getFormat() == mlir::lowbit::QuantFormat::Affine)
        affine[op.getName()] = q.getScheme();
  });

  bool hasOutput = false;
  for (const std::string &name : names)
    if (auto p = parseWeightName(name))
      hasOutput |= p->role == WeightRole::Output;
  ModelShape shape{cfg.numLayers, cfg.numHeads, cfg.numKvHeads};

  std::vector<std::vector<uint8_t>> storage;
  storage.reserve(names.size());
  std::map<DType, int64_t> matrixElements;
  Progress progress("export", int64_t(names.size()), options.showProgress);
  for (const std::string &name : names) {
    std::optional<ParsedWeightName> parsed = parseWeightName(name);
    if (!parsed)
      return fileError(path, "weight '{0}' has no GGUF name (not a "
                       "Llama-family tensor)", name);
    Expected<const TensorRef *> tensor = model.weights.get(name);
    if (!tensor)
      return tensor.takeError();
    TensorRef dequantized;
    std::vector<float> affineValues;
    if (auto it = affine.find(name); it != affine.end()) {
      if (Error e = dequantizeAffineTensor(model.weights, name, it->second,
                                           affineValues))
        return fileError(path, "{0}", toString(std::move(e)));
      dequantized = **tensor;
      dequantized.dtype = DType::F32;
      dequantized.data = reinterpret_cast<const uint8_t *>(affineValues.data());
      dequantized.bytes = affineValues.size() * sizeof(float);
    }
    const TensorRef &t = affineValues.empty() ? **tensor : dequantized;
    std::string ggufName = weightName(Naming::Gguf, parsed->role, parsed->layer);

    // Vectors (norms, biases) are F32. Matrices take the requested file
    // type's choice for their role, or with "auto" keep a ggml block format
    // and otherwise become F16.
    DType target = DType::F32;
    if (t.shape.size() >= 2) {
      if (options.fileType) {
        WeightRole role = parsed->role;
        // Without an output matrix the tied embedding plays its part.
        if (role == WeightRole::Embedding && !hasOutput)
          role = WeightRole::Output;
        Expected<DType> chosen = chooseGgufType(*options.fileType, role,
                                                parsed->layer, t.shape.back(),
                                                shape, options.pure);
        if (!chosen)
          return chosen.takeError();
        target = *chosen;
      } else {
        target = getDTypeInfo(t.dtype).blockElems > 1 ? t.dtype : DType::F16;
      }
      matrixElements[target] += t.numElements();
    }
    Expected<std::vector<uint8_t>> bytes = encodeTensor(t, target);
    if (!bytes)
      return fileError(path, "{0}", toString(bytes.takeError()));
    storage.push_back(std::move(*bytes));
    std::vector<uint8_t> &out = storage.back();

    bool isQK = parsed->role == WeightRole::Query || parsed->role == WeightRole::Key ||
                parsed->role == WeightRole::QueryBias ||
                parsed->role == WeightRole::KeyBias;
    if (isQK && irInterleaved != wantInterleaved) {
      int64_t heads = (parsed->role == WeightRole::Query ||
                       parsed->role == WeightRole::QueryBias)
                          ? cfg.numHeads
                          : cfg.numKvHeads;
      int64_t rows = t.shape[0];
      std::vector<int64_t> rowSource = ropeRowPermutation(rows, heads, wantInterleaved);
      // Whole rows move, so the permutation works on encoded bytes too.
      uint64_t rowBytes = out.size() / rows;
      std::vector<uint8_t> permuted(out.size());
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(permuted.data() + r * rowBytes,
                    out.data() + rowSource[r] * rowBytes, rowBytes);
      out = std::move(permuted);
    }
    writer.addTensor(ggufName, target, t.shape, out.data(), out.size());
    progress.update(int64_t(storage.size()), ggufName);
  }
  progress.finish();

  // general.file_type: what was asked for, else what a quantization pass
  // recorded, else the most common matrix encoding (llama.cpp's own guess).
  uint32_t fileType = 1;
  if (options.fileType) {
    fileType = options.fileType->id;
  } else if (auto attr = dyn_cast_or_null<mlir::IntegerAttr>(
                 module->getAttr("lowbit.gguf_file_type"))) {
    fileType = uint32_t(attr.getInt());
  } else if (!matrixElements.empty()) {
    DType common = std::max_element(matrixElements.begin(), matrixElements.end(),
                                    [](auto &a, auto &b) { return a.second < b.second; })
                       ->first;
    if (Expected<GgufFileType> f = parseGgufFileType(getDTypeInfo(common).name))
      fileType = f->id;
    else
      consumeError(f.takeError());
  }
  writer.setU32("general.file_type", fileType);
  bool quantized = false;
  for (auto &[type, count] : matrixElements)
    quantized |= getDTypeInfo(type).blockElems > 1;
  if (quantized)
    writer.setU32("general.quantization_version", 2);
  return writer.write(path);
}
