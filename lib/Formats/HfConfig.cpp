//===- HfConfig.cpp - config.json reader ----------------------------------===//
#include "lowbit/Formats/HfConfig.h"
#include "lowbit/Support/Error.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;
using namespace lowbit;

Error ModelConfig::validate(StringRef source) const {
  auto positive = [&](int64_t v, const char *what) -> Error {
    if (v <= 0)
      return fileError(source, "{0} must be positive (got {1})", what, v);
    return Error::success();
  };
  for (auto [v, what] :
       {std::pair<int64_t, const char *>{vocabSize, "vocab_size"},
        {hiddenSize, "hidden_size"},
        {intermediateSize, "intermediate_size"},
        {numLayers, "num_hidden_layers"},
        {numHeads, "num_attention_heads"},
        {numKvHeads, "num_key_value_heads"},
        {headDim, "head_dim"},
        {contextLength, "max_position_embeddings"}})
    if (Error e = positive(v, what))
      return e;
  if (numHeads % numKvHeads)
    return fileError(source, "num_attention_heads {0} is not a multiple of "
                     "num_key_value_heads {1}", numHeads, numKvHeads);
  if (headDim % 2)
    return fileError(source, "head_dim {0} must be even for rotary embeddings",
                     headDim);
  if (!(rmsNormEps > 0))
    return fileError(source, "rms_norm_eps must be positive");
  if (!(ropeTheta > 0))
    return fileError(source, "rope_theta must be positive");
  return Error::success();
}

Expected<ModelConfig> lowbit::readHfConfig(StringRef path) {
  auto buf = MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return fileError(path, "cannot open: {0}", buf.getError().message());
  Expected<json::Value> root = json::parse((*buf)->getBuffer());
  if (!root)
    return fileError(path, "invalid JSON: {0}", toString(root.takeError()));
  const json::Object *obj = root->getAsObject();
  if (!obj)
    return fileError(path, "not a JSON object");

  ModelConfig c;
  std::optional<StringRef> modelType = obj->getString("model_type");
  if (!modelType)
    return fileError(path, "missing required key 'model_type'");
  if (*modelType != "llama" && *modelType != "mistral" && *modelType != "qwen2")
    return fileError(path, "unsupported architecture '{0}' (supported: llama, "
                     "mistral, qwen2)", *modelType);
  c.arch = modelType->str();

  auto requireInt = [&](StringRef key, int64_t &out) -> Error {
    std::optional<int64_t> v = obj->getInteger(key);
    if (!v)
      return fileError(path, "missing required key '{0}'", key);
    out = *v;
    return Error::success();
  };
  for (auto [key, out] :
       {std::pair<StringRef, int64_t *>{"vocab_size", &c.vocabSize},
        {"hidden_size", &c.hiddenSize},
        {"intermediate_size", &c.intermediateSize},
        {"num_hidden_layers", &c.numLayers},
        {"num_attention_heads", &c.numHeads}})
    if (Error e = requireInt(key, *out))
      return std::move(e);

  c.numKvHeads = obj->getInteger("num_key_value_heads").value_or(c.numHeads);
  c.headDim = c.hiddenSize / c.numHeads;
  if (std::optional<int64_t> hd = obj->getInteger("head_dim"))
    c.headDim = *hd;
  c.contextLength = obj->getInteger("max_position_embeddings").value_or(2048);
  if (std::optional<double> eps = obj->getNumber("rms_norm_eps"))
    c.rmsNormEps = *eps;
  else
    return fileError(path, "missing required key 'rms_norm_eps'");

  // transformers 5 nests rope settings under rope_parameters; older files keep
  // rope_theta at the top level. Either is accepted.
  const json::Object *rope = obj->getObject("rope_parameters");
  if (!rope)
    rope = obj->getObject("rope_scaling");
  if (rope) {
    if (std::optional<StringRef> type = rope->getString("rope_type")) {
      if (*type != "default")
        return fileError(path, "unsupported rope scaling type '{0}'", *type);
    } else if (std::optional<StringRef> type = rope->getString("type")) {
      if (*type != "default")
        return fileError(path, "unsupported rope scaling type '{0}'", *type);
    }
    if (std::optional<double> theta = rope->getNumber("rope_theta"))
      c.ropeTheta = *theta;
  }
  if (std::optional<double> theta = obj->getNumber("rope_theta"))
    c.ropeTheta = *theta;

  if (std::optional<StringRef> act = obj->getString("hidden_act"))
    if (*act != "silu")
      return fileError(path, "unsupported activation '{0}' (only silu)", *act);
  if (std::optional<int64_t> bos = obj->getInteger("bos_token_id"))
    c.bosTokenId = *bos;
  if (std::optional<int64_t> eos = obj->getInteger("eos_token_id"))
    c.eosTokenId = *eos;
  c.tieWordEmbeddings = obj->getBoolean("tie_word_embeddings").value_or(false);
  c.attentionBias = obj->getBoolean("attention_bias").value_or(c.arch == "qwen2");
  if (obj->getBoolean("mlp_bias").value_or(false))
    return fileError(path, "mlp_bias = true is not supported");

  if (Error e = c.validate(path))
    return std::move(e);
  return c;
}
