//===- InterpreterEngine.cpp - The interpreter behind Engine --------------===//
#include "lowbit/Interpreter/InterpreterEngine.h"

#include <algorithm>

using namespace lowbit;

rt::Status InterpreterEngine::forward(const int32_t *tokens,
                                      const int32_t *positions, int64_t n,
                                      bool allLogits) {
  if (n < 1)
    return rt::Status::error("forward needs at least one token");
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return rt::Status::error("token id " + std::to_string(tokens[i]) +
                               " is outside the vocabulary [0, " +
                               std::to_string(vocab) + ")");
    if (positions[i] < 0 || positions[i] >= context)
      return rt::Status::error("position " + std::to_string(positions[i]) +
                               " is outside the context [0, " +
                               std::to_string(context) + ")");
  }
  llvm::Expected<Activation> out = interpreter.forward(
      llvm::ArrayRef<int32_t>(tokens, size_t(n)),
      llvm::ArrayRef<int32_t>(positions, size_t(n)));
  if (!out)
    return rt::Status::error(llvm::toString(out.takeError()));
  last = std::move(*out);
  allRows = allLogits;
  for (int64_t i = 0; i < n; ++i)
    filled = std::max<int64_t>(filled, int64_t(positions[i]) + 1);
  return rt::Status::success();
}

const float *InterpreterEngine::logits() const {
  if (last.rows == 0)
    return nullptr;
  return allRows ? last.row(0) : last.row(last.rows - 1);
}
