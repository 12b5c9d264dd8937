//===- Sampler.cpp - Greedy, temperature, top-k and top-p -----------------===//
#include "lowbit/Runtime/Sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

using namespace lowbit::rt;

/// splitmix64: a small, seedable generator with the same stream everywhere.
static uint64_t nextRandom(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int32_t lowbit::rt::sampleToken(const float *logits, int64_t vocab,
                                const SamplerOptions &options,
                                uint64_t &rngState) {
  if (options.temperature <= 0.0f)
    return int32_t(std::max_element(logits, logits + vocab) - logits);
  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  int64_t keep = vocab;
  if (options.topK > 0)
    keep = std::min(keep, options.topK);
  std::vector<double> probs(keep);
  double maxLogit = logits[order[0]], sum = 0;
  for (int64_t i = 0; i < keep; ++i)
    sum += probs[i] = std::exp((logits[order[i]] - maxLogit) / options.temperature);
  // Nucleus: the smallest prefix whose probability mass reaches top_p.
  if (options.topP < 1.0f) {
    double mass = 0;
    for (int64_t i = 0; i < keep; ++i) {
      mass += probs[i] / sum;
      if (mass >= options.topP) {
        keep = i + 1;
        break;
      }
    }
    sum = std::accumulate(probs.begin(), probs.begin() + keep, 0.0);
  }
  double r = double(nextRandom(rngState) >> 11) / double(1ull << 53) * sum;
  for (int64_t i = 0; i < keep; ++i) {
    r -= probs[i];
    if (r <= 0)
      return order[i];
  }
  return order[keep - 1];
}
