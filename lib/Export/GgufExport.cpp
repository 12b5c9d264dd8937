//===- GgufExport.cpp - lowbit IR -> GGUF ---------------------------------===//
#include "lowbit/Export/GgufExport.h"
#include "lowbit/Formats/GgmlQuants.h"
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Import/TensorNames.h"
#include "lowbit/Support/Error.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSet.h"

using namespace llvm;
using namespace lowbit;

namespace {
/// llama.cpp's file-type id (formats.md §2.3) for an all-`type` model.
uint32_t fileTypeOf(DType type) {
  switch (type) {
  case DType::F32: return 0;
  case DType::F16: return 1;
  case DType::Q8_0: return 7;
  case DType::BF16: return 32;
  default: return 1;
  }
}

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
} // namespace

Error lowbit::exportGguf(const LoadedModel &model, StringRef path,
                         const GgufExportOptions &options) {
  const ModelConfig &cfg = model.config;
  DType matrixType = options.matrixType;
  if (matrixType != DType::F32 && matrixType != DType::F16 &&
      matrixType != DType::BF16 && matrixType != DType::Q8_0)
    return fileError(path, "GGUF export supports f32, f16, bf16 and q8_0 "
                     "(got {0})", getDTypeInfo(matrixType).name);
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
  writer.setU32("general.file_type", fileTypeOf(matrixType));
  if (matrixType == DType::Q8_0)
    writer.setU32("general.quantization_version", 2);
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

  // Every weight the IR names, in IR order, once.
  std::vector<std::string> names;
  StringSet<> seen;
  module.walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() != "lowbit.weight")
      return;
    if (auto n = dyn_cast_or_null<mlir::StringAttr>(op->getAttr("name")))
      if (seen.insert(n.getValue()).second)
        names.push_back(n.getValue().str());
  });

  std::vector<std::vector<uint8_t>> storage;
  storage.reserve(names.size());
  for (const std::string &name : names) {
    std::optional<ParsedWeightName> parsed = parseWeightName(name);
    if (!parsed)
      return fileError(path, "weight '{0}' has no GGUF name (not a "
                       "Llama-family tensor)", name);
    Expected<const TensorRef *> tensor = model.weights.get(name);
    if (!tensor)
      return tensor.takeError();
    const TensorRef &t = **tensor;
    std::string ggufName = weightName(Naming::Gguf, parsed->role, parsed->layer);

    bool isQK = parsed->role == WeightRole::Query || parsed->role == WeightRole::Key ||
                parsed->role == WeightRole::QueryBias ||
                parsed->role == WeightRole::KeyBias;
    int64_t heads = (parsed->role == WeightRole::Query ||
                     parsed->role == WeightRole::QueryBias)
                        ? cfg.numHeads
                        : cfg.numKvHeads;
    std::vector<int64_t> rowSource;
    if (isQK && irInterleaved != wantInterleaved)
      rowSource = ropeRowPermutation(t.shape[0], heads, wantInterleaved);

    // Vectors (norms, biases) stay F32; matrices get the requested type. A
    // source already in that encoding is copied row by row, not requantized.
    DType target = t.shape.size() >= 2 ? matrixType : DType::F32;
    int64_t rows = t.shape.size() >= 2 ? t.shape[0] : 1;
    int64_t cols = t.numElements() / std::max<int64_t>(rows, 1);
    if (!rowSource.empty() && t.shape.size() == 1) {
      rows = t.shape[0];
      cols = 1;
    }
    std::optional<uint64_t> outBytes = tensorBytes(target, t.shape);
    if (!outBytes)
      return fileError(path, "tensor '{0}': row length {1} is not a multiple "
                       "of the {2} block", name, t.shape.back(),
                       getDTypeInfo(target).name);
    storage.emplace_back(*outBytes);
    std::vector<uint8_t> &out = storage.back();
    uint64_t outRow = *outBytes / rows;
    auto srcRow = [&](int64_t r) { return rowSource.empty() ? r : rowSource[r]; };
    if (t.dtype == target) {
      uint64_t inRow = t.bytes / rows;
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(out.data() + r * outRow, t.data + srcRow(r) * inRow, inRow);
    } else {
      std::vector<float> values;
      if (Error e = dequantize(t, values))
        return e;
      for (int64_t r = 0; r < rows; ++r)
        if (Error e = quantizeRow(target, values.data() + srcRow(r) * cols,
                                  out.data() + r * outRow, cols))
          return e;
    }
    writer.addTensor(ggufName, target, t.shape, out.data(), out.size());
  }
  return writer.write(path);
}
