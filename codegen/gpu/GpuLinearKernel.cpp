//===- GpuLinearKernel.cpp - GEMV for NVIDIA GPUs -------------------------===//
//
// The decode linears (batch 1-8, docs/gpu.md). Bandwidth decides them: each
// warp streams its rows with 16-byte loads (a warp reads 512 consecutive
// bytes per row and step) and keeps every token's partial sums in
// registers, so each weight byte is read once for all tokens.
// - every integer format (docs/gpu.md): nothing is
//   dequantized to float; the int8 activations meet the 4- or 8-bit codes
//   in dp4a, 4 products per instruction, and each block's integer sum is
//   scaled once (GpuBlockFormats.h reads the layouts);
// - f16: 8 values per load widened to f32 and multiplied with the f32
//   activations by fma (no quantize kernel before it).
// Either adds an f32 bias per row where the spec asks (Qwen2's q/k/v).
//
//===----------------------------------------------------------------------===//
#include "GpuBlockFormats.h"

#include "lowbit/Codegen/Kernels.h"

#include <string>

using namespace mlir;

namespace lowbit {

namespace {
constexpr int64_t kWarpsPerBlock = kGpuDecodeWarpsPerBlock;

// One step's loads for one block of 32 values: R rows' codes and raw
// parameters, and B tokens' activation codes, scale and (for formats with
// an offset) sums.
struct StepLoads {
  SmallVector<SmallVector<Value, 2>> codes;
  SmallVector<GpuBlockLayout::RawParams> params;
  SmallVector<Value> act, actScale, actSum;
};
} // namespace

int defaultRowsPerWarp(int64_t batch) { return batch <= 2 ? 2 : 1; }

namespace {
/// A linear's bias for output `row` (its fourth argument, f32 per row).
Value loadBias(GpuEmitter &e, Value row) { return e.load(e.f32(), e.arg(3), e.mul(row, 4), 4); }
/// The row's sum plus its bias, if any: the CPU kernels' order.
Value withBias(GpuEmitter &e, Value sum, Value bias) {
  return bias ? arith::AddFOp::create(e.b, e.loc, sum, bias).getResult() : sum;
}
} // namespace

GpuKernelLaunch emitGpuLinearInt(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t n = spec.n, k = spec.k, batch = spec.batch;
  const int64_t rows = spec.rowsPerWarp ? spec.rowsPerWarp : defaultRowsPerWarp(batch);
  GpuKernelLaunch launch;
  launch.spec = spec;
  launch.spec.rowsPerWarp = int(rows);
  launch.name = gpuKernelName(launch.spec);
  launch.block = {kWarpsPerBlock * kWarpSize, 1, 1};
  launch.grid = {n / (kWarpsPerBlock * rows), 1, 1};

  GpuEmitter e(module, launch.name, spec.bias ? 4 : 3, int32_t(kWarpsPerBlock * kWarpSize));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value w = e.arg(0), xq = e.arg(1), out = e.arg(2);
  const GpuBlockLayout layout(spec.format, n, k);
  const int64_t blocks = k / 32, xRowBytes = quantizedRowBytes(k);
  const int64_t outRowBytes = activationRowBytes(n);
  // Two blocks per lane and step where every lane has an even count: the
  // loads of both are in flight together.
  const int64_t unroll = blocks % (2 * kWarpSize) == 0 ? 2 : 1;

  Value tid = e.threadIndex();
  Value lane = arith::AndIOp::create(b, loc, tid, e.i64c(kWarpSize - 1));
  Value warp = arith::ShRUIOp::create(b, loc, tid, e.i64c(5));
  Value row0 = e.mul(e.add(e.mul(e.blockIndex(), kWarpsPerBlock), warp), rows);

  VectorType v4i32 = VectorType::get({4}, e.i32()), v2f32 = VectorType::get({2}, e.f32());
  Value lowNibbles = e.i32c(0x0F0F0F0F), four = e.i32c(4);
  // lut4's int8 table, loaded once (every lane reads the same 16 bytes).
  Value table = layout.tableCodes() ? layout.loadTable(e, w) : Value();

  auto loadStep = [&](Value blk) {
    StepLoads s;
    for (int64_t r = 0; r < rows; ++r) {
      Value row = e.add(row0, r);
      s.codes.push_back(layout.loadCodes(e, w, row, blk));
      s.params.push_back(layout.loadParams(e, w, row, blk));
    }
    for (int64_t t = 0; t < batch; ++t) {
      Value xrow = e.i64c(t * xRowBytes);
      Value at = e.add(xrow, e.mul(blk, 32));
      s.act.push_back(e.load(v4i32, xq, at, 16));
      s.act.push_back(e.load(v4i32, xq, e.add(at, 16), 16));
      s.actScale.push_back(e.load(e.f32(), xq, e.add(e.add(xrow, k), e.mul(blk, 4)), 4));
      if (layout.hasOffset())
        s.actSum.push_back(
            e.load(v2f32, xq, e.add(e.add(xrow, k + k / 32 * 4), e.mul(blk, 8)), 8));
    }
    return s;
  };
  // The 8 words of a row's block as dp4a operands, values 4j..4j+3 in word
  // j: the low then high nibbles of the 4 code words, the 8 code words, or
  // the table's entries for the 4 code words' nibbles (lut4).
  auto codeWords = [&](const SmallVector<Value, 2> &codes) {
    if (layout.tableCodes())
      return layout.lookUp(e, codes[0], table);
    SmallVector<Value, 8> words(8);
    for (int j = 0; j < 4; ++j) {
      Value word = e.element(codes[0], j);
      if (layout.wideCodes()) {
        words[j] = word;
        words[4 + j] = e.element(codes[1], j);
        continue;
      }
      words[j] = arith::AndIOp::create(b, loc, word, lowNibbles);
      words[4 + j] = arith::AndIOp::create(
          b, loc, arith::ShRUIOp::create(b, loc, word, four), lowNibbles);
    }
    return words;
  };
  StringRef dp4a = layout.signedCodes() ? "llvm.nvvm.idp4a.s.s" : "llvm.nvvm.idp4a.u.s";
  // acc[t·rows + r] += da·(s0·Σ₀ q·a + s1·Σ₁ q·a) + m·Σa over one block of
  // 32 values, Σ₀ and Σ₁ over its halves (one sum where s0 = s1).
  auto accumulate = [&](const StepLoads &s, SmallVector<Value> &acc) {
    SmallVector<SmallVector<Value, 8>> words;
    SmallVector<GpuBlockLayout::Params> params;
    for (int64_t r = 0; r < rows; ++r) {
      words.push_back(codeWords(s.codes[r]));
      params.push_back(layout.decode(e, s.params[r]));
    }
    for (int64_t t = 0; t < batch; ++t) {
      Value sum;
      if (layout.hasOffset() && !layout.halfOffsets())
        sum = arith::AddFOp::create(b, loc, e.element(s.actSum[t], 0),
                                    e.element(s.actSum[t], 1));
      auto actWord = [&](int j) { return e.element(s.act[2 * t + j / 4], j % 4); };
      for (int64_t r = 0; r < rows; ++r) {
        const GpuBlockLayout::Params &p = params[r];
        Value &a = acc[t * rows + r];
        // The words in `order` summed by dp4a, scaled into the accumulator.
        auto addDot = [&](ArrayRef<int> order, Value scale) {
          Value dot = e.i32c(0);
          for (int j : order)
            dot = e.call(dp4a, e.i32(), {words[r][j], actWord(j), dot});
          Value df = arith::SIToFPOp::create(b, loc, e.f32(), dot);
          Value ds = arith::MulFOp::create(b, loc, scale, s.actScale[t]);
          a = LLVM::FMAOp::create(b, loc, df, ds, a);
        };
        if (layout.halfScales()) {
          addDot({0, 1, 2, 3}, p.scale0);
          addDot({4, 5, 6, 7}, p.scale1);
        } else {
          // Low then high word j, as the nibble layout pairs them.
          addDot({0, 4, 1, 5, 2, 6, 3, 7}, p.scale0);
        }
        if (p.offset1) {
          // An offset per half: each times its half's sum.
          a = LLVM::FMAOp::create(b, loc, p.offset, e.element(s.actSum[t], 0), a);
          a = LLVM::FMAOp::create(b, loc, p.offset1, e.element(s.actSum[t], 1), a);
        } else if (p.offset) {
          a = LLVM::FMAOp::create(b, loc, p.offset, sum, a);
        }
      }
    }
  };

  SmallVector<Value> init(batch * rows, e.f32c(0));
  ValueRange sums = e.loop(lane, e.i64c(blocks), kWarpSize * unroll, init,
                           [&](Value blk, ValueRange carried) -> SmallVector<Value> {
                             SmallVector<Value> acc(carried.begin(), carried.end());
                             SmallVector<StepLoads, 2> steps;
                             for (int64_t u = 0; u < unroll; ++u)
                               steps.push_back(loadStep(e.add(blk, u * kWarpSize)));
                             for (const StepLoads &s : steps)
                               accumulate(s, acc);
                             return acc;
                           });
  SmallVector<Value> totals;
  for (Value v : sums) {
    for (int32_t mask = kWarpSize / 2; mask > 0; mask /= 2)
      v = arith::AddFOp::create(b, loc, v, e.shuffleXor(v, mask));
    totals.push_back(v);
  }
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, e.i64c(0));
  e.when(first, [&] {
    for (int64_t r = 0; r < rows; ++r) {
      Value bias = spec.bias ? loadBias(e, e.add(row0, r)) : Value();
      for (int64_t t = 0; t < batch; ++t)
        e.store(withBias(e, totals[t * rows + r], bias), out,
                e.add(e.mul(e.add(row0, r), 4), t * outRowBytes), 4);
    }
  });
  return launch;
}

GpuKernelLaunch emitGpuLinearF16(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t n = spec.n, k = spec.k, batch = spec.batch;
  const int64_t rows = spec.rowsPerWarp ? spec.rowsPerWarp : defaultRowsPerWarp(batch);
  const int64_t rowsPerBlock = kWarpsPerBlock * rows;
  GpuKernelSpec resolved = spec;
  resolved.rowsPerWarp = int(rows);
  GpuKernelLaunch launch =
      gpuLaunch(resolved, (n + rowsPerBlock - 1) / rowsPerBlock, kWarpsPerBlock * kWarpSize);

  GpuEmitter e(module, launch.name, spec.bias ? 4 : 3, int32_t(kWarpsPerBlock * kWarpSize));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value w = e.arg(0), x = e.arg(1), out = e.arg(2);
  // A chunk is 8 values: 16 bytes of a weight row, 32 of an activation row.
  const int64_t chunks = k / 8, rowBytes = k * 2;
  const int64_t xRowBytes = activationRowBytes(k), outRowBytes = activationRowBytes(n);
  // Two chunks per lane and step where every lane has an even count: the
  // loads of both are in flight together.
  const int64_t unroll = chunks % (2 * kWarpSize) == 0 ? 2 : 1;
  // Where the last block overhangs N, its warps' rows past N read row N − 1
  // (so every load stays in the weight) and store nothing.
  const bool ragged = n % rowsPerBlock != 0;

  Value tid = e.threadIndex();
  Value lane = arith::AndIOp::create(b, loc, tid, e.i64c(kWarpSize - 1));
  Value warp = arith::ShRUIOp::create(b, loc, tid, e.i64c(5));
  Value row0 = e.mul(e.add(e.mul(e.blockIndex(), kWarpsPerBlock), warp), rows);
  SmallVector<Value> loadRows;
  for (int64_t r = 0; r < rows; ++r) {
    Value row = e.add(row0, r);
    loadRows.push_back(ragged ? arith::MinUIOp::create(b, loc, row, e.i64c(n - 1)) : row);
  }

  VectorType v8f16 = VectorType::get({8}, b.getF16Type());
  VectorType v8f32 = VectorType::get({8}, e.f32()), v4f32 = VectorType::get({4}, e.f32());
  // One step's loads for one chunk: R rows' weights, B tokens' activations
  // (two 16-byte halves each).
  struct StepLoads {
    SmallVector<Value> weights, act;
  };
  auto loadStep = [&](Value chunk) {
    StepLoads s;
    for (Value row : loadRows)
      s.weights.push_back(
          e.load(v8f16, w, e.add(e.mul(row, rowBytes), e.mul(chunk, 16)), 16));
    for (int64_t t = 0; t < batch; ++t) {
      Value at = e.add(e.mul(chunk, 32), t * xRowBytes);
      s.act.push_back(e.load(v4f32, x, at, 16));
      s.act.push_back(e.load(v4f32, x, e.add(at, 16), 16));
    }
    return s;
  };
  // acc[t·rows + r] = fma(w_j, x_j, acc) over the chunk's 8 values in order.
  auto accumulate = [&](const StepLoads &s, SmallVector<Value> &acc) {
    SmallVector<SmallVector<Value, 8>> wf(rows);
    for (int64_t r = 0; r < rows; ++r) {
      Value widened = arith::ExtFOp::create(b, loc, v8f32, s.weights[r]);
      for (int64_t j = 0; j < 8; ++j)
        wf[r].push_back(e.element(widened, j));
    }
    for (int64_t t = 0; t < batch; ++t)
      for (int64_t j = 0; j < 8; ++j) {
        Value xj = e.element(s.act[2 * t + j / 4], j % 4);
        for (int64_t r = 0; r < rows; ++r) {
          Value &a = acc[t * rows + r];
          a = LLVM::FMAOp::create(b, loc, wf[r][j], xj, a);
        }
      }
  };

  SmallVector<Value> init(batch * rows, e.f32c(0));
  ValueRange sums = e.loop(lane, e.i64c(chunks), kWarpSize * unroll, init,
                           [&](Value chunk, ValueRange carried) -> SmallVector<Value> {
                             SmallVector<Value> acc(carried.begin(), carried.end());
                             SmallVector<StepLoads, 2> steps;
                             for (int64_t u = 0; u < unroll; ++u)
                               steps.push_back(loadStep(e.add(chunk, u * kWarpSize)));
                             for (const StepLoads &s : steps)
                               accumulate(s, acc);
                             return acc;
                           });
  SmallVector<Value> totals;
  for (Value v : sums) {
    for (int32_t mask = kWarpSize / 2; mask > 0; mask /= 2)
      v = arith::AddFOp::create(b, loc, v, e.shuffleXor(v, mask));
    totals.push_back(v);
  }
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, e.i64c(0));
  e.when(first, [&] {
    for (int64_t r = 0; r < rows; ++r) {
      Value row = e.add(row0, r);
      auto storeRow = [&] {
        Value bias = spec.bias ? loadBias(e, row) : Value();
        for (int64_t t = 0; t < batch; ++t)
          e.store(withBias(e, totals[t * rows + r], bias), out,
                  e.add(e.mul(row, 4), t * outRowBytes), 4);
      };
      if (ragged)
        e.when(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, e.i64c(n)),
               storeRow);
      else
        storeRow();
    }
  });
  return launch;
}

} // namespace lowbit
