//===- Generate.cpp - Sampling and the decode loop ------------------------===//
#include "lowbit/Executor/Generate.h"
#include "lowbit/Executor/Interpreter.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace lowbit;

/// splitmix64: a small, seedable generator with the same stream everywhere.
static uint64_t nextRandom(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int32_t lowbit::sampleToken(const float *logits, int64_t vocab,
                            const SamplingOptions &options,
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

llvm::Expected<std::vector<int32_t>>
lowbit::generate(Interpreter &model, llvm::ArrayRef<int32_t> prompt,
                 const SamplingOptions &options,
                 const std::function<void(int32_t)> &onToken) {
  if (prompt.empty())
    return llvm::createStringError("generation needs at least one prompt token");
  model.resetCache();
  std::vector<int32_t> positions(prompt.size());
  std::iota(positions.begin(), positions.end(), 0);
  llvm::Expected<Activation> logits = model.forward(prompt, positions);
  if (!logits)
    return logits.takeError();
  uint64_t rng = options.seed;
  std::vector<int32_t> out;
  int32_t pos = int32_t(prompt.size());
  const float *last = logits->row(logits->rows - 1);
  for (int64_t i = 0; i < options.maxTokens; ++i) {
    if (options.contextLength > 0 && pos >= options.contextLength)
      break;
    int32_t next = sampleToken(last, logits->cols, options, rng);
    out.push_back(next);
    if (onToken)
      onToken(next);
    if (next == options.eosId || i + 1 == options.maxTokens)
      break;
    int32_t p = pos++;
    logits = model.forward({next}, {p});
    if (!logits)
      return logits.takeError();
    last = logits->row(0);
  }
  return out;
}
