//===- Bench.h - Prompt and generation throughput, as llama-bench -*- C++ -*-===//
#ifndef LOWBIT_INTERPRETER_BENCH_H
#define LOWBIT_INTERPRETER_BENCH_H

#include "lowbit/Runtime/Engine.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit {

struct BenchOptions {
  int64_t promptTokens = 512; // pp: one batch of this many tokens (0: skip)
  int64_t genTokens = 128;    // tg: this many single-token steps (0: skip)
  int repetitions = 3;
  /// Tokens already in the cache when each test starts (llama-bench -d):
  /// prefilled, untimed, so tg measures decode at positions depth...
  int64_t depth = 0;
  int64_t bosId = -1; // the first token of every test when >= 0
  uint64_t seed = 1;  // the other tokens are random ids
};

struct BenchResult {
  std::string test; // "pp512", "tg128"
  int64_t tokens = 0;
  std::vector<double> seconds; // one per repetition
  double bestTokensPerSecond() const;
  double meanTokensPerSecond() const;
};

/// llama-bench's two tests, each from an empty cache: pp runs the prompt as
/// one batch (last-token logits), tg decodes one token at a time.
llvm::Expected<std::vector<BenchResult>> runBench(Engine &model,
                                                  const BenchOptions &options);

} // namespace lowbit

#endif // LOWBIT_INTERPRETER_BENCH_H
