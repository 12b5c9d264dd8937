//===- GpuMmaLinearKernel.cpp - Linears on tensor cores -------------------===//
//
// Two linears for batches of 8 to 64 tokens (prefill, batched decode).
//
// q4g128 in f16 (gpu_linear_mma_q4g128): each
// block owns a tile of 16 weight rows, its warps split the input width, and
// every warp runs mma.sync m16n8k16 (f16 in, f32 accumulation) over all the
// tokens. The int4 codes are dequantized in registers: the tensor-core
// layout (GpuLayouts.h) puts the 8 code bytes a lane needs for a block of 32
// values side by side, so four shift-and-mask steps give f16 values 1024 + u
// exactly, and one f16x2 subtract and fma give d·u + m. The warps' partial
// tiles are summed through shared memory.
//
// Every integer format in int8 (gpu_linear_imma_F): the decode kernels'
// weights and quantized activations, mma.sync m16n8k16 s8·s8 in int32 for
// each half block of 16 values, then the same scales and offsets as the
// decode linear (GpuBlockFormats.h) in f32. The integer dot products are
// exact, so the result is the decode kernel's up to the order of the f32
// sums. The same block and warp split and the same shared-memory sum.
//
//===----------------------------------------------------------------------===//
#include "GpuBlockFormats.h"
#include "GpuEmitter.h"

#include "lowbit/Codegen/Kernels.h"
#include "lowbit/Runtime/GpuLayouts.h"


#include <array>

using namespace mlir;

namespace lowbit {

namespace {

/// One block per gpuMmaBlockRows rows, of gpuMmaWarpsPerBlock warps; static
/// shared memory only.
GpuKernelLaunch mmaLaunch(const GpuKernelSpec &spec) {
  const int64_t rows = gpuMmaBlockRows(spec);
  GpuKernelLaunch launch;
  launch.spec = spec;
  launch.spec.rowsPerWarp = int(rows);
  launch.name = gpuKernelName(spec);
  launch.block = {gpuMmaWarpsPerBlock(spec) * kWarpSize, 1, 1};
  launch.grid = {spec.n / rows, 1, 1};
  return launch;
}

/// A thread of an mma kernel: its index in the block, its warp, and its
/// lane's group g (lane / 4) and place t in it (lane % 4), which the mma
/// fragments are laid out by.
struct MmaLane {
  Value tid, lane, warp, g, t;
};
MmaLane mmaLane(GpuEmitter &e) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value tid = e.threadIndex();
  Value lane = arith::AndIOp::create(b, loc, tid, e.i64c(kWarpSize - 1));
  return {tid, lane, arith::ShRUIOp::create(b, loc, tid, e.i64c(5)),
          arith::ShRUIOp::create(b, loc, lane, e.i64c(2)),
          arith::AndIOp::create(b, loc, lane, e.i64c(3))};
}

/// The warps' partial tiles of a tensor-core linear, [warp][row][token] f32
/// in static shared memory (at most 48 KiB: gpuMmaWarpsPerBlock).
std::string declarePartials(gpu::GPUModuleOp module, const std::string &kernel, int64_t floats) {
  OpBuilder mb(module.getContext());
  mb.setInsertionPointToStart(module.getBody());
  std::string name = kernel + "_partials";
  auto type = LLVM::LLVMArrayType::get(mb.getF32Type(), floats);
  LLVM::GlobalOp::create(mb, module.getLoc(), type, /*isConstant=*/false,
                         LLVM::Linkage::Internal, name, Attribute(), /*alignment=*/16,
                         /*addrSpace=*/3);
  return name;
}

struct TileShape {
  int64_t warps, mTiles, batch;
  Value out;
  int64_t outRowBytes;
  Value tile; // the block's tile of mTiles·16 rows
  Value bias; // f32 per row, or null
};

/// Each warp's accumulators, in the mma C layout per (mma tile, token
/// tile): c0, c1 at (row g, tokens 2t, 2t+1), c2, c3 at row g + 8; summed
/// over the warps through shared memory and stored (plus the bias).
void sumWarpTiles(GpuEmitter &e, const std::string &smemName, ValueRange acc,
                  const TileShape &shape) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  const int64_t warps = shape.warps, mTiles = shape.mTiles, batch = shape.batch;
  const int64_t tokenTiles = batch / 8, tileRows = mTiles * kGpuMmaTileRows;
  const int64_t tileValues = tileRows * batch;
  auto [tid, lane, warp, g, t] = mmaLane(e);
  Type smemPtr = LLVM::LLVMPointerType::get(b.getContext(), 3);
  Value smem = LLVM::AddressOfOp::create(b, loc, smemPtr, smemName);
  auto smemAt = [&](Value index) {
    return LLVM::GEPOp::create(b, loc, smemPtr, e.f32(), smem, ValueRange{index}).getResult();
  };
  Value warpBase = e.mul(warp, tileValues);
  for (int64_t mt = 0; mt < mTiles; ++mt)
    for (int64_t nt = 0; nt < tokenTiles; ++nt)
      for (int c = 0; c < 4; ++c) {
        Value row = e.add(g, mt * kGpuMmaTileRows + 8 * (c / 2));
        Value token = e.add(e.mul(t, 2), nt * 8 + c % 2);
        Value index = e.add(warpBase, e.add(e.mul(row, batch), token));
        LLVM::StoreOp::create(b, loc, acc[(mt * tokenTiles + nt) * 4 + c], smemAt(index), 4);
      }
  gpu::BarrierOp::create(b, loc);
  // Each thread sums the warps' values of some outputs.
  e.loop(tid, e.i64c(tileValues), warps * kWarpSize, {},
         [&](Value index, ValueRange) -> SmallVector<Value> {
           Value sum = e.f32c(0);
           for (int64_t wi = 0; wi < warps; ++wi) {
             Value at = smemAt(e.add(index, wi * tileValues));
             Value v = LLVM::LoadOp::create(b, loc, e.f32(), at, 4);
             sum = arith::AddFOp::create(b, loc, sum, v);
           }
           Value row = arith::DivUIOp::create(b, loc, index, e.i64c(batch));
           Value token = arith::RemUIOp::create(b, loc, index, e.i64c(batch));
           Value outRow = e.add(e.mul(shape.tile, tileRows), row);
           if (shape.bias)
             sum = arith::AddFOp::create(b, loc, sum,
                                         e.load(e.f32(), shape.bias, e.mul(outRow, 4), 4));
           e.store(sum, shape.out, e.add(e.mul(token, shape.outRowBytes), e.mul(outRow, 4)), 4);
           return {};
         });
}

} // namespace

GpuKernelLaunch emitGpuMmaLinearQ4G128(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t n = spec.n, k = spec.k, batch = spec.batch;
  const int64_t mTiles = gpuMmaBlockRows(spec) / kGpuMmaTileRows;
  const int64_t warps = gpuMmaWarpsPerBlock(spec);
  const int64_t tileRows = mTiles * kGpuMmaTileRows;
  GpuKernelLaunch launch = mmaLaunch(spec);
  const int64_t tileValues = tileRows * batch;

  std::string smemName = declarePartials(module, launch.name, warps * tileValues);

  GpuEmitter e(module, launch.name, 3, int32_t(warps * kWarpSize));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value w = e.arg(0), x = e.arg(1), out = e.arg(2);
  const int64_t blocks = k / 32, groups = k / 128, paramsBase = n * k / 2;
  const int64_t xRowBytes = activationRowBytes(k), outRowBytes = activationRowBytes(n);
  const int64_t tokenTiles = batch / 8, blocksPerWarp = blocks / warps;

  Type f16 = b.getF16Type();
  VectorType v2f16 = VectorType::get({2}, f16), v2f32 = VectorType::get({2}, e.f32());
  VectorType v2i32 = VectorType::get({2}, e.i32());
  auto accType = LLVM::LLVMStructType::getLiteral(
      b.getContext(), {e.f32(), e.f32(), e.f32(), e.f32()});

  auto [tid, lane, warp, g, t] = mmaLane(e);
  auto splatHalf = [&](Value pair, int which) {
    return LLVM::ShuffleVectorOp::create(b, loc, pair, pair,
                                         ArrayRef<int32_t>{which, which});
  };
  Value mask = e.i32c(0x000F000F), magic = e.i32c(0x64006400);
  Value bias = LLVM::BitcastOp::create(b, loc, v2f16, magic); // (1024, 1024)
  // f16x2 of the nibbles at `shift` of `word`, as d·u + m.
  auto dequant = [&](Value word, int shift, Value d2, Value m2) {
    Value v = shift ? arith::ShRUIOp::create(b, loc, word, e.i32c(shift)).getResult() : word;
    v = arith::OrIOp::create(b, loc, arith::AndIOp::create(b, loc, v, mask), magic);
    Value u = LLVM::FSubOp::create(b, loc, LLVM::BitcastOp::create(b, loc, v2f16, v), bias);
    return LLVM::FMAOp::create(b, loc, u, d2, m2).getResult();
  };
  Value tile = e.blockIndex(); // of tileRows rows: mTiles mma tiles
  Value firstMmaTile = e.mul(tile, mTiles);

  SmallVector<Value> init(4 * tokenTiles * mTiles, e.f32c(0));
  Value first = e.mul(warp, blocksPerWarp);
  ValueRange acc = e.loop(
      first, e.add(first, blocksPerWarp), 1, init,
      [&](Value blk, ValueRange carried) -> SmallVector<Value> {
        Value group = arith::ShRUIOp::create(b, loc, blk, e.i64c(2));
        // A fragments of each mma tile for the block's two halves: {row g,
        // row g+8} × {cols 2t..2t+1, cols 2t+8..2t+9}.
        SmallVector<SmallVector<Value, 4>> a0(mTiles, SmallVector<Value, 4>(4)),
            a1(mTiles, SmallVector<Value, 4>(4));
        for (int64_t mt = 0; mt < mTiles; ++mt) {
          Value mmaTile = e.add(firstMmaTile, mt);
          Value codeAt = e.add(e.mul(e.add(e.mul(mmaTile, blocks), blk), kGpuMmaTileBytes),
                               e.mul(lane, 8));
          Value words = e.load(v2i32, w, codeAt, 8);
          Value rowG = e.add(e.mul(mmaTile, kGpuMmaTileRows), g);
          for (int half = 0; half < 2; ++half) {
            Value row = e.add(rowG, 8 * half);
            Value dm = e.load(v2f16, w,
                              e.add(e.mul(e.add(e.mul(row, groups), group), 4), paramsBase), 4);
            Value d2 = splatHalf(dm, 0), m2 = splatHalf(dm, 1);
            Value word = e.element(words, half);
            a0[mt][half] = dequant(word, 0, d2, m2);
            a0[mt][2 + half] = dequant(word, 8, d2, m2);
            a1[mt][half] = dequant(word, 4, d2, m2);
            a1[mt][2 + half] = dequant(word, 12, d2, m2);
          }
        }
        SmallVector<Value> next(carried.begin(), carried.end());
        for (int64_t nt = 0; nt < tokenTiles; ++nt) {
          Value xrow = e.mul(e.add(g, nt * 8), xRowBytes);
          for (int half = 0; half < 2; ++half) {
            Value kAt = e.add(e.add(e.mul(blk, 32), 16 * half), e.mul(t, 2));
            auto bFrag = [&](int64_t plus) {
              Value v = e.load(v2f32, x, e.add(xrow, e.mul(e.add(kAt, plus), 4)), 8);
              return LLVM::FPTruncOp::create(b, loc, v2f16, v).getResult();
            };
            // One B fragment serves every mma tile of the warp.
            Value b0 = bFrag(0), b1 = bFrag(8);
            for (int64_t mt = 0; mt < mTiles; ++mt) {
              const SmallVector<Value, 4> &a = half ? a1[mt] : a0[mt];
              SmallVector<Value> operands(a.begin(), a.end());
              operands.push_back(b0);
              operands.push_back(b1);
              int64_t at = (mt * tokenTiles + nt) * 4;
              for (int c = 0; c < 4; ++c)
                operands.push_back(next[at + c]);
              Value d = e.call("llvm.nvvm.mma.m16n8k16.row.col.f32.f32", accType, operands);
              for (int c = 0; c < 4; ++c)
                next[at + c] = LLVM::ExtractValueOp::create(b, loc, d, ArrayRef<int64_t>{c});
            }
          }
        }
        return next;
      });

  sumWarpTiles(e, smemName, acc, {warps, mTiles, batch, out, outRowBytes, tile, Value()});
  return launch;
}

GpuKernelLaunch emitGpuInt8MmaLinear(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t n = spec.n, k = spec.k, batch = spec.batch;
  const int64_t mTiles = gpuMmaBlockRows(spec) / kGpuMmaTileRows;
  const int64_t warps = gpuMmaWarpsPerBlock(spec);
  const int64_t tileRows = mTiles * kGpuMmaTileRows;
  GpuKernelLaunch launch = mmaLaunch(spec);
  std::string smemName = declarePartials(module, launch.name, warps * tileRows * batch);

  GpuBlockLayout layout(spec.format, n, k);
  GpuEmitter e(module, launch.name, spec.bias ? 4 : 3, int32_t(warps * kWarpSize));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value w = e.arg(0), xq = e.arg(1), out = e.arg(2);
  const int64_t blocks = k / 32, tokenTiles = batch / 8, blocksPerWarp = blocks / warps;
  // The quantize kernel's rows: k int8 values, an f32 scale per block of 32,
  // then the f32 sums of each half block (docs/gpu.md).
  const int64_t xqRowBytes = k + k / 32 * 4 + k / 16 * 4, scalesAt = k, sumsAt = k + k / 32 * 4;
  const int64_t codeBytes = layout.codeBytesPerBlock();
  auto accType = LLVM::LLVMStructType::getLiteral(
      b.getContext(), {e.i32(), e.i32(), e.i32(), e.i32()});

  auto [tid, lane, warp, g, t] = mmaLane(e);
  Value t4 = e.mul(t, 4);
  Value nibbles = e.i32c(0x0F0F0F0F);
  Value tile = e.blockIndex();
  Value firstRow = e.mul(tile, tileRows);

  SmallVector<Value> init(4 * tokenTiles * mTiles, e.f32c(0));
  Value first = e.mul(warp, blocksPerWarp);
  ValueRange acc = e.loop(
      first, e.add(first, blocksPerWarp), 1, init,
      [&](Value blk, ValueRange carried) -> SmallVector<Value> {
        // Per mma tile: the A fragments of each half block (rows g and g+8,
        // values 4t..4t+3 of the half) and those rows' scales and offsets.
        struct RowHalf {
          Value scale[2], offset[2];
        };
        SmallVector<std::array<Value, 2>> aLow(mTiles), aHigh(mTiles);
        SmallVector<std::array<RowHalf, 2>> params(mTiles); // [mt][row g / g+8]
        for (int64_t mt = 0; mt < mTiles; ++mt)
          for (int r = 0; r < 2; ++r) {
            Value row = e.add(firstRow, e.add(g, mt * kGpuMmaTileRows + 8 * r));
            Value codeAt = e.add(e.add(e.mul(row, blocks * codeBytes), e.mul(blk, codeBytes)), t4);
            Value low, high;
            if (layout.wideCodes()) {
              low = e.load(e.i32(), w, codeAt, 4);
              high = e.load(e.i32(), w, e.add(codeAt, 16), 4);
            } else {
              // Byte j of a 4-bit block holds value j low and 16 + j high.
              Value word = e.load(e.i32(), w, codeAt, 4);
              low = arith::AndIOp::create(b, loc, word, nibbles);
              high = arith::AndIOp::create(
                  b, loc, arith::ShRUIOp::create(b, loc, word, e.i32c(4)), nibbles);
            }
            (r ? aHigh : aLow)[mt] = {low, high};
            GpuBlockLayout::Params p = layout.decode(e, layout.loadParams(e, w, row, blk));
            params[mt][r].scale[0] = p.scale0;
            params[mt][r].scale[1] = p.scale1;
            params[mt][r].offset[0] = p.offset;
            params[mt][r].offset[1] = p.offset1 ? p.offset1 : p.offset;
          }
        SmallVector<Value> next(carried.begin(), carried.end());
        for (int64_t nt = 0; nt < tokenTiles; ++nt) {
          // B fragments: token nt·8 + g, values 4t..4t+3 of each half block.
          Value xrow = e.mul(e.add(g, nt * 8), xqRowBytes);
          Value bAt = e.add(e.add(xrow, e.mul(blk, 32)), t4);
          Value bFrag[2] = {e.load(e.i32(), xq, bAt, 4), e.load(e.i32(), xq, e.add(bAt, 16), 4)};
          // The scales and half sums of the accumulators' tokens 2t, 2t+1.
          Value da[2], sums[2][2];
          for (int c = 0; c < 2; ++c) {
            Value row = e.mul(e.add(e.mul(t, 2), nt * 8 + c), xqRowBytes);
            da[c] = e.load(e.f32(), xq, e.add(row, e.add(e.mul(blk, 4), scalesAt)), 4);
            if (layout.hasOffset())
              for (int h = 0; h < 2; ++h)
                sums[c][h] = e.load(e.f32(), xq,
                                    e.add(row, e.add(e.mul(blk, 8), sumsAt + 4 * h)), 4);
          }
          for (int64_t mt = 0; mt < mTiles; ++mt) {
            int64_t at = (mt * tokenTiles + nt) * 4;
            for (int h = 0; h < 2; ++h) {
              Value zero = e.i32c(0);
              Value d = e.call("llvm.nvvm.mma.m16n8k16.row.col.s8", accType,
                               {aLow[mt][h], aHigh[mt][h], bFrag[h], zero, zero, zero, zero});
              for (int c = 0; c < 4; ++c) {
                const RowHalf &rp = params[mt][c / 2];
                Value dot = arith::SIToFPOp::create(
                    b, loc, e.f32(), LLVM::ExtractValueOp::create(b, loc, d, ArrayRef<int64_t>{c}));
                Value scaled = arith::MulFOp::create(b, loc, rp.scale[h], da[c % 2]);
                Value v = LLVM::FMAOp::create(b, loc, scaled, dot, next[at + c]);
                if (layout.hasOffset())
                  v = LLVM::FMAOp::create(b, loc, rp.offset[h], sums[c % 2][h], v);
                next[at + c] = v;
              }
            }
          }
        }
        return next;
      });
  sumWarpTiles(e, smemName, acc,
               {warps, mTiles, batch, out, activationRowBytes(n), tile,
                spec.bias ? e.arg(3) : Value()});
  return launch;
}

} // namespace lowbit
