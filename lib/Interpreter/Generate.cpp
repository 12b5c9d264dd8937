//===- Generate.cpp - The decode loop -------------------------------------===//
#include "lowbit/Interpreter/Generate.h"

#include <numeric>

using namespace lowbit;

llvm::Expected<std::vector<int32_t>>
lowbit::generate(Engine &model, llvm::ArrayRef<int32_t> prompt,
                 const SamplingOptions &options,
                 const std::function<void(int32_t)> &onToken) {
  if (prompt.empty())
    return llvm::createStringError("generation needs at least one prompt token");
  model.reset();
  std::vector<int32_t> positions(prompt.size());
  std::iota(positions.begin(), positions.end(), 0);
  rt::Status status = model.forward(prompt.data(), positions.data(),
                                    int64_t(prompt.size()), /*allLogits=*/false);
  if (!status.ok())
    return llvm::createStringError(status.message());
  uint64_t rng = options.seed;
  std::vector<int32_t> out;
  int32_t pos = int32_t(prompt.size());
  for (int64_t i = 0; i < options.maxTokens; ++i) {
    if (options.contextLength > 0 && pos >= options.contextLength)
      break;
    int32_t next = sampleToken(model.logits(), model.vocabSize(), options, rng);
    out.push_back(next);
    if (onToken)
      onToken(next);
    if (next == options.eosId || i + 1 == options.maxTokens)
      break;
    int32_t p = pos++;
    status = model.forward(&next, &p, 1, /*allLogits=*/false);
    if (!status.ok())
      return llvm::createStringError(status.message());
  }
  return out;
}
