//===- EmitLoop.h - scf.for built through the emitter's builder -*- C++ -*-===//
//
// Shared by the CPU and GPU kernel emitters: the body is built with the
// emitter's own OpBuilder (so its helpers keep working inside the loop) and
// yields the values it returns.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_EMITLOOP_H
#define LOWBIT_CODEGEN_EMITLOOP_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

#include <functional>

namespace lowbit {

/// for (iv = lo; iv < hi; iv += step) carrying `init`; returns the results.
inline mlir::ValueRange
emitLoop(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lo, mlir::Value hi, mlir::Value step,
         mlir::ValueRange init,
         const std::function<llvm::SmallVector<mlir::Value>(mlir::Value, mlir::ValueRange)>
             &body) {
  auto forOp = mlir::scf::ForOp::create(
      b, loc, lo, hi, step, init,
      [&](mlir::OpBuilder &nested, mlir::Location, mlir::Value iv, mlir::ValueRange carried) {
        mlir::OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(), nested.getInsertionPoint());
        llvm::SmallVector<mlir::Value> next = body(iv, carried);
        mlir::scf::YieldOp::create(b, loc, next);
      });
  return forOp.getResults();
}

} // namespace lowbit

#endif // LOWBIT_CODEGEN_EMITLOOP_H
