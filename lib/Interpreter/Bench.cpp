//===- Bench.cpp - pp and tg timings --------------------------------------===//
#include "lowbit/Interpreter/Bench.h"

#include <algorithm>
#include <chrono>
#include <numeric>

using namespace lowbit;

double BenchResult::bestTokensPerSecond() const {
  if (seconds.empty())
    return 0;
  return double(tokens) / std::max(*std::min_element(seconds.begin(), seconds.end()), 1e-12);
}

double BenchResult::meanTokensPerSecond() const {
  if (seconds.empty())
    return 0;
  double sum = 0;
  for (double s : seconds)
    sum += double(tokens) / std::max(s, 1e-12);
  return sum / double(seconds.size());
}

static std::vector<int32_t> randomTokens(int64_t n, int64_t vocab,
                                         const BenchOptions &options) {
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  uint64_t state = options.seed;
  for (int64_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    tokens[size_t(i)] = int32_t((state >> 33) % uint64_t(vocab));
  }
  if (n > 0 && options.bosId >= 0)
    tokens[0] = int32_t(options.bosId);
  return tokens;
}

static llvm::Error check(const rt::Status &status) {
  return status.ok() ? llvm::Error::success()
                     : llvm::createStringError(status.message());
}

llvm::Expected<std::vector<BenchResult>>
lowbit::runBench(Engine &model, const BenchOptions &options) {
  using Clock = std::chrono::steady_clock;
  const int64_t context = model.contextLength();
  if (options.depth < 0)
    return llvm::createStringError("bench: depth " + std::to_string(options.depth) +
                                   " must not be negative");
  for (int64_t n : {options.promptTokens, options.genTokens})
    if (n < 0 || options.depth + n > context)
      return llvm::createStringError(
          "bench: " + std::to_string(options.depth + n) +
          " tokens (depth and test) do not fit the context of " + std::to_string(context));
  if (options.repetitions < 1)
    return llvm::createStringError("bench: repetitions must be at least 1");

  // Warm up: the first call touches the weights and allocates buffers.
  int32_t first = int32_t(options.bosId >= 0 ? options.bosId : 0), zero = 0;
  model.reset();
  if (llvm::Error e = check(model.forward(&first, &zero, 1, false)))
    return std::move(e);

  // Each test starts from a cache holding `depth` tokens.
  std::vector<int32_t> prefix = randomTokens(options.depth, model.vocabSize(), options);
  std::vector<int32_t> prefixPositions(prefix.size());
  std::iota(prefixPositions.begin(), prefixPositions.end(), 0);
  auto start = [&]() -> llvm::Error {
    model.reset();
    if (prefix.empty())
      return llvm::Error::success();
    return check(model.forward(prefix.data(), prefixPositions.data(),
                               int64_t(prefix.size()), false));
  };
  const int32_t base = int32_t(options.depth);
  std::string suffix = options.depth ? " @ d" + std::to_string(options.depth) : "";

  std::vector<BenchResult> results;
  if (options.promptTokens > 0) {
    BenchResult pp;
    pp.test = "pp" + std::to_string(options.promptTokens) + suffix;
    pp.tokens = options.promptTokens;
    std::vector<int32_t> tokens =
        randomTokens(pp.tokens, model.vocabSize(), options);
    std::vector<int32_t> positions(tokens.size());
    std::iota(positions.begin(), positions.end(), base);
    for (int r = 0; r < options.repetitions; ++r) {
      if (llvm::Error e = start())
        return std::move(e);
      auto startTime = Clock::now();
      if (llvm::Error e = check(model.forward(tokens.data(), positions.data(),
                                              pp.tokens, false)))
        return std::move(e);
      pp.seconds.push_back(
          std::chrono::duration<double>(Clock::now() - startTime).count());
    }
    results.push_back(std::move(pp));
  }
  if (options.genTokens > 0) {
    BenchResult tg;
    tg.test = "tg" + std::to_string(options.genTokens) + suffix;
    tg.tokens = options.genTokens;
    std::vector<int32_t> tokens =
        randomTokens(tg.tokens, model.vocabSize(), options);
    for (int r = 0; r < options.repetitions; ++r) {
      if (llvm::Error e = start())
        return std::move(e);
      auto startTime = Clock::now();
      for (int64_t i = 0; i < tg.tokens; ++i) {
        int32_t position = base + int32_t(i);
        if (llvm::Error e =
                check(model.forward(&tokens[size_t(i)], &position, 1, false)))
          return std::move(e);
      }
      tg.seconds.push_back(
          std::chrono::duration<double>(Clock::now() - startTime).count());
    }
    results.push_back(std::move(tg));
  }
  return results;
}
