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

void GpuEmitter::forEachItem(int64_t total, int64_t threads,
                             const std::function<void(Value)> &body) {
  Value item = add(mul(blockIndex(), threads), threadIndex());
  if (total % threads == 0)
    return body(item);
  when(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, item, i64c(total)),
       [&] { body(item); });
}

GpuKernelLaunch gpuLaunch(const GpuKernelSpec &spec, int64_t blocks, int64_t threads) {
  GpuKernelLaunch launch;
  launch.spec = spec;
  launch.name = gpuKernelName(spec);
  launch.block = {threads, 1, 1};
  launch.grid = {blocks, 1, 1};
  return launch;
}

// Computed here rather than through libdevice (which the NVVM conversion
// would call) or ex2.approx (whose product x·log2 e loses accuracy as |x|
// grows): a range reduction to r = x − n·ln 2, |r| <= ln 2 / 2, then e^r by
// its Taylor series: within 1 ulp of the correctly rounded e^x wherever that
// is a normal float.
Value GpuEmitter::exp(Value x) {
  auto fma = [&](Value a, Value c, Value d) { return LLVM::FMAOp::create(b, loc, a, c, d); };
  // Beyond these e^x is inf or 0 in f32 (and n stays where 2^n below is
  // two normal factors); NaN passes through.
  x = arith::MinimumFOp::create(b, loc, x, f32c(89.0f));
  x = arith::MaximumFOp::create(b, loc, x, f32c(-104.0f));
  Value n =
      call("llvm.roundeven.f32", f32(), {arith::MulFOp::create(b, loc, x, f32c(0x1.715476p+0f))});
  // ln 2 as a float and the float of the rest: each fma rounds once.
  Value negN = arith::NegFOp::create(b, loc, n);
  Value r = fma(negN, f32c(0x1.62e43p-1f), x);
  r = fma(negN, f32c(-0x1.05c61p-29f), r);
  // Σ r^i/i! to i = 7: the next term is below 1e-8 of e^r.
  Value p = f32c(1.0f / 5040);
  for (float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f})
    p = fma(p, r, f32c(c));
  // 2^n as 2^h · 2^(n−h) with h = floor(n/2), each built from its exponent
  // bits: n reaches 129 and −150, beyond one normal factor.
  Value ni = arith::FPToSIOp::create(b, loc, i32(), n);
  Value h = arith::ShRSIOp::create(b, loc, ni, i32c(1));
  auto pow2 = [&](Value m) {
    Value bits = arith::ShLIOp::create(b, loc, arith::AddIOp::create(b, loc, m, i32c(127)),
                                       i32c(23));
    return arith::BitcastOp::create(b, loc, f32(), bits);
  };
  p = arith::MulFOp::create(b, loc, p, pow2(h));
  return arith::MulFOp::create(b, loc, p, pow2(arith::SubIOp::create(b, loc, ni, h)));
}

} // namespace lowbit
