//===- Engine.h - One interface over the interpreter and the runtime -----===//
//
// Perplexity, generation and benchmarks are written once against Engine and
// run on either the IR interpreter or a compiled artifact's session. Plain
// C++ (no LLVM), so both layers can implement it.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_RUNTIME_ENGINE_H
#define LOWBIT_RUNTIME_ENGINE_H

#include "lowbit/Runtime/Status.h"

#include <cstdint>

namespace lowbit {

class Engine {
public:
  virtual ~Engine() = default;

  /// Runs `n` tokens at `positions` over the KV cache (which keeps them).
  /// With `allLogits`, logits() then holds n rows, else only the last
  /// token's row.
  virtual rt::Status forward(const int32_t *tokens, const int32_t *positions,
                             int64_t n, bool allLogits) = 0;
  /// The logits of the last forward(): [n or 1, vocabSize()] floats, valid
  /// until the next call.
  virtual const float *logits() const = 0;
  virtual int64_t vocabSize() const = 0;
  /// The most positions the KV cache holds.
  virtual int64_t contextLength() const = 0;
  /// Forgets every cached position (position() becomes 0).
  virtual void reset() = 0;
  /// Positions filled so far: one past the highest position run since the
  /// last reset().
  virtual int64_t position() const = 0;

  /// `n` tokens at the next positions; leaves the last token's logits.
  rt::Status prefill(const int32_t *tokens, int64_t n);
  /// One token at the next position.
  rt::Status decode(int32_t token);
};

} // namespace lowbit

#endif // LOWBIT_RUNTIME_ENGINE_H
