//===- InterleavedLinearKernel.cpp - Row-interleaved integer linears ------===//
//
// The integer linear over a weight whose rows are interleaved in groups of R
// = 8 or 16 (WeightPacking.h, interleaveRows): each int32 lane of a 256-bit
// (R = 8) or 512-bit (R = 16) dot product is one row, so a broadcast of 4
// activation bytes feeds R rows at once, the scales of R rows are applied
// with one vector multiply-add, and the R outputs are stored as one vector,
// with no horizontal sums. A tile is one
// row group × T tokens: decode (T = 1) reads each weight byte once, prefill
// reuses every unpacked code vector for T = 4 tokens.
//
//===----------------------------------------------------------------------===//
#include "KernelEmitter.h"

#include <algorithm>
#include <cassert>

using namespace mlir;
using namespace ::lowbit;

void ::lowbit::emitInterleavedLinear(KernelEmitter &e, const PackedLayout &l,
                                   const CpuTarget &target, bool bias, bool residual) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  LinearArgs args = linearArgs(e, bias, residual);
  Value x = args.x, w = args.w, biasPtr = args.bias, resPtr = args.residual, out = args.out;

  const int64_t R = l.interleave;
  const int64_t C = 4 * R; // bytes of one code chunk: 4 values of each row
  assert((R == 8 || (R == 16 && target.avx512 && target.vnni)) &&
         "512-bit row groups need AVX-512 VNNI");
  int64_t n = l.rows, k = l.cols, blocks = l.blocksPerRow();
  int64_t cb = l.codeBytesPerBlock(), pb = l.paramBytesPerBlock();
  int64_t xRowBytes = quantizedRowBytes(k), outRowBytes = activationRowBytes(n);
  bool super = l.superBlock == 256;
  int64_t supers = k / 256, subsPerBlock = super ? 32 / l.subBlock : 1;
  int64_t subs = super ? l.subBlocksPerSuperBlock() : 1;
  Type i8 = b.getI8Type(), i32 = b.getI32Type();
  VectorType rowsF = e.vec(R, e.f32()), rowsI = e.vec(R, i32), rowsB = e.vec(R, i8);
  VectorType chunkB = e.vec(4 * R, i8), chunkS = e.vec(2 * R, b.getI16Type());
  auto bytes = [&](int v) { return e.constVec(chunkB, b.getI8IntegerAttr(v)); };
  auto zeroF = [&] { return e.constVec(rowsF, b.getF32FloatAttr(0)); };
  auto zeroI = [&] { return e.constVec(rowsI, b.getI32IntegerAttr(0)); };
  Value ones16 = e.constVec(chunkS, b.getI16IntegerAttr(1));
  // Signed 8-bit codes: offset to unsigned on VNNI (paid back through the
  // activation sums), |w|·sign(a, w) on AVX2.
  // Codebook codes (NF4/FP4) are signed int8 values looked up with vpshufb.
  bool isSigned = l.signedCodes || l.int8Codebook;
  bool offsetSigned = isSigned && target.vnni;
  bool signSigned = isSigned && !target.vnni;

  // The 8 code vectors (groups of 4 values × R rows) of the tile at `tile`.
  auto tileCodes = [&](Value tile) {
    SmallVector<Value, 8> u(8);
    if (l.signedCodes || l.bits == 8) {
      for (int q = 0; q < 8; ++q)
        u[q] = e.load(chunkB, tile, C * q);
    } else if (l.bits <= 2) {
      for (int p = 0; p < 2; ++p) {
        Value plane = e.load(chunkB, tile, C * p);
        for (int j = 0; j < 4; ++j) {
          Value v = j ? arith::ShRUIOp::create(b, loc, plane, bytes(2 * j)).getResult() : plane;
          u[p + 2 * j] = arith::AndIOp::create(b, loc, v, bytes(3));
        }
      }
    } else {
      for (int c = 0; c < 4; ++c) {
        Value chunk = e.load(chunkB, tile, C * c);
        u[c] = arith::AndIOp::create(b, loc, chunk, bytes(15));
        u[c + 4] = arith::ShRUIOp::create(b, loc, chunk, bytes(4));
      }
      if (l.bits > 4)
        for (int p = 0; p < 2; ++p) {
          Value plane = e.load(chunkB, tile, 4 * C + C * p);
          for (int j = 0; j < 4; ++j) {
            // ((plane >> 2j) & 3) << 4 as one shift and one mask.
            Value v = j < 2 ? arith::ShLIOp::create(b, loc, plane, bytes(4 - 2 * j)).getResult()
                     : j == 2 ? plane
                              : arith::ShRUIOp::create(b, loc, plane, bytes(2)).getResult();
            v = arith::AndIOp::create(b, loc, v, bytes(0x30));
            u[p + 2 * j] = arith::OrIOp::create(b, loc, u[p + 2 * j], v);
          }
        }
    }
    return u;
  };
  // The int8 codebook in every 16-byte lane, as signed values and offset
  // by 128 (unsigned).
  Value signedBook, unsignedBook;
  if (l.int8Codebook) {
    const Int8Codebook &book = int8Codebook(l.fp4Codebook);
    SmallVector<int8_t> s(size_t(4 * R)), u(size_t(4 * R));
    for (int64_t i = 0; i < 4 * R; ++i) {
      s[size_t(i)] = book.values[i % 16];
      u[size_t(i)] = int8_t(uint8_t(book.values[i % 16]) ^ 0x80);
    }
    signedBook = arith::ConstantOp::create(b, loc, DenseElementsAttr::get(chunkB, ArrayRef(s)));
    unsignedBook = arith::ConstantOp::create(b, loc, DenseElementsAttr::get(chunkB, ArrayRef(u)));
  }
  // acc + Σ u·a over 4-byte lanes (VNNI).
  auto dot = [&](Value acc, Value u, Value a) -> Value {
    return e.call(R == 16 ? "llvm.x86.avx512.vpdpbusd.512" : "llvm.x86.avx512.vpdpbusd.256",
                  rowsI, {acc, u, a});
  };
  // R parameters (one per row) at `ptr`, as f32.
  auto rowParams = [&](Value ptr, int64_t off, bool half) -> Value {
    if (!half)
      return e.load(rowsF, ptr, off);
    Value h = e.load(e.vec(R, b.getF16Type()), ptr, off);
    return arith::ExtFOp::create(b, loc, rowsF, h);
  };
  auto prefetchAt = [&](Value ptr) { LLVM::Prefetch::create(b, loc, ptr, 0, 3, 1); };
  // 8 KiB ahead: one core keeps only this many bytes in flight, so the
  // distance bounds its stream (Little's law). At the 1.1B shape decode ran
  // 5-10% faster than at 4 KiB (and 4 KiB than 2 KiB); 12 KiB gained
  // nothing more; a model that fits the L3 does not care.
  constexpr int64_t kPrefetchBytes = 8192;

  // One row group × `count` tokens from token s0.
  auto emitTile = [&](Value group, Value s0, int count) {
    bool decode = count == 1;
    SmallVector<Value> xrows;
    for (int c = 0; c < count; ++c)
      xrows.push_back(e.offset(x, e.mul(e.add(s0, e.i64c(c)), xRowBytes)));
    // The activation bytes of group q of block blk, broadcast to every row.
    auto act = [&](int c, Value blk, int q) -> Value {
      Value v = e.load(i32, xrows[c], e.add(e.mul(blk, 32), e.i64c(4 * q)));
      return vector::BitCastOp::create(b, loc, chunkB, e.splat(rowsI, v));
    };
    auto actScale = [&](int c, Value blk) {
      return e.load(e.f32(), xrows[c], e.add(e.i64c(k), e.mul(blk, 4)));
    };
    auto actSum = [&](int c, Value blk, int half) {
      return e.load(e.f32(), xrows[c], e.add(e.i64c(k + k / 32 * 4 + 4 * half), e.mul(blk, 8)));
    };
    auto tileAt = [&](Value blk) {
      return e.offset(w, e.mul(e.add(e.mul(group, blocks), blk), R * cb));
    };
    // The unsigned codes of a tile (and, for the sign trick, the signed ones).
    struct Codes {
      SmallVector<Value, 8> u, sign;
    };
    auto unsignedCodes = [&](Value tile) {
      Codes codes;
      codes.u = tileCodes(tile);
      if (l.int8Codebook) {
        // With the offset folded into the table on VNNI (value + 128).
        for (Value &v : codes.u)
          v = e.call(R == 16 ? "llvm.x86.avx512.pshuf.b.512" : "llvm.x86.avx2.pshuf.b", chunkB,
                     {offsetSigned ? unsignedBook : signedBook, v});
        if (offsetSigned)
          return codes;
      }
      if (signSigned)
        codes.sign = codes.u;
      if (offsetSigned || signSigned)
        for (Value &v : codes.u)
          v = offsetSigned ? arith::XOrIOp::create(b, loc, v, bytes(-128)).getResult()
                           : math::AbsIOp::create(b, loc, v).getResult();
      return codes;
    };
    // Dots of groups [q0, q1) of one tile for every token.
    // Without VNNI, the int16 pair sums of vpmaddubsw are added in int16
    // while they cannot overflow (|u·a + u'·a'| <= 2·umax·128 each), and
    // widened once per run: 4-bit codes take 8 groups per vpmaddwd.
    int umax = isSigned || l.bits == 8 ? 128 : (1 << l.bits) - 1;
    int pairRun = target.vnni ? 1 : std::max(1, 32767 / (256 * umax));
    // `weights16` (AVX2 only) replaces the ones of vpmaddwd: each row's
    // sub-block scale, so the scaled sums stay in int32.
    auto dots = [&](const Codes &codes, Value blk, int q0, int q1, Value weights16 = {}) {
      SmallVector<Value> d;
      for (int c = 0; c < count; ++c) {
        Value acc = zeroI();
        for (int q = q0; q < q1; q += pairRun) {
          if (target.vnni) {
            acc = dot(acc, codes.u[q], act(c, blk, q));
            continue;
          }
          Value pairs;
          for (int r = q; r < std::min(q1, q + pairRun); ++r) {
            Value a = act(c, blk, r);
            if (signSigned)
              a = e.call("llvm.x86.avx2.psign.b", chunkB, {a, codes.sign[r]});
            Value p = e.call("llvm.x86.avx2.pmadd.ub.sw", chunkS, {codes.u[r], a});
            pairs = pairs ? arith::AddIOp::create(b, loc, pairs, p).getResult() : p;
          }
          Value wide = e.call("llvm.x86.avx2.pmadd.wd", rowsI,
                              {pairs, weights16 ? weights16 : ones16});
          acc = arith::AddIOp::create(b, loc, acc, wide);
        }
        d.push_back(acc);
      }
      return d;
    };
    SmallVector<Value> init(count, zeroF());
    ValueRange acc;
    if (!super) {
      // Blocks of 32 with per-block d (and m): acc += d·da·Σu·a + m·Σx.
      int64_t vb = l.halfParams ? 2 : 4;
      acc = e.loop(e.i64c(0), e.i64c(blocks), 1, init,
                   [&](Value blk, ValueRange a) -> SmallVector<Value> {
                     Value tile = tileAt(blk);
                     Value record = arith::DivUIOp::create(b, loc, blk, e.i64c(l.paramBlocks));
                     Value rec = e.offset(
                         w, e.add(e.i64c(l.paramsOffset()),
                                  e.mul(e.add(e.mul(group, blocks / l.paramBlocks), record),
                                        R * pb)));
                     if (decode) {
                       for (int64_t off = 0; off < R * cb; off += 64)
                         prefetchAt(e.offset(tile, kPrefetchBytes + off));
                       prefetchAt(e.offset(rec, kPrefetchBytes / cb / l.paramBlocks * pb));
                     }
                     Codes u = unsignedCodes(tile);
                     SmallVector<Value> d = dots(u, blk, 0, 8);
                     Value dRows = rowParams(rec, 0, l.halfParams);
                     Value mRows;
                     if (l.storesMins())
                       mRows = rowParams(rec, R * vb, l.halfParams);
                     else if (l.codeOffset)
                       mRows = arith::MulFOp::create(
                           b, loc, dRows, e.splat(rowsF, e.f32c(-float(l.codeOffset))));
                     if (offsetSigned) {
                       Value off = arith::MulFOp::create(b, loc, dRows, e.splat(rowsF, e.f32c(-128.0f)));
                       mRows = mRows ? arith::AddFOp::create(b, loc, mRows, off).getResult() : off;
                     }
                     SmallVector<Value> next;
                     for (int c = 0; c < count; ++c) {
                       Value scale =
                           arith::MulFOp::create(b, loc, dRows, e.splat(rowsF, actScale(c, blk)));
                       Value df = arith::SIToFPOp::create(b, loc, rowsF, d[c]);
                       Value y = vector::FMAOp::create(b, loc, df, scale, a[c]);
                       if (mRows) {
                         Value sum = arith::AddFOp::create(b, loc, actSum(c, blk, 0),
                                                           actSum(c, blk, 1));
                         y = vector::FMAOp::create(b, loc, mRows, e.splat(rowsF, sum), y);
                       }
                       next.push_back(y);
                     }
                     return next;
                   });
    } else {
      // K-quant super-blocks: Σ_j d·sc_j·Σu·a in f32 per sub-block, one
      // multiply by the super-block's da, and −dmin·Σ_j mn_j·Σx_j.
      acc = e.loop(
          e.i64c(0), e.i64c(supers), 1, init, [&](Value sb, ValueRange a) -> SmallVector<Value> {
            Value rec = e.offset(w, e.add(e.i64c(l.paramsOffset()),
                                          e.mul(e.add(e.mul(group, supers), sb), R * pb)));
            Value dRows = rowParams(rec, 0, false), dminRows = rowParams(rec, 4 * R, false);
            int64_t scOff = 8 * R, mnOff = 8 * R + (l.codeOffset ? 0 : subs * R);
            // AVX2: Σ_j sc_j·Σu·a in int32 through vpmaddwd (at most
            // 2^28 in magnitude for every K-quant), one conversion per
            // super-block. VNNI: Σ_j (d·sc_j)·Σu·a in f32 per sub-block.
            bool intScales = !target.vnni;
            SmallVector<int64_t> pairsOfRows; // lane i of 2R: row i / 2
            for (int64_t i = 0; i < 2 * R; ++i)
              pairsOfRows.push_back(i / 2);
            SmallVector<Value> sumF(count, zeroF()), sumM(count, zeroF()), sumI(count, zeroI());
            Value firstBlock = e.mul(sb, 8);
            // One block of 32 values (j of the super-block's 8) into the sums.
            // Decode unrolls the 8; prefill runs them as a loop, which keeps
            // the 4 tokens' sums and the codes in registers.
            auto superBlockPart = [&](Value j, SmallVector<Value> &sumF, SmallVector<Value> &sumM,
                                      SmallVector<Value> &sumI) {
              Value blk = e.add(firstBlock, j);
              Value tile = tileAt(blk);
              if (decode)
                for (int64_t off = 0; off < R * cb; off += 64)
                  prefetchAt(e.offset(tile, kPrefetchBytes + off));
              Codes u = unsignedCodes(tile);
              Value subBase = e.mul(j, subsPerBlock * R);
              for (int h = 0; h < subsPerBlock; ++h) {
                int q0 = int(h * 8 / subsPerBlock), q1 = int((h + 1) * 8 / subsPerBlock);
                Value scAt = e.add(subBase, e.i64c(scOff + h * R));
                Value mn = arith::SIToFPOp::create(
                    b, loc, rowsF, e.load(rowsB, rec, e.add(subBase, e.i64c(mnOff + h * R))));
                SmallVector<Value> d;
                Value scale;
                if (intScales) {
                  // Row i's scale in int16 lanes 2i and 2i + 1.
                  Value sc = arith::ExtSIOp::create(b, loc, e.vec(R, b.getI16Type()),
                                                    e.load(rowsB, rec, scAt));
                  Value sc16 = vector::ShuffleOp::create(b, loc, sc, sc, pairsOfRows);
                  d = dots(u, blk, q0, q1, sc16);
                } else {
                  d = dots(u, blk, q0, q1);
                  scale = arith::MulFOp::create(
                      b, loc, dRows,
                      arith::SIToFPOp::create(b, loc, rowsF, e.load(rowsB, rec, scAt)));
                }
                for (int c = 0; c < count; ++c) {
                  if (intScales) {
                    sumI[c] = arith::AddIOp::create(b, loc, sumI[c], d[c]);
                  } else {
                    Value df = arith::SIToFPOp::create(b, loc, rowsF, d[c]);
                    sumF[c] = vector::FMAOp::create(b, loc, df, scale, sumF[c]);
                  }
                  Value s = subsPerBlock == 1
                                ? arith::AddFOp::create(b, loc, actSum(c, blk, 0), actSum(c, blk, 1))
                                      .getResult()
                                : actSum(c, blk, h);
                  sumM[c] = vector::FMAOp::create(b, loc, mn, e.splat(rowsF, s), sumM[c]);
                }
              }
            };
            if (decode) {
              for (int j = 0; j < 8; ++j)
                superBlockPart(e.i64c(j), sumF, sumM, sumI);
            } else {
              SmallVector<Value> carried(sumF);
              carried.append(sumM.begin(), sumM.end());
              carried.append(sumI.begin(), sumI.end());
              ValueRange sums = e.loop(e.i64c(0), e.i64c(8), 1, carried,
                                       [&](Value j, ValueRange in) -> SmallVector<Value> {
                                         SmallVector<Value> f(in.take_front(count));
                                         SmallVector<Value> m(in.slice(count, count));
                                         SmallVector<Value> i(in.take_back(count));
                                         superBlockPart(j, f, m, i);
                                         SmallVector<Value> out(f);
                                         out.append(m.begin(), m.end());
                                         out.append(i.begin(), i.end());
                                         return out;
                                       });
              for (int c = 0; c < count; ++c) {
                sumF[c] = sums[c];
                sumM[c] = sums[count + c];
                sumI[c] = sums[2 * count + c];
              }
            }
            if (decode)
              prefetchAt(e.offset(rec, kPrefetchBytes / cb / 8 * pb));
            Value negDmin = arith::NegFOp::create(b, loc, dminRows);
            SmallVector<Value> next;
            for (int c = 0; c < count; ++c) {
              if (intScales)
                sumF[c] = arith::MulFOp::create(
                    b, loc, arith::SIToFPOp::create(b, loc, rowsF, sumI[c]), dRows);
              Value y = vector::FMAOp::create(b, loc, sumF[c],
                                              e.splat(rowsF, actScale(c, firstBlock)), a[c]);
              next.push_back(vector::FMAOp::create(b, loc, sumM[c], negDmin, y));
            }
            return next;
          });
    }
    Value rowOff = e.mul(group, R * 4);
    for (int c = 0; c < count; ++c) {
      Value y = acc[c];
      if (biasPtr)
        y = arith::AddFOp::create(b, loc, y, e.load(rowsF, biasPtr, rowOff));
      Value outOff = e.add(e.mul(e.add(s0, e.i64c(c)), outRowBytes), rowOff);
      if (resPtr)
        y = arith::AddFOp::create(b, loc, y, e.load(rowsF, resPtr, outOff));
      e.store(y, out, outOff);
    }
  };

  // Threads split the row groups; each group runs all tokens in tiles of
  // `tokenTile` (its weights stay in L1/L2 meanwhile), then the rest singly.
  // 4 tokens: measured ahead of 2, 3, 6 and 8 on both targets.
  constexpr int tokenTile = 4;
  auto [lo, hi] = e.threadRange(e.i64c(n / R));
  Value tiled = e.mul(arith::DivSIOp::create(b, loc, e.tokens, e.i64c(tokenTile)), tokenTile);
  e.loop(lo, hi, [&](Value group) {
    e.loop(e.i64c(0), tiled, tokenTile, {}, [&](Value s0, ValueRange) {
      emitTile(group, s0, tokenTile);
      return SmallVector<Value>{};
    });
    e.loop(tiled, e.tokens, [&](Value s) { emitTile(group, s, 1); });
  });
}
