//===- GpuEmitter.cpp - Building blocks of generated GPU kernels ----------===//
#include "GpuEmitter.h"
#include "EmitLoop.h"

using namespace mlir;

namespace lowbit {

GpuEmitter::GpuEmitter(gpu::GPUModuleOp module, StringRef name, int pointerArgs,
                       int32_t blockSize)
    : b(module.getContext()), loc(module.getLoc()) {
  b.setInsertionPointToEnd(module.getBody());
  SmallVector<Type> params(pointerArgs, globalPtr());
  func = gpu::GPUFuncOp::create(b, loc, name, b.getFunctionType(params, {}));
  func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  // The block size is fixed per kernel: thread indices get known ranges and
  // ptxas a register budget (.maxntid).
  func.setKnownBlockSizeAttr(b.getDenseI32ArrayAttr({blockSize, 1, 1}));
  b.setInsertionPointToStart(&func.getBody().front());
}

GpuEmitter::~GpuEmitter() { gpu::ReturnOp::create(b, loc); }

Type GpuEmitter::globalPtr() { return LLVM::LLVMPointerType::get(b.getContext(), 1); }

Value GpuEmitter::arg(int i) { return func.getArgument(i); }

Value GpuEmitter::i64c(int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
}
Value GpuEmitter::i32c(int32_t v) {
  return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
}
Value GpuEmitter::f32c(float v) { return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v)); }
Value GpuEmitter::f64c(double v) { return arith::ConstantOp::create(b, loc, b.getF64FloatAttr(v)); }

Value GpuEmitter::threadIndex() {
  Value t = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  return arith::IndexCastUIOp::create(b, loc, i64(), t);
}
Value GpuEmitter::blockIndex() {
  Value t = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  return arith::IndexCastUIOp::create(b, loc, i64(), t);
}

Value GpuEmitter::offset(Value ptr, Value bytes) {
  return LLVM::GEPOp::create(b, loc, globalPtr(), b.getI8Type(), ptr, ValueRange{bytes});
}
Value GpuEmitter::load(Type t, Value ptr, Value bytes, unsigned align) {
  return LLVM::LoadOp::create(b, loc, t, offset(ptr, bytes), align);
}
void GpuEmitter::store(Value v, Value ptr, Value bytes, unsigned align) {
  LLVM::StoreOp::create(b, loc, v, offset(ptr, bytes), align);
}

Value GpuEmitter::add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
Value GpuEmitter::mul(Value a, Value c) { return arith::MulIOp::create(b, loc, a, c); }

Value GpuEmitter::element(Value vec, int64_t i) {
  return LLVM::ExtractElementOp::create(b, loc, vec, i32c(int32_t(i)));
}

Value GpuEmitter::vector(ValueRange elements) {
  auto type = VectorType::get({int64_t(elements.size())}, elements.front().getType());
  Value v = LLVM::PoisonOp::create(b, loc, type);
  for (auto [i, x] : llvm::enumerate(elements))
    v = LLVM::InsertElementOp::create(b, loc, v, x, i32c(int32_t(i)));
  return v;
}

ValueRange GpuEmitter::loop(Value lo, Value hi, int64_t step, ValueRange init,
                        const std::function<SmallVector<Value>(Value, ValueRange)> &body) {
  return emitLoop(b, loc, lo, hi, i64c(step), init, body);
}

void GpuEmitter::when(Value cond, const std::function<void()> &body) {
  auto ifOp = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  body();
}

Value GpuEmitter::shuffleXor(Value v, int32_t mask) {
  return gpu::ShuffleOp::create(b, loc, v, mask, int32_t(kWarpSize), gpu::ShuffleMode::XOR)
      .getShuffleResult();
}

Value GpuEmitter::call(StringRef intrinsic, Type result, ValueRange operands) {
  return LLVM::CallIntrinsicOp::create(b, loc, result, b.getStringAttr(intrinsic), operands)
      .getResult(0);
}

} // namespace lowbit
