//===- GpuAttentionKernel.cpp - Split-K attention over the KV cache -------===//
//
// Decode attention as "flash-decoding" (docs/gpu.md): a token's few queries
// cannot fill a GPU, so each (token, head) pair's positions are cut into
// splits of kGpuAttentionSplit, each split one block, and a second kernel
// merges the splits' softmax states.
// - gpu_attention_split: each of the block's warps walks every 4th position
//   of the split: the lanes hold D/32 values of the query, read D/32 f16
//   values of the key row, and a shuffle tree sums the dot product, so every
//   lane has the score; an online softmax (running max m, sum l, and the
//   lane's D/32 values of Σ p·v) follows. The warps' states meet in shared
//   memory and the block writes one (m, l, acc[D]) record.
// - gpu_attention_combine: per (token, head), rescales the live splits'
//   records to their common max and writes acc / l.
// The arithmetic follows the CPU kernel (ModelKernels.cpp, attention_H_KVH_D):
// scores (q·k)·(1/sqrt(D)), e^(s − m) and the final product by 1/l, with
// the sums in another order.
//
//===----------------------------------------------------------------------===//
#include "GpuEmitter.h"

#include "lowbit/Codegen/Kernels.h"

#include <cmath>
#include <string>

using namespace mlir;

namespace lowbit {

namespace {
constexpr int64_t kSplitWarps = 4;

/// The f32 element at `index` of shared array `name`.
Value sharedAt(GpuEmitter &e, StringRef name, Value index) {
  Type smemPtr = LLVM::LLVMPointerType::get(e.b.getContext(), 3);
  Value base = LLVM::AddressOfOp::create(e.b, e.loc, smemPtr, name);
  return LLVM::GEPOp::create(e.b, e.loc, smemPtr, e.f32(), base, ValueRange{index});
}

void addSharedArray(gpu::GPUModuleOp module, StringRef name, int64_t floats) {
  OpBuilder mb(module.getContext());
  mb.setInsertionPointToStart(module.getBody());
  LLVM::GlobalOp::create(mb, module.getLoc(), LLVM::LLVMArrayType::get(mb.getF32Type(), floats),
                         /*isConstant=*/false, LLVM::Linkage::Internal, name, Attribute(),
                         /*alignment=*/16, /*addrSpace=*/3);
}

Value maxF(GpuEmitter &e, Value a, Value c) { return arith::MaximumFOp::create(e.b, e.loc, a, c); }
Value mulF(GpuEmitter &e, Value a, Value c) { return arith::MulFOp::create(e.b, e.loc, a, c); }
Value addF(GpuEmitter &e, Value a, Value c) { return arith::AddFOp::create(e.b, e.loc, a, c); }
Value subF(GpuEmitter &e, Value a, Value c) { return arith::SubFOp::create(e.b, e.loc, a, c); }
Value fmaF(GpuEmitter &e, Value a, Value c, Value d) {
  return LLVM::FMAOp::create(e.b, e.loc, a, c, d);
}

/// positions[token] + 1: the token's keys are [0, end).
Value keyEnd(GpuEmitter &e, Value positions, Value token) {
  Value pos = e.load(e.i32(), positions, e.mul(token, 4), 4);
  return e.add(arith::ExtSIOp::create(e.b, e.loc, e.i64(), pos), 1);
}
} // namespace

int64_t gpuAttentionSplits(const GpuKernelSpec &s) { return s.context / kGpuAttentionSplit; }

GpuKernelLaunch emitGpuAttentionSplit(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t heads = spec.n, headDim = spec.k, kvHeads = spec.kvHeads;
  const int64_t group = heads / kvHeads, splits = gpuAttentionSplits(spec);
  const int64_t perLane = headDim / kWarpSize, record = headDim + 2;
  GpuKernelLaunch launch = gpuLaunch(spec, spec.batch * heads * splits, kSplitWarps * kWarpSize);
  // Per warp: m, l and acc[D].
  std::string smemName = launch.name + "_states";
  addSharedArray(module, smemName, kSplitWarps * record);

  GpuEmitter e(module, launch.name, 5, int32_t(kSplitWarps * kWarpSize));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value q = e.arg(0), positions = e.arg(1), keys = e.arg(2), values = e.arg(3),
        partials = e.arg(4);
  VectorType laneF32 = VectorType::get({perLane}, e.f32());
  VectorType laneF16 = VectorType::get({perLane}, b.getF16Type());

  // Block (token, head, split), splits innermost.
  Value blockId = e.blockIndex();
  Value split = arith::RemUIOp::create(b, loc, blockId, e.i64c(splits));
  Value pair = arith::DivUIOp::create(b, loc, blockId, e.i64c(splits));
  Value token = arith::DivUIOp::create(b, loc, pair, e.i64c(heads));
  Value head = arith::RemUIOp::create(b, loc, pair, e.i64c(heads));
  Value kvHead = arith::DivUIOp::create(b, loc, head, e.i64c(group));
  Value end = keyEnd(e, positions, token);
  Value lo = e.mul(split, kGpuAttentionSplit);
  Value live = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, lo, end);
  // A split past the token's end has nothing to do: the combine skips it.
  e.when(live, [&] {
    Value hi = arith::MinSIOp::create(b, loc, e.add(lo, kGpuAttentionSplit), end);
    Value tid = e.threadIndex();
    Value lane = arith::AndIOp::create(b, loc, tid, e.i64c(kWarpSize - 1));
    Value warp = arith::ShRUIOp::create(b, loc, tid, e.i64c(5));
    // The lane's values of the query and of each key and value row.
    Value laneBytes = e.mul(lane, perLane * 4);
    Value qv = e.load(laneF32, q,
                      e.add(e.mul(token, activationRowBytes(heads * headDim)),
                            e.add(e.mul(head, headDim * 4), laneBytes)),
                      unsigned(perLane * 4));
    Value kvLane = e.add(e.mul(kvHead, headDim * 2), e.mul(lane, perLane * 2));
    const int64_t kvRow = kvHeads * headDim * 2;
    const float scale = 1.0f / std::sqrt(float(headDim));

    SmallVector<Value> init{e.f32c(-INFINITY), e.f32c(0)};
    for (int64_t i = 0; i < perLane; ++i)
      init.push_back(e.f32c(0));
    ValueRange state = e.loop(e.add(lo, warp), hi, kSplitWarps, init, [&](Value j, ValueRange c) {
      Value rowOff = e.add(e.mul(j, kvRow), kvLane);
      // Both rows loaded first, so the value row's latency hides behind the
      // dot product and the exps.
      Value k = e.load(laneF16, keys, rowOff, unsigned(perLane * 2));
      Value v = e.load(laneF16, values, rowOff, unsigned(perLane * 2));
      Value dot = e.f32c(0);
      for (int64_t i = 0; i < perLane; ++i)
        dot = fmaF(e, e.element(qv, i),
                   arith::ExtFOp::create(b, loc, e.f32(), e.element(k, i)), dot);
      for (int32_t mask = kWarpSize / 2; mask > 0; mask /= 2)
        dot = addF(e, dot, e.shuffleXor(dot, mask));
      Value score = mulF(e, dot, e.f32c(scale));
      Value m = c[0], l = c[1];
      Value mNew = maxF(e, m, score);
      Value corr = e.exp(subF(e, m, mNew));
      Value p = e.exp(subF(e, score, mNew));
      SmallVector<Value> next{mNew, fmaF(e, l, corr, p)};
      for (int64_t i = 0; i < perLane; ++i)
        next.push_back(fmaF(e, p, arith::ExtFOp::create(b, loc, e.f32(), e.element(v, i)),
                            mulF(e, c[2 + i], corr)));
      return next;
    });

    // The warps' states to shared memory; a warp with no position keeps
    // m = −inf, l = 0, acc = 0 and weighs nothing below.
    Value stateBase = e.mul(warp, record);
    Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, e.i64c(0));
    e.when(first, [&] {
      LLVM::StoreOp::create(b, loc, state[0], sharedAt(e, smemName, stateBase), 4);
      LLVM::StoreOp::create(b, loc, state[1], sharedAt(e, smemName, e.add(stateBase, 1)), 4);
    });
    for (int64_t i = 0; i < perLane; ++i)
      LLVM::StoreOp::create(
          b, loc, state[2 + i],
          sharedAt(e, smemName, e.add(stateBase, e.add(e.mul(lane, perLane), 2 + i))), 4);
    gpu::BarrierOp::create(b, loc);

    // Merged to the block's max: thread d < D sums value d of every warp,
    // thread 0 writes m and l as well.
    auto loadShared = [&](Value index) {
      return LLVM::LoadOp::create(b, loc, e.f32(), sharedAt(e, smemName, index), 4).getResult();
    };
    SmallVector<Value> ms;
    Value mMax = e.f32c(-INFINITY);
    for (int64_t w = 0; w < kSplitWarps; ++w) {
      ms.push_back(loadShared(e.i64c(w * record)));
      mMax = maxF(e, mMax, ms.back());
    }
    SmallVector<Value> weights;
    for (int64_t w = 0; w < kSplitWarps; ++w)
      weights.push_back(e.exp(subF(e, ms[size_t(w)], mMax)));
    Value out = e.offset(partials, e.mul(blockId, record * 4));
    for (int64_t d0 = 0; d0 < headDim; d0 += kSplitWarps * kWarpSize) {
      Value d = e.add(tid, d0);
      auto body = [&] {
        Value acc = e.f32c(0);
        for (int64_t w = 0; w < kSplitWarps; ++w)
          acc = fmaF(e, loadShared(e.add(d, w * record + 2)), weights[size_t(w)], acc);
        e.store(acc, out, e.mul(e.add(d, 2), 4), 4);
      };
      if (d0 + kSplitWarps * kWarpSize > headDim)
        e.when(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, d, e.i64c(headDim)),
               body);
      else
        body();
    }
    e.when(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, tid, e.i64c(0)), [&] {
      Value l = e.f32c(0);
      for (int64_t w = 0; w < kSplitWarps; ++w)
        l = fmaF(e, loadShared(e.i64c(w * record + 1)), weights[size_t(w)], l);
      e.store(mMax, out, e.i64c(0), 4);
      e.store(l, out, e.i64c(4), 4);
    });
  });
  return launch;
}

GpuKernelLaunch emitGpuAttentionCombine(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t heads = spec.n, headDim = spec.k, splits = gpuAttentionSplits(spec);
  const int64_t record = headDim + 2;
  GpuKernelLaunch launch = gpuLaunch(spec, spec.batch * heads, headDim);

  GpuEmitter e(module, launch.name, 3, int32_t(headDim));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value positions = e.arg(0), partials = e.arg(1), out = e.arg(2);
  Value pair = e.blockIndex(), d = e.threadIndex();
  Value token = arith::DivUIOp::create(b, loc, pair, e.i64c(heads));
  Value head = arith::RemUIOp::create(b, loc, pair, e.i64c(heads));
  // The splits holding keys: ceil(end / split), at most the grid's (a
  // position past the cache reads no record beyond the token's).
  Value live = arith::DivUIOp::create(
      b, loc, e.add(keyEnd(e, positions, token), kGpuAttentionSplit - 1),
      e.i64c(kGpuAttentionSplit));
  live = arith::MinUIOp::create(b, loc, live, e.i64c(splits));
  Value records = e.offset(partials, e.mul(pair, splits * record * 4));
  auto field = [&](Value s, Value index) {
    return e.load(e.f32(), records, e.mul(e.add(e.mul(s, record), index), 4), 4);
  };
  Value mIndex = e.i64c(0), lIndex = e.i64c(1), accIndex = e.add(d, 2);
  Value mMax = e.loop(e.i64c(0), live, 1, {e.f32c(-INFINITY)}, [&](Value s, ValueRange c) {
    return SmallVector<Value>{maxF(e, c[0], field(s, mIndex))};
  })[0];
  ValueRange sums = e.loop(e.i64c(0), live, 1, {e.f32c(0), e.f32c(0)}, [&](Value s, ValueRange c) {
    Value w = e.exp(subF(e, field(s, mIndex), mMax));
    return SmallVector<Value>{fmaF(e, field(s, lIndex), w, c[0]),
                              fmaF(e, field(s, accIndex), w, c[1])};
  });
  Value inv = arith::DivFOp::create(b, loc, e.f32c(1.0f), sums[0]);
  Value dst = e.add(e.mul(token, activationRowBytes(heads * headDim)),
                    e.add(e.mul(head, headDim * 4), e.mul(d, 4)));
  e.store(mulF(e, sums[1], inv), out, dst, 4);
  return launch;
}

} // namespace lowbit
