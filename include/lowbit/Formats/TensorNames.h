//===- TensorNames.h - Weight names of the two source conventions -*- C++ -*-=//
#ifndef LOWBIT_FORMATS_TENSORNAMES_H
#define LOWBIT_FORMATS_TENSORNAMES_H

#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>

namespace lowbit {

/// The role a weight plays in a Llama-family decoder.
enum class WeightRole {
  Embedding, AttnNorm, Query, Key, Value, AttnOutput, QueryBias, KeyBias,
  ValueBias, FfnNorm, Gate, Up, Down, OutputNorm, Output
};

enum class Naming { HuggingFace, Gguf };

/// The stored name of `role` in layer `layer` (ignored for global weights).
std::string weightName(Naming naming, WeightRole role, int64_t layer = 0);

/// Inverse of weightName: the role and layer of a stored name, if any.
struct ParsedWeightName {
  WeightRole role;
  int64_t layer;
  Naming naming;
};
std::optional<ParsedWeightName> parseWeightName(llvm::StringRef name);

/// Whether `role` is one of a decoder layer's seven linears (q, k, v, o,
/// gate, up, down): the weights GPTQ, AWQ and RTN quantize.
bool isDecoderLinear(WeightRole role);
/// Whether `role` belongs to a decoder layer (linears, biases, norms) rather
/// than to the whole model (embedding, final norm, output head).
bool isLayerWeight(WeightRole role);

} // namespace lowbit

#endif // LOWBIT_FORMATS_TENSORNAMES_H
