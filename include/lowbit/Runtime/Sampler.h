//===- Sampler.h - Picking the next token from logits -----------*- C++ -*-===//
#ifndef LOWBIT_RUNTIME_SAMPLER_H
#define LOWBIT_RUNTIME_SAMPLER_H

#include <cstdint>

namespace lowbit {
namespace rt {

struct SamplerOptions {
  float temperature = 0.0f; // 0: greedy (argmax, first on ties)
  int64_t topK = 0;         // 0: no top-k cut
  float topP = 1.0f;        // 1: no nucleus cut
};

/// Picks a token from one row of `vocab` logits; `rngState` (splitmix64) is
/// advanced, so a seed gives the same stream on every machine.
int32_t sampleToken(const float *logits, int64_t vocab,
                    const SamplerOptions &options, uint64_t &rngState);

} // namespace rt
} // namespace lowbit

#endif // LOWBIT_RUNTIME_SAMPLER_H
