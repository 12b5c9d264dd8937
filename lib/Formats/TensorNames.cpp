//===- TensorNames.cpp - HF <-> GGUF tensor names (formats.md §2.5) -------===//
#include "lowbit/Formats/TensorNames.h"

#include "llvm/ADT/Twine.h"

using namespace lowbit;

namespace {
struct NamePair {
  WeightRole role;
  bool perLayer;
  const char *hf;   // suffix after "model.layers.N." for per-layer weights
  const char *gguf; // suffix after "blk.N."
};
const NamePair kNames[] = {
    {WeightRole::Embedding, false, "model.embed_tokens.weight", "token_embd.weight"},
    {WeightRole::OutputNorm, false, "model.norm.weight", "output_norm.weight"},
    {WeightRole::Output, false, "lm_head.weight", "output.weight"},
    {WeightRole::AttnNorm, true, "input_layernorm.weight", "attn_norm.weight"},
    {WeightRole::Query, true, "self_attn.q_proj.weight", "attn_q.weight"},
    {WeightRole::Key, true, "self_attn.k_proj.weight", "attn_k.weight"},
    {WeightRole::Value, true, "self_attn.v_proj.weight", "attn_v.weight"},
    {WeightRole::AttnOutput, true, "self_attn.o_proj.weight", "attn_output.weight"},
    {WeightRole::QueryBias, true, "self_attn.q_proj.bias", "attn_q.bias"},
    {WeightRole::KeyBias, true, "self_attn.k_proj.bias", "attn_k.bias"},
    {WeightRole::ValueBias, true, "self_attn.v_proj.bias", "attn_v.bias"},
    {WeightRole::FfnNorm, true, "post_attention_layernorm.weight", "ffn_norm.weight"},
    {WeightRole::Gate, true, "mlp.gate_proj.weight", "ffn_gate.weight"},
    {WeightRole::Up, true, "mlp.up_proj.weight", "ffn_up.weight"},
    {WeightRole::Down, true, "mlp.down_proj.weight", "ffn_down.weight"},
};
} // namespace

std::string lowbit::weightName(Naming naming, WeightRole role, int64_t layer) {
  for (const NamePair &n : kNames) {
    if (n.role != role)
      continue;
    const char *suffix = naming == Naming::HuggingFace ? n.hf : n.gguf;
    if (!n.perLayer)
      return suffix;
    return ((naming == Naming::HuggingFace ? "model.layers." : "blk.") +
            llvm::Twine(layer) + "." + suffix)
        .str();
  }
  return "";
}

std::optional<ParsedWeightName> lowbit::parseWeightName(llvm::StringRef name) {
  for (const NamePair &n : kNames) {
    if (!n.perLayer) {
      if (name == n.hf)
        return ParsedWeightName{n.role, 0, Naming::HuggingFace};
      if (name == n.gguf)
        return ParsedWeightName{n.role, 0, Naming::Gguf};
      continue;
    }
    for (Naming naming : {Naming::HuggingFace, Naming::Gguf}) {
      llvm::StringRef rest = name;
      if (!rest.consume_front(naming == Naming::HuggingFace ? "model.layers."
                                                            : "blk."))
        continue;
      auto [num, tail] = rest.split('.');
      int64_t layer;
      if (num.getAsInteger(10, layer))
        continue;
      if (tail == (naming == Naming::HuggingFace ? n.hf : n.gguf))
        return ParsedWeightName{n.role, layer, naming};
    }
  }
  return std::nullopt;
}

bool lowbit::isDecoderLinear(WeightRole role) {
  switch (role) {
  case WeightRole::Query: case WeightRole::Key: case WeightRole::Value:
  case WeightRole::AttnOutput: case WeightRole::Gate: case WeightRole::Up:
  case WeightRole::Down:
    return true;
  default:
    return false;
  }
}

bool lowbit::isLayerWeight(WeightRole role) {
  for (const NamePair &n : kNames)
    if (n.role == role)
      return n.perLayer;
  return false;
}
