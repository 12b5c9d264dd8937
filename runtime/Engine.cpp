//===- Engine.cpp - Prefill and decode over any engine's forward() -------===//
#include "lowbit/Runtime/Engine.h"

#include <string>
#include <vector>

using lowbit::rt::Status;

Status lowbit::Engine::prefill(const int32_t *tokens, int64_t n) {
  if (n < 1)
    return Status::error("prefill needs at least one token");
  const int64_t at = position(), context = contextLength();
  if (at + n > context)
    return Status::error("prefill of " + std::to_string(n) + " tokens at position " +
                         std::to_string(at) + " overflows the session's context of " +
                         std::to_string(context));
  std::vector<int32_t> positions(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    positions[size_t(i)] = int32_t(at + i);
  return forward(tokens, positions.data(), n, false);
}

Status lowbit::Engine::decode(int32_t token) {
  const int64_t at = position();
  if (at >= contextLength())
    return Status::error("the session's context of " + std::to_string(contextLength()) +
                         " positions is full");
  int32_t p = int32_t(at);
  return forward(&token, &p, 1, false);
}
