//===- Interpreter.h - Reference execution of lowbit IR ---------*- C++ -*-===//
//
// Runs the @forward function of a lowbit module op by op with the fp32
// kernels of Kernels.h. Weights are dequantized to fp32 once, when the
// interpreter is created, or, streaming, when a run first needs them. The KV cache persists across calls, so generation
// calls forward() with one new position at a time.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_INTERPRETER_INTERPRETER_H
#define LOWBIT_INTERPRETER_INTERPRETER_H

#include "lowbit/Interpreter/Kernels.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include <functional>
#include "llvm/Support/Error.h"

#include <memory>
#include <unordered_map>

namespace lowbit {

class WeightStore;

/// One input part of the way through @forward: its live activations and the
/// next op to run. Layer-by-layer calibration advances many of these a few
/// ops at a time while it quantizes the weights in between.
struct ExecutionFrame {
  std::vector<int32_t> tokens, positions;
  std::unordered_map<const void *, Activation> values;
  size_t nextStep = 0;
  bool finished = false;
  Activation result; // the returned value once finished
};

struct InterpreterOptions {
  /// Widen each weight to fp32 when a run first needs it, not at creation,
  /// and read the embedding and output head a row block at a time. With
  /// releaseWeight, a layer-by-layer pass holds one layer in fp32.
  bool streamWeights = false;
};

class Interpreter {
public:
  ~Interpreter();
  /// Prepares `module` (its @forward function) for execution; fails with a
  /// clear error on ops it cannot run or weights the store does not hold.
  static llvm::Expected<std::unique_ptr<Interpreter>>
  create(mlir::ModuleOp module, const WeightStore &weights,
         InterpreterOptions options = {});

  /// Logits [tokens.size(), vocab] for `tokens` at `positions`.
  llvm::Expected<Activation> forward(llvm::ArrayRef<int32_t> tokens,
                                     llvm::ArrayRef<int32_t> positions);
  void resetCache() { cache.reset(); }

  /// A frame positioned before the first op of @forward.
  ExecutionFrame begin(llvm::ArrayRef<int32_t> tokens,
                       llvm::ArrayRef<int32_t> positions) const;
  /// Runs `frame` up to, not including, `stopBefore` (an op of @forward), or
  /// to the end when it is null or already behind the frame.
  llvm::Error run(ExecutionFrame &frame, mlir::Operation *stopBefore = nullptr);
  /// The live activation `value` of `frame`, or null.
  const Activation *valueOf(const ExecutionFrame &frame, mlir::Value value) const;
  /// The fp32 values of weight `name` as the interpreter uses them; writing
  /// them (same size) changes what later runs compute, e.g. to fake-quantize
  /// a layer before calibrating the next one. Null if there is no such weight.
  std::vector<float> *denseWeight(llvm::StringRef name);
  /// Streaming only: drops weight `name`'s fp32 values and its pages of the
  /// mapped file. A later run that needs it again fails with an error.
  void releaseWeight(llvm::StringRef name);
  /// Streaming only: releases every weight of decoder layers below `layer`
  /// (by their names' layer numbers), for a caller whose frames are all
  /// past them.
  void releaseLayersBefore(int64_t layer);

  /// A frame's position and live activations as bytes, and back (same
  /// module), so a long layer-by-layer run can be resumed after a kill.
  void saveFrame(const ExecutionFrame &frame, std::string &out) const;
  /// Reads one frame saved by saveFrame from the front of `bytes` and
  /// advances it past that frame.
  llvm::Expected<ExecutionFrame> loadFrame(llvm::StringRef &bytes) const;
  /// The weights holding a NaN or an infinity, in @forward order: they run
  /// (and poison what they touch), so a tool should warn about them.
  llvm::ArrayRef<std::string> nonFiniteWeights() const;

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

#endif // LOWBIT_INTERPRETER_INTERPRETER_H
