//===- HfConfig.cpp - config.json reader ----------------------------------===//
#include "lowbit/Formats/HfConfig.h"
#include "lowbit/Formats/JsonKeys.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Support/Error.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <limits>

using namespace llvm;
using namespace lowbit;

/// The key a field has in config.json, or in GGUF metadata when `ggufArch`
/// is set, so a message names what the user can find in the file.
static std::string keyName(StringRef hfKey, StringRef ggufArch) {
  if (ggufArch.empty())
    return hfKey.str();
  static const std::pair<StringRef, StringRef> kGgufKeys[] = {
      {"vocab_size", "vocab_size"},
      {"hidden_size", "embedding_length"},
      {"intermediate_size", "feed_forward_length"},
      {"num_hidden_layers", "block_count"},
      {"num_attention_heads", "attention.head_count"},
      {"num_key_value_heads", "attention.head_count_kv"},
      {"head_dim", "attention.key_length"},
      {"max_position_embeddings", "context_length"},
      {"rms_norm_eps", "attention.layer_norm_rms_epsilon"},
      {"rope_theta", "rope.freq_base"}};
  for (auto [hf, gguf] : kGgufKeys)
    if (hf == hfKey)
      return (ggufArch + "." + gguf).str();
  if (hfKey == "bos_token_id" || hfKey == "eos_token_id")
    return ("tokenizer.ggml." + hfKey).str();
  return hfKey.str();
}

Error ModelConfig::validate(StringRef source, StringRef ggufArch) const {
  auto key = [&](StringRef hfKey) { return keyName(hfKey, ggufArch); };
  // Sizes become tensor dimensions, loop bounds and divisors: they must be
  // positive, and small enough that the products the model forms from them
  // (heads * head_dim, rows * columns) cannot overflow.
  constexpr int64_t kMaxSize = std::numeric_limits<int32_t>::max();
  for (auto [v, what] :
       {std::pair<int64_t, const char *>{vocabSize, "vocab_size"},
        {hiddenSize, "hidden_size"},
        {intermediateSize, "intermediate_size"},
        {numLayers, "num_hidden_layers"},
        {numHeads, "num_attention_heads"},
        {numKvHeads, "num_key_value_heads"},
        {headDim, "head_dim"},
        {contextLength, "max_position_embeddings"}}) {
    if (v <= 0)
      return fileError(source, "{0} must be positive (got {1})", key(what), v);
    if (v > kMaxSize)
      return fileError(source, "{0} {1} is too large (at most {2})", key(what),
                       v, kMaxSize);
  }
  if (numHeads % numKvHeads)
    return fileError(source, "{0} {1} is not a multiple of {2} {3}",
                     key("num_attention_heads"), numHeads,
                     key("num_key_value_heads"), numKvHeads);
  if (headDim % 2)
    return fileError(source, "{0} {1} must be even for rotary embeddings",
                     key("head_dim"), headDim);
  if (numHeads * headDim > kMaxSize)
    return fileError(source, "{0} * {1} = {2} is too large (at most {3})",
                     key("num_attention_heads"), key("head_dim"),
                     numHeads * headDim, kMaxSize);
  // `!(x > 0)` also rejects NaN.
  auto shortest = [](double v) {
    std::string text;
    raw_string_ostream(text) << format("%g", v);
    return text;
  };
  if (!(rmsNormEps > 0) || !std::isfinite(rmsNormEps))
    return fileError(source, "{0} must be positive and finite (got {1})",
                     key("rms_norm_eps"), shortest(rmsNormEps));
  if (!(ropeTheta > 0) || !std::isfinite(ropeTheta))
    return fileError(source, "{0} must be positive and finite (got {1})",
                     key("rope_theta"), shortest(ropeTheta));
  for (auto [id, what] : {std::pair<int64_t, const char *>{bosTokenId, "bos_token_id"},
                          {eosTokenId, "eos_token_id"}})
    if (id < -1 || id >= vocabSize)
      return fileError(source, "{0} {1} is outside the vocabulary [0, {2})",
                       key(what), id, vocabSize);
  return Error::success();
}

Expected<ModelConfig> lowbit::readHfConfig(StringRef path) {
  auto buf = readInputFile(path, /*IsText=*/true);
  if (!buf)
    return fileError(path, "cannot open: {0}", buf.getError().message());
  return parseHfConfig((*buf)->getBuffer(), path);
}

Expected<ModelConfig> lowbit::parseHfConfig(StringRef text, StringRef path) {
  Expected<json::Value> root = json::parse(text);
  if (!root)
    return fileError(path, "invalid JSON: {0}", toString(root.takeError()));
  const json::Object *obj = root->getAsObject();
  if (!obj)
    return fileError(path, "not a JSON object");

  ModelConfig c;
  JsonKeys keys(path, *obj);
  std::optional<StringRef> modelType;
  if (Error e = keys.string("model_type", modelType, /*required=*/true))
    return std::move(e);
  if (*modelType != "llama" && *modelType != "mistral" && *modelType != "qwen2")
    return fileError(path, "unsupported architecture '{0}' (supported: llama, "
                     "mistral, qwen2)", *modelType);
  c.arch = modelType->str();

  for (auto [key, out] :
       {std::pair<StringRef, int64_t *>{"vocab_size", &c.vocabSize},
        {"hidden_size", &c.hiddenSize},
        {"intermediate_size", &c.intermediateSize},
        {"num_hidden_layers", &c.numLayers},
        {"num_attention_heads", &c.numHeads}})
    if (Error e = keys.integer(key, *out, /*required=*/true))
      return std::move(e);

  c.numKvHeads = c.numHeads;
  c.headDim = 0;
  if (Error e = keys.integer("num_key_value_heads", c.numKvHeads))
    return std::move(e);
  if (Error e = keys.integer("head_dim", c.headDim))
    return std::move(e);
  // Without head_dim the heads split hidden_size evenly; validate() reports
  // a non-positive head count before anything divides by it.
  if (!c.headDim && c.numHeads > 0) {
    if (c.hiddenSize % c.numHeads)
      return fileError(path, "hidden_size {0} is not a multiple of "
                       "num_attention_heads {1} (and there is no head_dim)",
                       c.hiddenSize, c.numHeads);
    c.headDim = c.hiddenSize / c.numHeads;
  }
  if (Error e = keys.integer("max_position_embeddings", c.contextLength))
    return std::move(e);
  if (Error e = keys.number("rms_norm_eps", c.rmsNormEps, /*required=*/true))
    return std::move(e);

  // transformers 5 nests rope settings under rope_parameters; older files keep
  // rope_theta at the top level. Either is accepted.
  const json::Object *rope = nullptr;
  StringRef ropeKey = "rope_parameters";
  if (Error e = keys.object(ropeKey, rope))
    return std::move(e);
  if (!rope) {
    ropeKey = "rope_scaling";
    if (Error e = keys.object(ropeKey, rope))
      return std::move(e);
  }
  if (rope) {
    JsonKeys ropeKeys(path, *rope, ropeKey);
    std::optional<StringRef> type;
    if (Error e = ropeKeys.string("rope_type", type))
      return std::move(e);
    if (!type)
      if (Error e = ropeKeys.string("type", type))
        return std::move(e);
    if (type && *type != "default")
      return fileError(path, "unsupported rope scaling type '{0}'", *type);
    if (Error e = ropeKeys.number("rope_theta", c.ropeTheta))
      return std::move(e);
  }
  if (Error e = keys.number("rope_theta", c.ropeTheta))
    return std::move(e);

  std::optional<StringRef> act;
  if (Error e = keys.string("hidden_act", act))
    return std::move(e);
  if (act && *act != "silu")
    return fileError(path, "unsupported activation '{0}' (only silu)", *act);
  if (Error e = keys.tokenId("bos_token_id", c.bosTokenId))
    return std::move(e);
  if (Error e = keys.tokenId("eos_token_id", c.eosTokenId))
    return std::move(e);
  c.attentionBias = c.arch == "qwen2";
  bool mlpBias = false;
  if (Error e = keys.boolean("tie_word_embeddings", c.tieWordEmbeddings))
    return std::move(e);
  if (Error e = keys.boolean("attention_bias", c.attentionBias))
    return std::move(e);
  if (Error e = keys.boolean("mlp_bias", mlpBias))
    return std::move(e);
  if (mlpBias)
    return fileError(path, "mlp_bias = true is not supported");

  if (Error e = c.validate(path))
    return std::move(e);
  return c;
}
