//===- GpuQuantizeKernel.cpp - Activations to int8 blocks on the GPU ------===//
//
// The int8 rounding every integer linear reads (docs/gpu.md), in the CPU
// kernels' arithmetic for the same weights (ModelKernels.cpp), so both round
// alike:
// - blocks of 32 (b32, q80, q81): one warp per block, lane i holding value
//   i; d = absmax / 127, q = roundEven(x · (1/d)), the block's absmax and
//   the half-block sums warp reductions;
// - blocks of 256 (q8k): one warp per block, each lane holding 8 values;
//   the value of largest magnitude maps to −127.
//
//===----------------------------------------------------------------------===//
#include "GpuEmitter.h"

#include "lowbit/Codegen/Kernels.h"

#include <string>

using namespace mlir;

namespace lowbit {

namespace {
constexpr int64_t kWarpsPerBlock = 8;

/// A quantize kernel of one warp per block of `values` activations of a
/// token: body(e, lane, token, block) runs where the warp has a block. The
/// whole warp takes the branch together, so the shuffles inside see every
/// lane.
GpuKernelLaunch
emitWarpPerBlock(gpu::GPUModuleOp module, const GpuKernelSpec &spec, int64_t values,
                 llvm::function_ref<void(GpuEmitter &, Value, Value, Value)> body) {
  const int64_t perRow = spec.k / values, items = spec.batch * perRow;
  GpuKernelLaunch launch;
  launch.spec = spec;
  launch.name = gpuKernelName(spec);
  launch.block = {kWarpsPerBlock * kWarpSize, 1, 1};
  launch.grid = {(items + kWarpsPerBlock - 1) / kWarpsPerBlock, 1, 1};

  GpuEmitter e(module, launch.name, 2, int32_t(kWarpsPerBlock * kWarpSize));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value tid = e.threadIndex();
  Value lane = arith::AndIOp::create(b, loc, tid, e.i64c(kWarpSize - 1));
  Value warp = arith::ShRUIOp::create(b, loc, tid, e.i64c(5));
  Value item = e.add(e.mul(e.blockIndex(), kWarpsPerBlock), warp);
  Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, item, e.i64c(items));
  e.when(inRange, [&] {
    body(e, lane, arith::DivUIOp::create(b, loc, item, e.i64c(perRow)),
         arith::RemUIOp::create(b, loc, item, e.i64c(perRow)));
  });
  return launch;
}
} // namespace

GpuKernelLaunch emitGpuQuantizeB32(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t k = spec.k;
  const int64_t xRowBytes = activationRowBytes(k), qRowBytes = quantizedRowBytes(k);
  return emitWarpPerBlock(module, spec, 32, [&](GpuEmitter &e, Value lane, Value token, Value blk) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value x = e.arg(0), xq = e.arg(1);
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
    // ggml's q8_0 and q8_1 store d as f16, and the dot uses that; the codes
    // come from the unrounded 1/d.
    const bool halfScale = spec.rounding != GpuActivationRounding::B32;
    if (halfScale)
      d = arith::ExtFOp::create(b, loc, e.f32(),
                                arith::TruncFOp::create(b, loc, b.getF16Type(), d).getResult());
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
    Value scaledSum = arith::MulFOp::create(b, loc, sum, d);
    Value lowHalf = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, lane,
                                          e.i64c(kWarpSize / 2));
    if (spec.rounding == GpuActivationRounding::Q8_1) {
      // q8_1 keeps one sum per block, rounded to f16: the first half's slot
      // holds it, the second's 0.
      Value whole = arith::AddFOp::create(b, loc, scaledSum, e.shuffleXor(scaledSum, 16));
      whole = arith::ExtFOp::create(b, loc, e.f32(),
                                    arith::TruncFOp::create(b, loc, b.getF16Type(), whole).getResult());
      scaledSum = arith::SelectOp::create(b, loc, lowHalf, whole, zero);
    }
    Value halfStart = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        arith::AndIOp::create(b, loc, lane, e.i64c(kWarpSize / 2 - 1)), e.i64c(0));
    e.when(halfStart, [&] {
      Value half = arith::ShRUIOp::create(b, loc, lane, e.i64c(4));
      Value sums = e.add(row, k + k / 32 * 4);
      e.store(scaledSum, xq, e.add(sums, e.add(e.mul(blk, 8), e.mul(half, 4))), 4);
      Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, e.i64c(0));
      e.when(first, [&] { e.store(d, xq, e.add(e.add(row, k), e.mul(blk, 4)), 4); });
    });
  });
}

GpuKernelLaunch emitGpuQuantizeQ8K(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t k = spec.k, perLane = 8;
  const int64_t xRowBytes = activationRowBytes(k), qRowBytes = quantizedRowBytes(k);
  return emitWarpPerBlock(module, spec, 256, [&](GpuEmitter &e, Value lane, Value token,
                                                  Value super) {
    OpBuilder &b = e.b;
    Location loc = e.loc;
    Value x = e.arg(0), xq = e.arg(1);
    VectorType v4f32 = VectorType::get({4}, e.f32());
    Value first = e.add(e.mul(super, 256), e.mul(lane, perLane)); // the lane's first value
    Value src = e.add(e.mul(token, xRowBytes), e.mul(first, 4));
    SmallVector<Value, 8> v;
    for (int64_t h = 0; h < 2; ++h) {
      Value quad = e.load(v4f32, x, e.add(src, h * 16), 16);
      for (int64_t j = 0; j < 4; ++j)
        v.push_back(e.element(quad, j));
    }
    Value vmax = v[0], vmin = v[0];
    for (int64_t j = 1; j < perLane; ++j) {
      vmax = arith::MaximumFOp::create(b, loc, vmax, v[j]);
      vmin = arith::MinimumFOp::create(b, loc, vmin, v[j]);
    }
    for (int32_t mask = kWarpSize / 2; mask > 0; mask /= 2) {
      vmax = arith::MaximumFOp::create(b, loc, vmax, e.shuffleXor(vmax, mask));
      vmin = arith::MinimumFOp::create(b, loc, vmin, e.shuffleXor(vmin, mask));
    }
    Value negMin = arith::NegFOp::create(b, loc, vmin);
    Value amax = arith::MaximumFOp::create(b, loc, vmax, negMin);
    Value zero = e.f32c(0);
    Value isZero = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, amax, zero);
    Value useMin = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, negMin, vmax);
    Value mx = arith::SelectOp::create(b, loc, useMin, vmin, vmax);
    Value iscale = arith::DivFOp::create(b, loc, e.f32c(-127.0f), mx);
    Value inv = arith::SelectOp::create(b, loc, isZero, zero, iscale);
    Value d = arith::SelectOp::create(b, loc, isZero, zero,
                                      arith::DivFOp::create(b, loc, e.f32c(1.0f), iscale));
    SmallVector<Value, 8> codes;
    Value sum = zero;
    for (Value value : v) {
      Value r = e.call("llvm.roundeven.f32", e.f32(), {arith::MulFOp::create(b, loc, value, inv)});
      r = arith::MinimumFOp::create(b, loc, r, e.f32c(127.0f));
      r = arith::MaximumFOp::create(b, loc, r, e.f32c(-128.0f));
      Value q = arith::FPToSIOp::create(b, loc, e.i32(), r);
      codes.push_back(arith::TruncIOp::create(b, loc, b.getI8Type(), q));
      sum = arith::AddFOp::create(b, loc, sum, arith::SIToFPOp::create(b, loc, e.f32(), q));
    }
    Value row = e.mul(token, qRowBytes);
    e.store(e.vector(codes), xq, e.add(row, first), 8);
    // A half block of 16 values is two lanes.
    sum = arith::AddFOp::create(b, loc, sum, e.shuffleXor(sum, 1));
    Value even = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                       arith::AndIOp::create(b, loc, lane, e.i64c(1)), e.i64c(0));
    e.when(even, [&] {
      Value halfIndex = arith::ShRUIOp::create(b, loc, first, e.i64c(4));
      e.store(arith::MulFOp::create(b, loc, sum, d), xq,
              e.add(e.add(row, k + k / 32 * 4), e.mul(halfIndex, 4)), 4);
      // Each block of 32 (four lanes) gets the super-block's d.
      Value blockStart = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::eq, arith::AndIOp::create(b, loc, lane, e.i64c(3)),
          e.i64c(0));
      e.when(blockStart, [&] {
        Value blk = arith::ShRUIOp::create(b, loc, first, e.i64c(5));
        e.store(d, xq, e.add(e.add(row, k), e.mul(blk, 4)), 4);
      });
    });
  });
}

} // namespace lowbit
