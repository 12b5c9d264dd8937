//===- KernelEmitter.cpp - Building blocks of generated kernels -----------===//
#include "KernelEmitter.h"
#include "EmitLoop.h"

using namespace mlir;
using namespace ::lowbit;

KernelEmitter::KernelEmitter(ModuleOp module, StringRef name)
    : b(module.getContext()), loc(module.getLoc()) {
  b.setInsertionPointToEnd(module.getBody());
  Type i64t = b.getI64Type();
  auto type = b.getFunctionType({ptrType(), i64t, i64t, i64t}, {});
  func = func::FuncOp::create(b, loc, name, type);
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  args = entry->getArgument(0);
  tokens = entry->getArgument(1);
  thread = entry->getArgument(2);
  threads = entry->getArgument(3);
}

KernelEmitter::~KernelEmitter() { func::ReturnOp::create(b, loc); }

Type KernelEmitter::ptrType() { return LLVM::LLVMPointerType::get(b.getContext()); }

Value KernelEmitter::i64c(int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
}
Value KernelEmitter::i32c(int32_t v) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
}
Value KernelEmitter::f32c(float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}
Value KernelEmitter::splat(VectorType t, Value scalar) {
  return vector::BroadcastOp::create(b, loc, t, scalar);
}
Value KernelEmitter::constVec(VectorType t, Attribute element) {
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(t, element));
}

Value KernelEmitter::arg(int i) {
  Value slot = LLVM::GEPOp::create(b, loc, ptrType(), ptrType(), args,
                                   ArrayRef<LLVM::GEPArg>{i});
  return LLVM::LoadOp::create(b, loc, ptrType(), slot);
}

Value KernelEmitter::offset(Value ptr, Value bytes) {
  return LLVM::GEPOp::create(b, loc, ptrType(), b.getI8Type(), ptr,
                             ValueRange{bytes});
}

Value KernelEmitter::load(Type t, Value ptr, Value bytes) {
  return LLVM::LoadOp::create(b, loc, t, offset(ptr, bytes), /*alignment=*/1);
}

void KernelEmitter::store(Value v, Value ptr, Value bytes) {
  LLVM::StoreOp::create(b, loc, v, offset(ptr, bytes), /*alignment=*/1);
}

Value KernelEmitter::add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
Value KernelEmitter::mul(Value a, Value c) { return arith::MulIOp::create(b, loc, a, c); }

ValueRange KernelEmitter::loop(Value lo, Value hi, int64_t step, ValueRange init,
                        const std::function<SmallVector<Value>(Value, ValueRange)> &body) {
  return emitLoop(b, loc, lo, hi, i64c(step), init, body);
}

void KernelEmitter::loop(Value lo, Value hi, const std::function<void(Value)> &body) {
  loop(lo, hi, 1, {}, [&](Value iv, ValueRange) {
    body(iv);
    return SmallVector<Value>{};
  });
}

std::pair<Value, Value> KernelEmitter::threadRange(Value total) {
  Value lo = arith::DivSIOp::create(b, loc, mul(total, thread), threads);
  Value hi = arith::DivSIOp::create(b, loc, mul(total, add(thread, i64c(1))), threads);
  return {lo, hi};
}

Value KernelEmitter::reduceAdd(Value v) {
  // Reassociable: a tree of vector adds, not one scalar add per lane.
  return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, v, Value(),
                                     arith::FastMathFlags::reassoc);
}

Value KernelEmitter::slice(Value v, int64_t off, int64_t n) {
  return vector::ExtractStridedSliceOp::create(b, loc, v, ArrayRef<int64_t>{off},
                                               ArrayRef<int64_t>{n},
                                               ArrayRef<int64_t>{1});
}

Value KernelEmitter::concat(Value a, Value c) {
  int64_t n = cast<VectorType>(a.getType()).getNumElements() +
              cast<VectorType>(c.getType()).getNumElements();
  SmallVector<int64_t> mask;
  for (int64_t i = 0; i < n; ++i)
    mask.push_back(i);
  return vector::ShuffleOp::create(b, loc, a, c, mask);
}

Value KernelEmitter::call(StringRef intrinsic, Type result, ValueRange operands) {
  return LLVM::CallIntrinsicOp::create(b, loc, result, b.getStringAttr(intrinsic),
                                       operands)
      .getResult(0);
}

namespace lowbit {
LinearArgs linearArgs(KernelEmitter &e, bool bias, bool residual) {
  int i = 0;
  LinearArgs a;
  a.x = e.arg(i++);
  a.w = e.arg(i++);
  a.bias = bias ? e.arg(i++) : Value();
  a.residual = residual ? e.arg(i++) : Value();
  a.out = e.arg(i++);
  return a;
}
} // namespace lowbit
