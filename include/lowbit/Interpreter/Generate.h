//===- Generate.h - Autoregressive decoding with a KV cache -----*- C++ -*-===//
#ifndef LOWBIT_INTERPRETER_GENERATE_H
#define LOWBIT_INTERPRETER_GENERATE_H

#include "lowbit/Runtime/Engine.h"
#include "lowbit/Runtime/Sampler.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace lowbit {

struct SamplingOptions {
  int64_t maxTokens = 32;
  float temperature = 0.0f; // 0: greedy (argmax)
  int64_t topK = 0;         // 0: no top-k cut
  float topP = 1.0f;        // 1: no nucleus cut
  uint64_t seed = 0;
  int64_t eosId = -1;       // stop when sampled (-1: never)
  int64_t contextLength = 0; // stop before exceeding (0: no limit)
};

/// Picks the next token from one row of logits (the runtime's sampler, so
/// the interpreter and compiled artifacts sample alike).
inline int32_t sampleToken(const float *logits, int64_t vocab,
                           const SamplingOptions &options, uint64_t &rngState) {
  rt::SamplerOptions sampler;
  sampler.temperature = options.temperature;
  sampler.topK = options.topK;
  sampler.topP = options.topP;
  return rt::sampleToken(logits, vocab, sampler, rngState);
}

/// Prefills `prompt` from an empty cache, then samples up to maxTokens
/// tokens one at a time, calling `onToken` after each. Returns the
/// generated ids.
llvm::Expected<std::vector<int32_t>>
generate(Engine &model, llvm::ArrayRef<int32_t> prompt,
         const SamplingOptions &options,
         const std::function<void(int32_t)> &onToken = nullptr);

} // namespace lowbit

#endif // LOWBIT_INTERPRETER_GENERATE_H
