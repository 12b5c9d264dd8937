//===- CheckpointDirectory.cpp - Shared Hugging Face export steps ---------===//
#include "lowbit/Export/CheckpointDirectory.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Support/Error.h"

#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace lowbit;

namespace {

bool isGgufFile(StringRef path) {
  auto head = MemoryBuffer::getFileSlice(path, 4, 0, /*IsVolatile=*/false);
  return head && (*head)->getBuffer() == "GGUF";
}

/// For each row of Hugging Face's rotate-half q/k layout, the row of GGUF's
/// adjacent-pair layout holding it (formats.md §2.6).
std::vector<int64_t> rotateHalfRowSource(int64_t rows, int64_t heads) {
  int64_t d = rows / heads;
  std::vector<int64_t> src(static_cast<size_t>(rows));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < d / 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        src[h * d + j * (d / 2) + i] = h * d + 2 * i + j;
  return src;
}

Error copyTokenizerFiles(StringRef tokenizer, StringRef dir) {
  SmallString<256> to(dir);
  sys::path::append(to, "tokenizer.model");
  if (std::error_code ec = sys::fs::copy_file(tokenizer, to))
    return fileError(tokenizer, "cannot copy the tokenizer: {0}", ec.message());
  // The files transformers reads beside it, when the source has them.
  StringRef from = sys::path::parent_path(tokenizer);
  for (const char *name : {"tokenizer_config.json", "special_tokens_map.json",
                           "tokenizer.json", "added_tokens.json",
                           "generation_config.json"}) {
    SmallString<256> src(from), dst(dir);
    sys::path::append(src, name);
    sys::path::append(dst, name);
    if (!sys::fs::exists(src))
      continue;
    if (std::error_code ec = sys::fs::copy_file(src, dst))
      return fileError(src, "cannot copy: {0}", ec.message());
  }
  return Error::success();
}

} // namespace

Expected<std::string> lowbit::checkpointTokenizer(const LoadedModel &model,
                                                  StringRef dir,
                                                  StringRef checkpointName) {
  const ModelConfig &cfg = model.config;
  if (cfg.arch != "llama" && cfg.arch != "mistral" && cfg.arch != "qwen2")
    return fileError(dir, "cannot export architecture '{0}'", cfg.arch);
  mlir::ModuleOp module = model.module.get();
  auto tok = dyn_cast_or_null<mlir::StringAttr>(module->getAttr("lowbit.tokenizer"));
  if (!tok)
    return fileError(dir, "the module has no lowbit.tokenizer attribute");
  std::string tokenizer = tok.getValue().str();
  if (isGgufFile(tokenizer))
    return fileError(dir, "the model's tokenizer is inside the GGUF file {0}; "
                     "a {1} checkpoint needs a SentencePiece tokenizer.model",
                     tokenizer, checkpointName);
  return tokenizer;
}

Error lowbit::forEachCheckpointWeight(
    mlir::ModuleOp module, StringRef dir,
    function_ref<Error(CheckpointWeight)> visit,
    function_ref<bool(StringRef)> ignore) {
  StringSet<> seen;
  Error error = Error::success();
  module.walk([&](mlir::lowbit::WeightOp op) {
    if (error || !seen.insert(op.getName()).second)
      return;
    std::string name = op.getName().str();
    std::optional<ParsedWeightName> parsed = parseWeightName(name);
    if (!parsed && ignore && ignore(name))
      return;
    if (!parsed) {
      error = fileError(dir, "weight '{0}' is not a Llama-family tensor", name);
      return;
    }
    CheckpointWeight w{
        name, weightName(Naming::HuggingFace, parsed->role, parsed->layer),
        parsed->role, {}, nullptr};
    mlir::Type type = op.getResult().getType();
    if (auto q = dyn_cast<mlir::lowbit::QuantizedWeightType>(type)) {
      w.shape.assign(q.getShape().begin(), q.getShape().end());
      w.scheme = q.getScheme();
    } else if (auto t = dyn_cast<mlir::RankedTensorType>(type)) {
      w.shape.assign(t.getShape().begin(), t.getShape().end());
    }
    error = visit(std::move(w));
  });
  return error;
}

bool lowbit::hasInterleavedRope(mlir::ModuleOp module) {
  bool interleaved = false;
  module.walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() == "lowbit.rope")
      if (auto b = dyn_cast_or_null<mlir::BoolAttr>(op->getAttr("interleaved")))
        interleaved = b.getValue();
  });
  return interleaved;
}

std::vector<int64_t> lowbit::huggingFaceRowSource(const ModelConfig &cfg,
                                                  WeightRole role, int64_t rows,
                                                  bool irInterleaved) {
  // q/k rows of a llama GGUF import are in adjacent-pair order; Hugging
  // Face checkpoints use rotate-half order.
  bool isQ = role == WeightRole::Query || role == WeightRole::QueryBias;
  bool isK = role == WeightRole::Key || role == WeightRole::KeyBias;
  if (!irInterleaved || (!isQ && !isK))
    return {};
  return rotateHalfRowSource(rows, isQ ? cfg.numHeads : cfg.numKvHeads);
}

void lowbit::writeRawAttribute(json::OStream &j, StringRef key,
                               StringRef text) {
  j.attributeBegin(key);
  j.rawValue(text);
  j.attributeEnd();
}

void lowbit::writeModelConfigKeys(
    json::OStream &j, const ModelConfig &cfg, bool tieWordEmbeddings,
    StringRef torchDtype, function_ref<std::string(double)> formatFloat) {
  StringRef arch = cfg.arch == "qwen2"     ? "Qwen2ForCausalLM"
                   : cfg.arch == "mistral" ? "MistralForCausalLM"
                                           : "LlamaForCausalLM";
  j.attributeArray("architectures", [&] { j.value(arch); });
  j.attribute("model_type", cfg.arch);
  j.attribute("attention_bias", cfg.attentionBias);
  j.attribute("bos_token_id", cfg.bosTokenId);
  j.attribute("eos_token_id", cfg.eosTokenId);
  j.attribute("head_dim", cfg.headDim);
  j.attribute("hidden_act", "silu");
  j.attribute("hidden_size", cfg.hiddenSize);
  j.attribute("intermediate_size", cfg.intermediateSize);
  j.attribute("max_position_embeddings", cfg.contextLength);
  j.attribute("num_attention_heads", cfg.numHeads);
  j.attribute("num_hidden_layers", cfg.numLayers);
  j.attribute("num_key_value_heads", cfg.numKvHeads);
  writeRawAttribute(j, "rms_norm_eps", formatFloat(cfg.rmsNormEps));
  writeRawAttribute(j, "rope_theta", formatFloat(cfg.ropeTheta));
  j.attribute("tie_word_embeddings", tieWordEmbeddings);
  j.attribute("torch_dtype", torchDtype);
  j.attribute("use_cache", true);
  j.attribute("vocab_size", cfg.vocabSize);
}

Error lowbit::writeJsonFile(StringRef dir, StringRef name,
                            function_ref<void(json::OStream &)> body) {
  SmallString<256> p(dir);
  sys::path::append(p, name);
  std::error_code ec;
  raw_fd_ostream os(p, ec, sys::fs::OF_Text);
  if (ec)
    return fileError(p, "cannot create: {0}", ec.message());
  {
    json::OStream j(os, 2);
    body(j);
  }
  os << "\n";
  os.close();
  if (os.has_error())
    return fileError(p, "write failed: {0}", os.error().message());
  return Error::success();
}

Error lowbit::writeCheckpointDirectory(
    StringRef dir, StringRef tokenizer,
    function_ref<Error(StringRef)> writeWeights,
    function_ref<Error(StringRef)> writeConfigs) {
  // Build beside the destination, then rename: a failed export leaves
  // nothing, and an existing non-empty directory is never touched.
  SmallString<256> target(dir);
  sys::fs::make_absolute(target);
  sys::path::remove_dots(target, /*remove_dot_dot=*/true);
  while (target.size() > 1 && sys::path::is_separator(target.back()))
    target.pop_back();
  if (sys::fs::exists(target)) {
    std::error_code ec;
    sys::fs::directory_iterator it(target, ec);
    if (!sys::fs::is_directory(target) || ec || it != sys::fs::directory_iterator())
      return fileError(dir, "already exists and is not an empty directory");
  }
  SmallString<256> temp;
  if (std::error_code ec = sys::fs::createUniqueDirectory(target + ".tmp", temp))
    return fileError(dir, "cannot create a directory beside it: {0}",
                     ec.message());
  auto build = [&]() -> Error {
    SmallString<256> weightsPath(temp);
    sys::path::append(weightsPath, "model.safetensors");
    if (Error e = writeWeights(weightsPath))
      return e;
    if (Error e = writeConfigs(temp))
      return e;
    if (Error e = copyTokenizerFiles(tokenizer, temp))
      return e;
    if (std::error_code ec = sys::fs::rename(temp, target))
      return fileError(dir, "cannot move the finished checkpoint into place: "
                       "{0}", ec.message());
    return Error::success();
  };
  if (Error e = build()) {
    sys::fs::remove_directories(temp);
    return e;
  }
  return Error::success();
}
