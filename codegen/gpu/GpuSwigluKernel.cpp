//===- GpuSwigluKernel.cpp - silu(gate)·up on the GPU ---------------------===//
//
// out = gate / (1 + exp(−gate)) · up per value (docs/gpu.md), in the CPU
// kernel's order of operations (ModelKernels.cpp, swiglu_K). One thread per
// chunk of 4 values (16-byte loads and store). exp is computed here rather
// than through libdevice (which the NVVM conversion would call) or
// ex2.approx (whose product x·log2 e loses accuracy as |x| grows): a range
// reduction to r = x − n·ln 2, |r| <= ln 2 / 2, then e^r by its Taylor
// series: under 1 ulp from e^x wherever e^x is a normal float.
//
//===----------------------------------------------------------------------===//
#include "GpuEmitter.h"

#include <string>

using namespace mlir;

namespace lowbit {

namespace {
constexpr int64_t kThreads = 256;

/// e^x for f32 x.
Value emitExp(GpuEmitter &e, Value x) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  auto fma = [&](Value a, Value c, Value d) { return LLVM::FMAOp::create(b, loc, a, c, d); };
  // Beyond these e^x is inf or 0 in f32 (and n stays where 2^n below is
  // two normal factors); NaN passes through.
  x = arith::MinimumFOp::create(b, loc, x, e.f32c(89.0f));
  x = arith::MaximumFOp::create(b, loc, x, e.f32c(-104.0f));
  Value n = e.call("llvm.roundeven.f32", e.f32(),
                   {arith::MulFOp::create(b, loc, x, e.f32c(0x1.715476p+0f))});
  // ln 2 as a float and the float of the rest: each fma rounds once.
  Value negN = arith::NegFOp::create(b, loc, n);
  Value r = fma(negN, e.f32c(0x1.62e43p-1f), x);
  r = fma(negN, e.f32c(-0x1.05c61p-29f), r);
  // Σ r^i/i! to i = 7: the next term is below 1e-8 of e^r.
  Value p = e.f32c(1.0f / 5040);
  for (float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f})
    p = fma(p, r, e.f32c(c));
  // 2^n as 2^h · 2^(n−h) with h = floor(n/2), each built from its exponent
  // bits: n reaches 129 and −150, beyond one normal factor.
  Value ni = arith::FPToSIOp::create(b, loc, e.i32(), n);
  Value h = arith::ShRSIOp::create(b, loc, ni, e.i32c(1));
  auto pow2 = [&](Value m) {
    Value bits = arith::ShLIOp::create(b, loc, arith::AddIOp::create(b, loc, m, e.i32c(127)),
                                       e.i32c(23));
    return arith::BitcastOp::create(b, loc, e.f32(), bits);
  };
  p = arith::MulFOp::create(b, loc, p, pow2(h));
  return arith::MulFOp::create(b, loc, p, pow2(arith::SubIOp::create(b, loc, ni, h)));
}
} // namespace

GpuKernelLaunch emitGpuSwiglu(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  // K is a multiple of 32: the rows have no padding and the chunks of all
  // rows follow one another.
  const int64_t chunks = spec.batch * spec.k / 4;
  GpuKernelLaunch launch;
  launch.spec = spec;
  launch.name = gpuKernelName(spec);
  launch.block = {kThreads, 1, 1};
  launch.grid = {(chunks + kThreads - 1) / kThreads, 1, 1};

  GpuEmitter e(module, launch.name, 3, int32_t(kThreads));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value gate = e.arg(0), up = e.arg(1), out = e.arg(2);
  VectorType v4f32 = VectorType::get({4}, e.f32());

  Value chunk = e.add(e.mul(e.blockIndex(), kThreads), e.threadIndex());
  auto body = [&] {
    Value off = e.mul(chunk, 16);
    Value g = e.load(v4f32, gate, off, 16), u = e.load(v4f32, up, off, 16);
    SmallVector<Value, 4> ys;
    for (int64_t j = 0; j < 4; ++j) {
      Value gj = e.element(g, j);
      Value ex = emitExp(e, arith::NegFOp::create(b, loc, gj));
      Value silu =
          arith::DivFOp::create(b, loc, gj, arith::AddFOp::create(b, loc, e.f32c(1.0f), ex));
      ys.push_back(arith::MulFOp::create(b, loc, silu, e.element(u, j)));
    }
    e.store(e.vector(ys), out, off, 16);
  };
  if (chunks % kThreads)
    e.when(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, chunk, e.i64c(chunks)),
           body);
  else
    body();
  return launch;
}

} // namespace lowbit
