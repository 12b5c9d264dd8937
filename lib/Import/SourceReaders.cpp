//===- SourceReaders.cpp - Locate a model's config, weights, tokenizer ----===//
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Import/QuantizedCheckpoint.h"
#include "lowbit/Support/Error.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <set>

using namespace llvm;
using namespace lowbit;

/// The safetensors files of a directory: the shards named by
/// model.safetensors.index.json when present, else every *.safetensors.
static Expected<std::vector<std::string>> findWeightFiles(StringRef dir) {
  SmallString<256> index(dir);
  sys::path::append(index, "model.safetensors.index.json");
  std::vector<std::string> files;
  if (sys::fs::exists(index)) {
    auto buf = readInputFile(index, /*IsText=*/true);
    if (!buf)
      return fileError(index, "cannot open: {0}", buf.getError().message());
    Expected<json::Value> root = json::parse((*buf)->getBuffer());
    if (!root)
      return fileError(index, "invalid JSON: {0}", toString(root.takeError()));
    const json::Object *map =
        root->getAsObject() ? root->getAsObject()->getObject("weight_map") : nullptr;
    if (!map)
      return fileError(index, "missing 'weight_map'");
    std::set<std::string> shards;
    for (const auto &kv : *map)
      if (auto s = kv.second.getAsString())
        shards.insert(s->str());
    for (const std::string &s : shards) {
      // A shard is a file of the model directory, never a path out of it.
      if (s.empty() || s == "." || s == ".." ||
          s.find_first_of("/\\") != std::string::npos)
        return fileError(index, "weight_map names shard '{0}', which is not "
                         "a file name in the model directory", s);
      SmallString<256> p(dir);
      sys::path::append(p, s);
      files.push_back(std::string(p));
    }
    return files;
  }
  std::error_code ec;
  for (sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec))
    if (sys::path::extension(it->path()) == ".safetensors")
      files.push_back(it->path());
  if (ec)
    return fileError(dir, "cannot list directory: {0}", ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty())
    return fileError(dir, "no *.safetensors weight files in the model directory");
  return files;
}

/// The layer of a per-layer tensor name ("model.layers.N." or "blk.N."),
/// whatever follows (quantized checkpoints add qweight, scales, ...).
static std::optional<int64_t> layerOfName(StringRef name) {
  for (StringRef prefix : {"model.layers.", "blk."}) {
    StringRef rest = name;
    int64_t layer;
    if (rest.consume_front(prefix) && !rest.consumeInteger(10, layer) &&
        rest.starts_with("."))
      return layer;
  }
  return std::nullopt;
}

/// The layer count of the configuration (`layersKey` in `configSource`)
/// against the layers the weights hold: fewer would silently drop the
/// extra weights, more would build layers from nothing.
static Error checkLayerCount(const ModelSource &src, const WeightStore &weights,
                             StringRef configSource, StringRef layersKey) {
  int64_t layers = src.config.numLayers, held = 0;
  std::vector<StringRef> extra;
  for (StringRef name : weights.names())
    if (std::optional<int64_t> layer = layerOfName(name)) {
      held = std::max(held, *layer + 1);
      if (*layer >= layers)
        extra.push_back(name);
    }
  if (!extra.empty()) {
    std::string list;
    for (size_t i = 0; i < extra.size() && i < 3; ++i)
      list += (i ? ", '" : "'") + extra[i].str() + "'";
    if (extra.size() > 3)
      list += formatv(" and {0} more", extra.size() - 3).str();
    return fileError(configSource, "{0} is {1}, but {2} holds tensors of "
                     "layers up to {3}: {4}", layersKey, layers,
                     weights.fileOf(extra.front()), held - 1, list);
  }
  if (held < layers)
    return fileError(configSource, "{0} is {1}, but the weight files hold "
                     "{2} layer(s) (there is no '{3}')", layersKey, layers,
                     held, weightName(src.naming, WeightRole::AttnNorm, held));
  return Error::success();
}

Error lowbit::checkEmbeddingRows(const ModelConfig &config,
                                 const WeightStore &weights) {
  for (Naming naming : {Naming::HuggingFace, Naming::Gguf}) {
    std::string name = weightName(naming, WeightRole::Embedding);
    const TensorRef *t = weights.find(name);
    if (!t)
      continue;
    if (t->shape.size() == 2 && t->shape[0] == config.vocabSize &&
        t->shape[1] == config.hiddenSize)
      return Error::success();
    return fileError(weights.fileOf(name), "tensor '{0}' has shape [{1}], "
                     "expected [{2}, {3}] from the model configuration", name,
                     make_range(t->shape.begin(), t->shape.end()),
                     config.vocabSize, config.hiddenSize);
  }
  return Error::success();
}

Expected<ModelSource> lowbit::readHfDirectory(StringRef dir,
                                              WeightStore &weights,
                                              const HfImportOptions &options) {
  if (!sys::fs::is_directory(dir))
    return fileError(dir, "not a model directory");
  ModelSource src;
  src.naming = Naming::HuggingFace;
  SmallString<256> configPath(dir);
  sys::path::append(configPath, "config.json");
  Expected<ModelConfig> config = readHfConfig(configPath);
  if (!config)
    return config.takeError();
  src.config = *config;

  Expected<std::vector<std::string>> files = findWeightFiles(dir);
  if (!files)
    return files.takeError();
  for (const std::string &f : *files)
    if (Error e = weights.addFile(f))
      return std::move(e);
  src.weightFiles = *files;
  // Before anything is unpacked, and before the tokenizer pads its table to
  // vocab_size.
  if (Error e = checkLayerCount(src, weights, configPath, "num_hidden_layers"))
    return std::move(e);
  if (Error e = checkEmbeddingRows(src.config, weights))
    return std::move(e);

  SmallString<256> tok(dir);
  sys::path::append(tok, "tokenizer.model");
  if (!sys::fs::exists(tok))
    return fileError(dir, "no tokenizer.model (only SentencePiece tokenizers "
                     "are supported)");
  src.tokenizer = std::string(tok);

  Expected<std::optional<CheckpointQuantization>> quant =
      readCheckpointQuantization(dir);
  if (!quant)
    return quant.takeError();
  if (*quant)
    if (Error e = unpackQuantizedCheckpoint(**quant, src, weights,
                                            options.sideFile))
      return std::move(e);

  // A tied model may still ship lm_head.weight; an untied one must.
  if (!src.config.tieWordEmbeddings &&
      !weights.find(weightName(Naming::HuggingFace, WeightRole::Output)))
    return fileError(src.weightFiles.front(), "config.json says the output "
                     "embedding is untied but there is no lm_head.weight");
  return src;
}

Expected<ModelConfig> lowbit::configFromGguf(const GgufFile &file) {
  ModelConfig c;
  Expected<std::string> arch = file.getString("general.architecture");
  if (!arch)
    return arch.takeError();
  if (*arch != "llama" && *arch != "qwen2")
    return fileError(file.path(), "unsupported architecture '{0}' (supported: "
                     "llama, qwen2)", *arch);
  c.arch = *arch;
  std::string p = *arch + ".";
  auto u32 = [&](StringRef key, int64_t &out, bool required) -> Error {
    if (!required && !file.find(p + key.str()))
      return Error::success();
    Expected<uint32_t> v = file.getU32(p + key.str());
    if (!v)
      return v.takeError();
    out = *v;
    return Error::success();
  };
  for (auto [key, out] : {std::pair<StringRef, int64_t *>{"embedding_length", &c.hiddenSize},
                          {"block_count", &c.numLayers},
                          {"feed_forward_length", &c.intermediateSize},
                          {"attention.head_count", &c.numHeads},
                          {"context_length", &c.contextLength}})
    if (Error e = u32(key, *out, true))
      return std::move(e);
  c.numKvHeads = c.numHeads;
  if (Error e = u32("attention.head_count_kv", c.numKvHeads, false))
    return std::move(e);
  c.headDim = 0;
  if (Error e = u32("attention.key_length", c.headDim, false))
    return std::move(e);
  // Without key_length the heads split the embedding evenly; validate()
  // reports a zero head count before anything divides by it.
  if (!file.find(p + "attention.key_length") && c.numHeads > 0) {
    if (c.hiddenSize % c.numHeads)
      return fileError(file.path(), "{0}embedding_length {1} is not a "
                       "multiple of {0}attention.head_count {2} (and there is "
                       "no {0}attention.key_length)", p, c.hiddenSize,
                       c.numHeads);
    c.headDim = c.hiddenSize / c.numHeads;
  }
  // lowbit reads one head width for q, k and v, rotated whole.
  for (StringRef key : {"attention.value_length", "rope.dimension_count"}) {
    int64_t v = c.headDim;
    if (Error e = u32(key, v, false))
      return std::move(e);
    if (c.headDim > 0 && v != c.headDim)
      return fileError(file.path(), "{0}{1} is {2} but the head dimension is "
                       "{3} (only equal widths are supported)", p, key, v,
                       c.headDim);
  }
  Expected<float> eps = file.getF32(p + "attention.layer_norm_rms_epsilon");
  if (!eps)
    return eps.takeError();
  c.rmsNormEps = *eps;
  if (file.find(p + "rope.freq_base")) {
    Expected<float> theta = file.getF32(p + "rope.freq_base");
    if (!theta)
      return theta.takeError();
    c.ropeTheta = *theta;
  }
  Expected<std::vector<std::string>> tokens =
      file.getStringArray("tokenizer.ggml.tokens");
  if (!tokens)
    return tokens.takeError();
  c.vocabSize = int64_t(tokens->size());
  if (Error e = u32("vocab_size", c.vocabSize, false))
    return std::move(e);
  for (auto [key, out] : {std::pair<StringRef, int64_t *>{"tokenizer.ggml.bos_token_id", &c.bosTokenId},
                          {"tokenizer.ggml.eos_token_id", &c.eosTokenId}}) {
    if (!file.find(key))
      continue;
    Expected<uint32_t> v = file.getU32(key);
    if (!v)
      return v.takeError();
    *out = *v;
  }
  c.tieWordEmbeddings = !file.findTensor("output.weight");
  c.attentionBias = file.findTensor("blk.0.attn_q.bias") != nullptr;
  if (Error e = c.validate(file.path(), *arch))
    return std::move(e);
  return c;
}

Expected<ModelSource> lowbit::readGgufModel(StringRef path,
                                            WeightStore &weights) {
  if (Error e = weights.addFile(path))
    return std::move(e);
  const GgufFile *file = weights.ggufFile();
  if (!file)
    return fileError(path, "not a GGUF file");
  ModelSource src;
  Expected<ModelConfig> config = configFromGguf(*file);
  if (!config)
    return config.takeError();
  src.config = *config;
  src.naming = Naming::Gguf;
  // convert_hf_to_gguf permutes llama q/k rows into adjacent-pair order
  // (formats.md §2.6); qwen2 keeps Hugging Face's rotate-half order.
  src.interleavedRope = src.config.arch == "llama";
  src.weightFiles = {path.str()};
  src.tokenizer = path.str();
  if (Error e = checkLayerCount(src, weights, path,
                                src.config.arch + ".block_count"))
    return std::move(e);
  if (Error e = checkEmbeddingRows(src.config, weights))
    return std::move(e);
  return src;
}
