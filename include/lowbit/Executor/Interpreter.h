//===- Interpreter.h - Reference execution of lowbit IR ---------*- C++ -*-===//
//
// Runs the @forward function of a lowbit module op by op with the fp32
// kernels of Kernels.h. Weights are dequantized to fp32 once, when the
// interpreter is created. The KV cache persists across calls, so generation
// calls forward() with one new position at a time.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_EXECUTOR_INTERPRETER_H
#define LOWBIT_EXECUTOR_INTERPRETER_H

#include "lowbit/Executor/Kernels.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include <functional>
#include "llvm/Support/Error.h"

#include <memory>

namespace lowbit {

class WeightStore;

class Interpreter {
public:
  ~Interpreter();
  /// Prepares `module` (its @forward function) for execution; fails with a
  /// clear error on ops it cannot run or weights the store does not hold.
  static llvm::Expected<std::unique_ptr<Interpreter>>
  create(mlir::ModuleOp module, const WeightStore &weights);

  /// Logits [tokens.size(), vocab] for `tokens` at `positions`.
  llvm::Expected<Activation> forward(llvm::ArrayRef<int32_t> tokens,
                                     llvm::ArrayRef<int32_t> positions);
  void resetCache() { cache.reset(); }

  /// Round each linear's input the way llama.cpp's CPU backend does before
  /// its dot products (Q8_0/Q8_1/Q8_K blocks for quantized weights, f16/bf16
  /// for half-precision ones), so perplexities can be compared with
  /// llama.cpp's to the third decimal. Off by default: the reference
  /// semantics are fp32 activations.
  void setGgmlActivations(bool enable) { ggmlActivations = enable; }

  /// Observer called with the input of every lowbit.linear as it runs
  /// (calibration hooks in here).
  void setLinearObserver(std::function<void(mlir::Operation *, const Activation &)> fn) {
    observer = std::move(fn);
  }

private:
  struct Impl;
  Interpreter();
  std::unique_ptr<Impl> impl;
  KvCache cache;
  bool ggmlActivations = false;
  std::function<void(mlir::Operation *, const Activation &)> observer;
};

} // namespace lowbit

#endif // LOWBIT_EXECUTOR_INTERPRETER_H
