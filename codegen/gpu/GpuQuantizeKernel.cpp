//===- GpuQuantizeKernel.cpp - Activations to int8 blocks on the GPU ------===//
//
// The int8 rounding every integer linear reads (docs/gpu.md): one warp per
// block of 32 values, lane i holding value i. The block's absmax and the
// half-block sums are warp reductions; the arithmetic is the CPU kernels'
// (d = absmax / 127, q = roundEven(x · (1/d))), so both round alike.
//
//===----------------------------------------------------------------------===//
#include "GpuEmitter.h"

#include "lowbit/Codegen/Kernels.h"

#include <string>

using namespace mlir;

namespace lowbit {

namespace {
constexpr int64_t kWarpsPerBlock = 8;
} // namespace

GpuKernelLaunch emitGpuQuantizeB32(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t k = spec.k, batch = spec.batch;
  GpuKernelLaunch launch;
  launch.spec = spec;
  launch.name = gpuKernelName(spec);
  const int64_t items = batch * (k / 32);
  launch.block = {kWarpsPerBlock * kWarpSize, 1, 1};
  launch.grid = {(items + kWarpsPerBlock - 1) / kWarpsPerBlock, 1, 1};

  GpuEmitter e(module, launch.name, 2, int32_t(kWarpsPerBlock * kWarpSize));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value x = e.arg(0), xq = e.arg(1);
  const int64_t xRowBytes = activationRowBytes(k), qRowBytes = quantizedRowBytes(k);

  Value tid = e.threadIndex();
  Value lane = arith::AndIOp::create(b, loc, tid, e.i64c(kWarpSize - 1));
  Value warp = arith::ShRUIOp::create(b, loc, tid, e.i64c(5));
  Value item = e.add(e.mul(e.blockIndex(), kWarpsPerBlock), warp);
  // The whole warp takes the branch together, so the shuffles inside see
  // every lane.
  Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, item, e.i64c(items));
  e.when(inRange, [&] {
    Value token = arith::DivUIOp::create(b, loc, item, e.i64c(k / 32));
    Value blk = arith::RemUIOp::create(b, loc, item, e.i64c(k / 32));
    Value value = e.add(e.mul(blk, 32), lane);
    Value v = e.load(e.f32(), x, e.add(e.mul(token, xRowBytes), e.mul(value, 4)), 4);
    // |v| as max(v, -v): the NVVM conversion takes no llvm.intr.fabs.
    Value amax = arith::MaximumFOp::create(b, loc, v, arith::NegFOp::create(b, loc, v));
    for (int32_t mask = kWarpSize / 2; mask > 0; mask /= 2)
      amax = arith::MaximumFOp::create(b, loc, amax, e.shuffleXor(amax, mask));
    Value zero = e.f32c(0);
    Value d = arith::DivFOp::create(b, loc, amax, e.f32c(127.0f));
    Value isZero = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, amax, zero);
    Value inv = arith::SelectOp::create(b, loc, isZero, zero,
                                        arith::DivFOp::create(b, loc, e.f32c(1.0f), d));
    // Through llvm.call_intrinsic: the NVVM conversion would send
    // llvm.intr.roundeven to libdevice; NVPTX selects cvt.rni for it.
    Value r = e.call("llvm.roundeven.f32", e.f32(), {arith::MulFOp::create(b, loc, v, inv)});
    r = arith::MinimumFOp::create(b, loc, r, e.f32c(127.0f));
    r = arith::MaximumFOp::create(b, loc, r, e.f32c(-128.0f));
    Value q = arith::FPToSIOp::create(b, loc, e.i32(), r);
    Value row = e.mul(token, qRowBytes);
    e.store(arith::TruncIOp::create(b, loc, b.getI8Type(), q), xq, e.add(row, value), 1);
    // Σq over each half: masks below 16 keep the halves apart.
    Value sum = arith::SIToFPOp::create(b, loc, e.f32(), q);
    for (int32_t mask = kWarpSize / 4; mask > 0; mask /= 2)
      sum = arith::AddFOp::create(b, loc, sum, e.shuffleXor(sum, mask));
    Value halfStart = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        arith::AndIOp::create(b, loc, lane, e.i64c(kWarpSize / 2 - 1)), e.i64c(0));
    e.when(halfStart, [&] {
      Value half = arith::ShRUIOp::create(b, loc, lane, e.i64c(4));
      Value sums = e.add(row, k + k / 32 * 4);
      e.store(arith::MulFOp::create(b, loc, sum, d), xq,
              e.add(sums, e.add(e.mul(blk, 8), e.mul(half, 4))), 4);
      Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, e.i64c(0));
      e.when(first, [&] { e.store(d, xq, e.add(e.add(row, k), e.mul(blk, 4)), 4); });
    });
  });
  return launch;
}

} // namespace lowbit
