//===- GpuRmsNormKernel.cpp - RMS normalization on the GPU ----------------===//
//
// out = x · (1/sqrt(mean(x²) + ε)) · weight per token row (docs/gpu.md),
// with the CPU kernel's arithmetic (ModelKernels.cpp, rms_norm_K_ε): Σx² by
// fma, the mean a division by K, 1/sqrt as a correctly rounded square root
// and division, then the two products in that order. One block per row:
// each thread keeps its chunks of 4 values in registers from the sum to the
// products, so x is read once, and the warps' sums meet in shared memory.
//
//===----------------------------------------------------------------------===//
#include "GpuEmitter.h"

#include "lowbit/Codegen/Kernels.h"

#include <algorithm>
#include <string>

using namespace mlir;

namespace lowbit {

namespace {
// Chunks of 4 values (16-byte loads) each thread holds; wider rows get more
// threads, up to a block of 1024.
constexpr int64_t kMaxChunksPerThread = 4;
constexpr int64_t kMaxThreads = 1024;
} // namespace

GpuKernelLaunch emitGpuRmsNorm(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t k = spec.k, chunks = k / 4;
  int64_t threads = std::min<int64_t>(256, (chunks + kWarpSize - 1) / kWarpSize * kWarpSize);
  while ((chunks + threads - 1) / threads > kMaxChunksPerThread && threads < kMaxThreads)
    threads *= 2;
  const int64_t perThread = (chunks + threads - 1) / threads, warps = threads / kWarpSize;
  GpuKernelLaunch launch = gpuLaunch(spec, spec.batch, threads);

  // One partial sum per warp.
  OpBuilder mb(module.getContext());
  mb.setInsertionPointToStart(module.getBody());
  std::string smemName = launch.name + "_partials";
  LLVM::GlobalOp::create(mb, module.getLoc(), LLVM::LLVMArrayType::get(mb.getF32Type(), warps),
                         /*isConstant=*/false, LLVM::Linkage::Internal, smemName, Attribute(),
                         /*alignment=*/16, /*addrSpace=*/3);

  GpuEmitter e(module, launch.name, 3, int32_t(threads));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value x = e.arg(0), w = e.arg(1), out = e.arg(2);
  VectorType v4f32 = VectorType::get({4}, e.f32());

  Value tid = e.threadIndex();
  Value lane = arith::AndIOp::create(b, loc, tid, e.i64c(kWarpSize - 1));
  Value warp = arith::ShRUIOp::create(b, loc, tid, e.i64c(5));
  Value row = e.mul(e.blockIndex(), activationRowBytes(k));

  // Thread t's chunks are t, t + threads, ...; in a last, partial step the
  // threads past the row's end load its last chunk again, count nothing and
  // store nothing.
  SmallVector<Value> offsets, live, xs, ws;
  for (int64_t p = 0; p < perThread; ++p) {
    Value c = e.add(tid, p * threads);
    Value inRow;
    if ((p + 1) * threads > chunks) {
      inRow = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, c, e.i64c(chunks));
      c = arith::MinUIOp::create(b, loc, c, e.i64c(chunks - 1));
    }
    Value off = e.mul(c, 16);
    offsets.push_back(off);
    live.push_back(inRow);
    xs.push_back(e.load(v4f32, x, e.add(row, off), 16));
    ws.push_back(e.load(v4f32, w, off, 16));
  }

  Value zero = e.f32c(0), sum = zero;
  for (int64_t p = 0; p < perThread; ++p)
    for (int64_t j = 0; j < 4; ++j) {
      Value v = e.element(xs[p], j);
      if (live[p])
        v = arith::SelectOp::create(b, loc, live[p], v, zero);
      sum = LLVM::FMAOp::create(b, loc, v, v, sum);
    }
  for (int32_t mask = kWarpSize / 2; mask > 0; mask /= 2)
    sum = arith::AddFOp::create(b, loc, sum, e.shuffleXor(sum, mask));
  if (warps > 1) {
    Type smemPtr = LLVM::LLVMPointerType::get(b.getContext(), 3);
    Value smem = LLVM::AddressOfOp::create(b, loc, smemPtr, smemName);
    auto smemAt = [&](Value index) {
      return LLVM::GEPOp::create(b, loc, smemPtr, e.f32(), smem, ValueRange{index}).getResult();
    };
    Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, e.i64c(0));
    e.when(first, [&] { LLVM::StoreOp::create(b, loc, sum, smemAt(warp), 4); });
    gpu::BarrierOp::create(b, loc);
    // Every thread adds the warps' sums in the same order, so all scale by
    // the same value.
    auto partial = [&](int64_t i) {
      return LLVM::LoadOp::create(b, loc, e.f32(), smemAt(e.i64c(i)), 4).getResult();
    };
    sum = partial(0);
    for (int64_t i = 1; i < warps; ++i)
      sum = arith::AddFOp::create(b, loc, sum, partial(i));
  }
  // 1/sqrt(mean + ε): div.rn and sqrt.rn, as the CPU's divss and sqrtss
  // (llvm.sqrt directly: the NVVM conversion would send math.sqrt to
  // libdevice).
  Value mean = arith::DivFOp::create(b, loc, sum, e.f32c(float(k)));
  Value root = e.call("llvm.sqrt.f32", e.f32(),
                      {arith::AddFOp::create(b, loc, mean, e.f32c(spec.param))});
  Value scale = arith::DivFOp::create(b, loc, e.f32c(1.0f), root);

  for (int64_t p = 0; p < perThread; ++p) {
    SmallVector<Value, 4> ys;
    for (int64_t j = 0; j < 4; ++j) {
      Value v = arith::MulFOp::create(b, loc, e.element(xs[p], j), scale);
      ys.push_back(arith::MulFOp::create(b, loc, v, e.element(ws[p], j)));
    }
    auto store = [&] { e.store(e.vector(ys), out, e.add(row, offsets[p]), 16); };
    if (live[p])
      e.when(live[p], store);
    else
      store();
  }
  return launch;
}

} // namespace lowbit
