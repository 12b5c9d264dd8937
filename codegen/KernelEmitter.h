//===- KernelEmitter.h - Building blocks of generated kernels ---*- C++ -*-===//
//
// A thin layer over OpBuilder for the kernels: pointer arithmetic and
// unaligned vector loads through the llvm dialect, i64 scf.for loops, and
// the split of a kernel's work among threads.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_KERNELEMITTER_H
#define LOWBIT_CODEGEN_KERNELEMITTER_H

#include "lowbit/Codegen/Kernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

#include <functional>

namespace lowbit {

class KernelEmitter {
public:
  /// Starts kernel `name` at the end of `module`.
  KernelEmitter(mlir::ModuleOp module, llvm::StringRef name);
  ~KernelEmitter();

  mlir::OpBuilder b;
  mlir::Location loc;
  mlir::Value args, tokens, thread, threads;

  mlir::Type f32() { return b.getF32Type(); }
  mlir::Type i64() { return b.getI64Type(); }
  mlir::Type ptrType();
  mlir::VectorType vec(int64_t n, mlir::Type t) { return mlir::VectorType::get({n}, t); }

  mlir::Value i64c(int64_t v);
  mlir::Value i32c(int32_t v);
  mlir::Value f32c(float v);
  mlir::Value splat(mlir::VectorType t, mlir::Value scalar);
  mlir::Value constVec(mlir::VectorType t, mlir::Attribute element);

  /// The pointer args[i].
  mlir::Value arg(int i);
  /// ptr + byteOffset.
  mlir::Value offset(mlir::Value ptr, mlir::Value bytes);
  mlir::Value offset(mlir::Value ptr, int64_t bytes) { return offset(ptr, i64c(bytes)); }
  /// Unaligned loads and stores of scalars or vectors.
  mlir::Value load(mlir::Type t, mlir::Value ptr, mlir::Value bytes);
  mlir::Value load(mlir::Type t, mlir::Value ptr, int64_t bytes) {
    return load(t, ptr, i64c(bytes));
  }
  void store(mlir::Value v, mlir::Value ptr, mlir::Value bytes);

  mlir::Value add(mlir::Value a, mlir::Value c);
  mlir::Value mul(mlir::Value a, mlir::Value c);
  mlir::Value mul(mlir::Value a, int64_t c) { return mul(a, i64c(c)); }

  /// for (i = lo; i < hi; i += step) with loop-carried values.
  mlir::ValueRange loop(mlir::Value lo, mlir::Value hi, int64_t step,
                        mlir::ValueRange init,
                        const std::function<llvm::SmallVector<mlir::Value>(
                            mlir::Value, mlir::ValueRange)> &body);
  void loop(mlir::Value lo, mlir::Value hi,
            const std::function<void(mlir::Value)> &body);
  /// [lo, hi) of `total` items for this thread.
  std::pair<mlir::Value, mlir::Value> threadRange(mlir::Value total);

  /// Sum of the lanes of a float vector.
  mlir::Value reduceAdd(mlir::Value v);
  /// Elements [offset, offset + n) of a vector.
  mlir::Value slice(mlir::Value v, int64_t offset, int64_t n);
  /// a ++ c.
  mlir::Value concat(mlir::Value a, mlir::Value c);
  mlir::Value call(llvm::StringRef intrinsic, mlir::Type result,
                   mlir::ValueRange operands);

private:
  mlir::func::FuncOp func;
};

/// The arguments of a linear kernel: x, W, [bias], [residual], out.
struct LinearArgs {
  mlir::Value x, w, bias, residual, out;
};
LinearArgs linearArgs(KernelEmitter &e, bool bias, bool residual);

/// The body of a linear kernel over a row-interleaved Integer weight
/// (InterleavedLinearKernel.cpp); arguments as KernelBuilder::linear.
void emitInterleavedLinear(KernelEmitter &e, const PackedLayout &layout,
                           const CpuTarget &target, bool bias, bool residual);

} // namespace lowbit

#endif // LOWBIT_CODEGEN_KERNELEMITTER_H
