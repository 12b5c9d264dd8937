//===- LinearKernels.cpp - Quantized and float matrix-vector kernels ------===//
//
// One kernel per (layout, shape, target). Rows of the weight are split among
// threads; for each row every token of the call is processed while the row
// is hot in L1, so prefill reads each weight byte once.
//
//===----------------------------------------------------------------------===//
#include "KernelEmitter.h"
#include "lowbit/Quant/Bnb.h"

#include <algorithm>

using namespace mlir;
using namespace ::lowbit;

namespace {
/// Code and parameter loads of one 32-value block of a packed weight.
struct BlockReader {
  KernelEmitter &e;
  const PackedLayout &l;

  /// The block's codes as 32 bytes in value order (unsigned, or signed for
  /// 8-bit layouts).
  Value codes(Value base) {
    VectorType v32 = e.vec(32, e.b.getI8Type());
    if (l.signedCodes || l.bits == 8)
      return e.load(v32, base, 0);
    if (l.bits <= 2)
      return twoBitPlane(base, 0);
    Value nib = e.load(e.vec(16, e.b.getI8Type()), base, 0);
    Value lo = arith::AndIOp::create(e.b, e.loc, nib, byteSplat(16, 15));
    Value hi = arith::ShRUIOp::create(e.b, e.loc, nib, byteSplat(16, 4));
    Value u = e.concat(lo, hi);
    if (l.bits > 4) {
      Value high = twoBitPlane(base, 16);
      high = arith::ShLIOp::create(e.b, e.loc, high, byteSplat(32, 4));
      u = arith::OrIOp::create(e.b, e.loc, u, high);
    }
    return u;
  }

  /// 8 bytes holding 32 two-bit values: byte i has values i, i+8, i+16,
  /// i+24 at bits 0, 2, 4, 6. One 64-bit load broadcast to four lanes and
  /// shifted by 0, 2, 4, 6 puts value j in byte j (vpsrlvq + vpand).
  Value twoBitPlane(Value base, int64_t off) {
    Type i64t = e.b.getI64Type();
    VectorType v4 = e.vec(4, i64t);
    Value word = e.splat(v4, e.load(i64t, base, off));
    Value shifts = arith::ConstantOp::create(
        e.b, e.loc, DenseElementsAttr::get(v4, ArrayRef<int64_t>{0, 2, 4, 6}));
    Value spread = arith::ShRUIOp::create(e.b, e.loc, word, shifts);
    Value bytes = vector::BitCastOp::create(e.b, e.loc, e.vec(32, e.b.getI8Type()), spread);
    return arith::AndIOp::create(e.b, e.loc, bytes, byteSplat(32, 3));
  }

  Value byteSplat(int64_t n, int v) {
    return e.constVec(e.vec(n, e.b.getI8Type()), e.b.getI8IntegerAttr(v));
  }

  /// Parameter k (0: d, 1: m) of sub-block s, as f32.
  Value param(Value base, int s, int k) {
    if (k == 1 && l.codeOffset)
      return arith::MulFOp::create(e.b, e.loc, param(base, s, 0),
                                   e.f32c(-float(l.codeOffset)));
    int per = l.storesMins() ? 2 : 1;
    int64_t off = (s * per + k) * (l.halfParams ? 2 : 4);
    if (!l.halfParams)
      return e.load(e.f32(), base, off);
    Value h = e.load(e.b.getF16Type(), base, off);
    return arith::ExtFOp::create(e.b, e.loc, e.f32(), h);
  }
};

/// The 32 values of a 4-bit codebook block as f32 (vpermps on two halves of
/// the 16-entry table).
Value lookup(KernelEmitter &e, Value u, bool fp4) {
  ArrayRef<float> book = bnb4BitCodebook(fp4 ? Bnb4BitType::FP4 : Bnb4BitType::NF4);
  VectorType v8f = e.vec(8, e.f32()), v8i = e.vec(8, e.b.getI32Type());
  Value lo = arith::ConstantOp::create(
      e.b, e.loc, DenseElementsAttr::get(v8f, book.take_front(8)));
  Value hi = arith::ConstantOp::create(
      e.b, e.loc, DenseElementsAttr::get(v8f, book.drop_front(8).take_front(8)));
  Value eight = e.constVec(v8i, e.b.getI32IntegerAttr(8));
  Value parts[4];
  for (int k = 0; k < 4; ++k) {
    Value idx = arith::ExtUIOp::create(e.b, e.loc, v8i, e.slice(u, 8 * k, 8));
    Value a = e.call("llvm.x86.avx2.permps", v8f, {lo, idx});
    Value c = e.call("llvm.x86.avx2.permps", v8f, {hi, idx});
    Value isHigh = arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::uge, idx, eight);
    parts[k] = arith::SelectOp::create(e.b, e.loc, isHigh, c, a);
  }
  return e.concat(e.concat(parts[0], parts[1]), e.concat(parts[2], parts[3]));
}

/// Float weights of one block (32 values) as vector<32xf32>.
Value floatBlock(KernelEmitter &e, FloatEncoding enc, Value ptr, Value off) {
  VectorType v32f = e.vec(32, e.f32());
  switch (enc) {
  case FloatEncoding::F32:
    return e.load(v32f, ptr, off);
  case FloatEncoding::F16:
    return arith::ExtFOp::create(e.b, e.loc, v32f,
                                 e.load(e.vec(32, e.b.getF16Type()), ptr, off));
  case FloatEncoding::BF16: {
    VectorType v32i = e.vec(32, e.b.getI32Type());
    Value h = e.load(e.vec(32, e.b.getI16Type()), ptr, off);
    Value w = arith::ExtUIOp::create(e.b, e.loc, v32i, h);
    w = arith::ShLIOp::create(e.b, e.loc, w,
                              e.constVec(v32i, e.b.getI32IntegerAttr(16)));
    return arith::BitcastOp::create(e.b, e.loc, v32f, w);
  }
  }
  return {};
}
} // namespace

/// Decodes block `b` of a packed row to vector<32xf32> (embedding lookups).
static Value decodeBlock(KernelEmitter &e, const PackedLayout &l, Value w,
                         Value row, Value block) {
  VectorType v32f = e.vec(32, e.f32());
  int64_t blocks = l.family == KernelFamily::Float ? l.paddedCols() / 32 : l.blocksPerRow();
  Value index = e.add(e.mul(row, blocks), block);
  Value codeBase = e.offset(w, e.mul(index, l.codeBytesPerBlock()));
  if (l.family == KernelFamily::Float)
    return floatBlock(e, l.floatEncoding, codeBase, e.i64c(0));
  Value paramIndex =
      l.paramBlocks > 1
          ? e.add(e.mul(row, blocks / l.paramBlocks),
                  arith::DivUIOp::create(e.b, e.loc, block, e.i64c(l.paramBlocks)))
          : index;
  Value paramBase =
      e.offset(w, e.add(e.i64c(l.paramsOffset()), e.mul(paramIndex, l.paramBytesPerBlock())));
  BlockReader r{e, l};
  Value u = r.codes(codeBase);
  if (l.family == KernelFamily::Lut) {
    Value scale = e.load(e.f32(), paramBase, 0);
    return arith::MulFOp::create(e.b, e.loc, lookup(e, u, l.fp4Codebook),
                                 e.splat(v32f, scale));
  }
  Value q = l.signedCodes ? arith::SIToFPOp::create(e.b, e.loc, v32f, u).getResult()
                          : arith::UIToFPOp::create(e.b, e.loc, v32f, u).getResult();
  // Parameter k (0: scale, 1: min) of sub-block s of this block, as f32.
  auto param = [&](int s, int k) -> Value {
    if (l.superBlock != 256)
      return r.param(paramBase, s, k);
    // Two levels: d·sc or -dmin·mn of sub-block (block % 8)·32/subBlock + s.
    int64_t supers = l.cols / 256, subs = l.subBlocksPerSuperBlock();
    Value sb = arith::DivUIOp::create(e.b, e.loc, block, e.i64c(8));
    Value inSuper = arith::RemUIOp::create(e.b, e.loc, block, e.i64c(8));
    Value rec = e.offset(w, e.add(e.i64c(l.paramsOffset()),
                                  e.mul(e.add(e.mul(row, supers), sb), l.paramBytesPerBlock())));
    Value sub = e.add(e.mul(inSuper, 32 / l.subBlock), e.i64c(s));
    int64_t first = 8 + (k == 1 && !l.codeOffset ? subs : 0);
    Value v = e.load(e.b.getI8Type(), rec, e.add(e.i64c(first), sub));
    Value f = arith::SIToFPOp::create(e.b, e.loc, e.f32(), v);
    Value level = e.load(e.f32(), rec, 4 * k);
    if (k == 1)
      level = arith::NegFOp::create(e.b, e.loc, level);
    return arith::MulFOp::create(e.b, e.loc, level, f);
  };
  if (l.codeOffset) {
    // w = d·sc·(u − offset), rounded as ggml's dequantizer rounds it.
    q = arith::SubFOp::create(e.b, e.loc, q,
                              e.constVec(v32f, e.b.getF32FloatAttr(float(l.codeOffset))));
    Value p0 = e.splat(v32f, param(0, 0));
    if (l.subBlock == 16) {
      Value p1 = e.splat(v32f, param(1, 0));
      SmallVector<bool> first(32);
      for (int i = 0; i < 32; ++i)
        first[i] = i < 16;
      Value mask = arith::ConstantOp::create(
          e.b, e.loc, DenseElementsAttr::get(e.vec(32, e.b.getI1Type()), first));
      p0 = arith::SelectOp::create(e.b, e.loc, mask, p0, p1);
    }
    return arith::MulFOp::create(e.b, e.loc, q, p0);
  }
  auto laneParam = [&](int k) {
    Value p0 = e.splat(v32f, param(0, k));
    if (l.subBlock == 32)
      return p0;
    Value p1 = e.splat(v32f, param(1, k));
    SmallVector<bool> first(32);
    for (int i = 0; i < 32; ++i)
      first[i] = i < 16;
    Value mask = arith::ConstantOp::create(
        e.b, e.loc, DenseElementsAttr::get(e.vec(32, e.b.getI1Type()), first));
    return arith::SelectOp::create(e.b, e.loc, mask, p0, p1).getResult();
  };
  Value y = arith::MulFOp::create(e.b, e.loc, q, laneParam(0));
  if (l.hasMin)
    y = arith::AddFOp::create(e.b, e.loc, y, laneParam(1));
  return y;
}

std::string KernelBuilder::embedding(const PackedLayout &l) {
  std::string name = "embedding_" + l.key() + "_" + std::to_string(l.rows) + "x" +
                     std::to_string(l.cols);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  Value tok = e.arg(0), table = e.arg(1), out = e.arg(2);
  int64_t rowBytes = activationRowBytes(l.cols);
  auto [lo, hi] = e.threadRange(e.tokens);
  e.loop(lo, hi, [&](Value s) {
    Value id = e.load(e.b.getI32Type(), tok, e.mul(s, 4));
    Value row = arith::ExtSIOp::create(e.b, e.loc, e.i64(), id);
    Value dst = e.offset(out, e.mul(s, rowBytes));
    e.loop(e.i64c(0), e.i64c(l.cols / 32), [&](Value blk) {
      e.store(decodeBlock(e, l, table, row, blk), dst, e.mul(blk, 128));
    });
  });
  return name;
}

std::string KernelBuilder::linear(const PackedLayout &l, bool bias, bool residual) {
  std::string name = "linear_" + l.key() + "_" + std::to_string(l.rows) + "x" +
                     std::to_string(l.cols) + (bias ? "_bias" : "") +
                     (residual ? "_res" : "") + "_" + target.name;
  for (char &c : name)
    if (c == '-')
      c = '_';
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  if (l.interleave > 1) {
    emitInterleavedLinear(e, l, target, bias, residual);
    return name;
  }
  OpBuilder &b = e.b;
  Location loc = e.loc;
  LinearArgs args = linearArgs(e, bias, residual);
  Value x = args.x, w = args.w, biasPtr = args.bias, resPtr = args.residual, out = args.out;

  int64_t n = l.rows, k = l.cols;
  bool integer = l.family == KernelFamily::Integer;
  int64_t xRowBytes = integer ? quantizedRowBytes(k) : activationRowBytes(k);
  int64_t outRowBytes = activationRowBytes(n);
  int64_t blocks = l.family == KernelFamily::Float ? l.paddedCols() / 32 : l.blocksPerRow();
  VectorType v32f = e.vec(32, e.f32()), v8f = e.vec(8, e.f32());
  VectorType v8i = e.vec(8, b.getI32Type()), v16s = e.vec(16, b.getI16Type());
  VectorType v32b = e.vec(32, b.getI8Type());
  Type accType = integer ? Type(v8f) : Type(v32f);

  // A tile of `rowCount` weight rows × `count` tokens: each weight block is
  // decoded once for all the tokens (prefill) and each activation block is
  // loaded once for all the rows (decode).
  // Signed 8-bit codes with VNNI: offset to unsigned in-register.
  bool offsetSigned = l.signedCodes && target.vnni && l.subBlock == 32;
  // Software prefetch for decode, which streams every weight byte once.
  // Into all cache levels: a non-temporal hint halved decode of a model that
  // fits in L3 (llama-27m) by evicting it.
  auto prefetchAt = [&](Value ptr) { LLVM::Prefetch::create(b, loc, ptr, 0, 3, 1); };

  // out[s][row] = y (+ bias[row]) (+ residual[s][row]).
  auto storeOutput = [&](Value row, Value s, Value y) {
    if (biasPtr)
      y = arith::AddFOp::create(b, loc, y, e.load(e.f32(), biasPtr, e.mul(row, 4)));
    Value outOff = e.add(e.mul(s, outRowBytes), e.mul(row, 4));
    if (resPtr)
      y = arith::AddFOp::create(b, loc, y, e.load(e.f32(), resPtr, outOff));
    e.store(y, out, outOff);
  };

  // Two-level K-quant layout: per super-block of 256 values, Σ sc_j·(u·a)
  // in int32 (vpmaddubsw, then vpmaddwd against the sub-block scales, or
  // vpdpwssd on VNNI), one float multiply-add by d·da, and the mins as one
  // vector product of mn with the activation block sums.
  auto emitSuperTile = [&](Value row0, int rowCount, Value s0, int count) {
    // Decode streams the weights once: prefetch them (prefill reuses each
    // tile across tokens, and is not bound by the stream).
    bool prefetch = count == 1 && rowCount > 1;
    constexpr int64_t kPrefetchSuperBlocks = 16;
    int64_t supers = k / 256, subs = l.subBlocksPerSuperBlock();
    int64_t cb = l.codeBytesPerBlock(), pb = l.paramBytesPerBlock();
    VectorType v16f = e.vec(16, e.f32()), v8s = e.vec(8, b.getI16Type());
    SmallVector<Value> xrows;
    for (int c = 0; c < count; ++c)
      xrows.push_back(e.offset(x, e.mul(e.add(s0, e.i64c(c)), xRowBytes)));
    auto at = [&](int r, int c) { return 2 * (r * count + c); };
    SmallVector<Value> init;
    for (int i = 0; i < 2 * rowCount * count; ++i)
      init.push_back(e.constVec(v8f, b.getF32FloatAttr(0)));
    SmallVector<int64_t> evens, odds;
    for (int i = 0; i < 8; ++i) {
      evens.push_back(2 * i);
      odds.push_back(2 * i + 1);
    }
    ValueRange sums = e.loop(
        e.i64c(0), e.i64c(supers), 1, init,
        [&](Value sb, ValueRange acc) -> SmallVector<Value> {
          SmallVector<Value> next(acc.begin(), acc.end());
          Value firstBlock = e.mul(sb, 8);
          // Activation block sums of the super-block (per 16 values), folded
          // to per-sub-block sums.
          SmallVector<Value> da, actSums;
          for (int c = 0; c < count; ++c) {
            da.push_back(e.load(e.f32(), xrows[c], e.add(e.i64c(k), e.mul(firstBlock, 4))));
            Value s16 = e.load(v16f, xrows[c], e.add(e.i64c(k + k / 32 * 4), e.mul(firstBlock, 8)));
            if (subs == 8) {
              Value ev = vector::ShuffleOp::create(b, loc, s16, s16, evens);
              Value od = vector::ShuffleOp::create(b, loc, s16, s16, odds);
              actSums.push_back(arith::AddFOp::create(b, loc, ev, od));
            } else {
              actSums.push_back(s16);
            }
          }
          for (int r = 0; r < rowCount; ++r) {
            Value row = e.add(row0, e.i64c(r));
            Value codeBase = e.offset(w, e.mul(e.add(e.mul(row, blocks), firstBlock), cb));
            Value rec = e.offset(
                w, e.add(e.i64c(l.paramsOffset()), e.mul(e.add(e.mul(row, supers), sb), pb)));
            BlockReader rd{e, l};
            if (prefetch) {
              // kPrefetchSuperBlocks ahead along the row's bytes (into the
              // next rows near a row's end): measured best of 2, 4, 8, 16
              // and one whole tile ahead on the 1.1B shape.
              int64_t ahead = kPrefetchSuperBlocks * 8 * cb;
              for (int64_t off = 0; off < 8 * cb; off += 64)
                prefetchAt(e.offset(codeBase, ahead + off));
              prefetchAt(e.offset(rec, kPrefetchSuperBlocks * pb));
            }
            auto scaleAt = [&](int j) {
              Value v = e.load(b.getI8Type(), rec, 8 + j);
              return arith::ExtSIOp::create(b, loc, b.getI16Type(), v).getResult();
            };
            SmallVector<Value> dots(count, e.constVec(v8i, b.getI32IntegerAttr(0)));
            for (int j = 0; j < 8; ++j) {
              Value u = rd.codes(e.offset(codeBase, j * cb));
              Value scale = subs == 8 ? e.splat(v16s, scaleAt(j))
                                      : e.concat(e.splat(v8s, scaleAt(2 * j)),
                                                 e.splat(v8s, scaleAt(2 * j + 1)));
              for (int c = 0; c < count; ++c) {
                Value a = e.load(v32b, xrows[c], e.mul(e.add(firstBlock, e.i64c(j)), 32));
                Value pairs = e.call("llvm.x86.avx2.pmadd.ub.sw", v16s, {u, a});
                if (target.vnni) {
                  dots[c] = e.call("llvm.x86.avx512.vpdpwssd.256", v8i, {dots[c], pairs, scale});
                } else {
                  Value p = e.call("llvm.x86.avx2.pmadd.wd", v8i, {pairs, scale});
                  dots[c] = arith::AddIOp::create(b, loc, dots[c], p);
                }
              }
            }
            Value d = e.load(e.f32(), rec, 0);
            Value negDmin = arith::NegFOp::create(b, loc, e.load(e.f32(), rec, 4));
            Value mins = e.load(e.vec(subs, b.getI8Type()), rec,
                                8 + (l.codeOffset ? 0 : subs));
            mins = arith::SIToFPOp::create(b, loc, e.vec(subs, e.f32()), mins);
            for (int c = 0; c < count; ++c) {
              Value df = arith::SIToFPOp::create(b, loc, v8f, dots[c]);
              Value scale = e.splat(v8f, arith::MulFOp::create(b, loc, d, da[c]));
              next[at(r, c)] = vector::FMAOp::create(b, loc, df, scale, acc[at(r, c)]);
              Value m = arith::MulFOp::create(b, loc, mins, actSums[c]);
              if (subs == 16)
                m = arith::AddFOp::create(b, loc, e.slice(m, 0, 8), e.slice(m, 8, 8));
              next[at(r, c) + 1] =
                  vector::FMAOp::create(b, loc, m, e.splat(v8f, negDmin), acc[at(r, c) + 1]);
            }
          }
          return next;
        });
    for (int r = 0; r < rowCount; ++r)
      for (int c = 0; c < count; ++c)
        storeOutput(e.add(row0, e.i64c(r)), e.add(s0, e.i64c(c)),
                    e.reduceAdd(arith::AddFOp::create(b, loc, sums[at(r, c)],
                                                      sums[at(r, c) + 1])));
  };

  auto emitTile = [&](Value row0, int rowCount, Value s0, int count) {
    if (integer && l.superBlock == 256)
      return emitSuperTile(row0, rowCount, s0, count);
    bool decode = count == 1 && rowCount > 1;
    constexpr int64_t kPrefetchBytes = 2048;
    SmallVector<Value> rowIndex;
    for (int r = 0; r < rowCount; ++r)
      rowIndex.push_back(e.mul(e.add(row0, e.i64c(r)), blocks));
    SmallVector<Value> xrows;
    for (int c = 0; c < count; ++c)
      xrows.push_back(e.offset(x, e.mul(e.add(s0, e.i64c(c)), xRowBytes)));
    // Accumulators: [row][token] vector and scalar (mins).
    auto at = [&](int r, int c) { return 2 * (r * count + c); };
    SmallVector<Value> init;
    for (int i = 0; i < rowCount * count; ++i) {
      init.push_back(e.constVec(cast<VectorType>(accType), b.getF32FloatAttr(0)));
      init.push_back(e.f32c(0));
    }
    ValueRange sums = e.loop(
        e.i64c(0), e.i64c(blocks), 1, init,
        [&](Value blk, ValueRange acc) -> SmallVector<Value> {
          SmallVector<Value> next(acc.begin(), acc.end());
          if (l.family != KernelFamily::Integer) {
            SmallVector<Value> xv;
            for (int c = 0; c < count; ++c)
              xv.push_back(e.load(v32f, xrows[c], e.mul(blk, 128)));
            for (int r = 0; r < rowCount; ++r) {
              Value index = e.add(rowIndex[r], blk);
              Value codeBase = e.offset(w, e.mul(index, l.codeBytesPerBlock()));
              if (decode)
                prefetchAt(e.offset(codeBase, kPrefetchBytes));
              Value wv;
              if (l.family == KernelFamily::Float) {
                wv = floatBlock(e, l.floatEncoding, codeBase, e.i64c(0));
              } else {
                Value paramBase = e.offset(
                    w, e.add(e.i64c(l.paramsOffset()), e.mul(index, l.paramBytesPerBlock())));
                BlockReader rd{e, l};
                Value scale = e.load(e.f32(), paramBase, 0);
                wv = arith::MulFOp::create(b, loc, lookup(e, rd.codes(codeBase), l.fp4Codebook),
                                           e.splat(v32f, scale));
              }
              for (int c = 0; c < count; ++c)
                next[at(r, c)] = vector::FMAOp::create(b, loc, wv, xv[c], acc[at(r, c)]);
            }
            return next;
          }
          // Integer: Σ u·a in int32 lanes (lane j covers values 4j..4j+3).
          SmallVector<Value> a, da, s0v, s1v;
          for (int c = 0; c < count; ++c) {
            a.push_back(e.load(v32b, xrows[c], e.mul(blk, 32)));
            da.push_back(e.load(e.f32(), xrows[c], e.add(e.i64c(k), e.mul(blk, 4))));
            if (l.hasMin || offsetSigned) {
              Value sumBase = e.add(e.i64c(k + k / 32 * 4), e.mul(blk, 8));
              s0v.push_back(e.load(e.f32(), xrows[c], sumBase));
              s1v.push_back(e.load(e.f32(), xrows[c], e.add(sumBase, e.i64c(4))));
            }
          }
          Value firstHalf;
          if (l.subBlock == 16) {
            SmallVector<bool> first(8);
            for (int i = 0; i < 8; ++i)
              first[i] = i < 4;
            firstHalf = arith::ConstantOp::create(
                b, loc, DenseElementsAttr::get(e.vec(8, b.getI1Type()), first));
          }
          for (int r = 0; r < rowCount; ++r) {
            Value index = e.add(rowIndex[r], blk);
            Value codeBase = e.offset(w, e.mul(index, l.codeBytesPerBlock()));
            Value paramIndex =
                l.paramBlocks > 1
                    ? e.add(e.mul(e.add(row0, e.i64c(r)), blocks / l.paramBlocks),
                            arith::DivUIOp::create(b, loc, blk, e.i64c(l.paramBlocks)))
                    : index;
            Value paramBase = e.offset(
                w, e.add(e.i64c(l.paramsOffset()), e.mul(paramIndex, l.paramBytesPerBlock())));
            if (decode) {
              prefetchAt(e.offset(codeBase, kPrefetchBytes));
              prefetchAt(e.offset(paramBase, kPrefetchBytes / l.codeBytesPerBlock() /
                                                 l.paramBlocks * l.paramBytesPerBlock()));
            }
            BlockReader rd{e, l};
            Value u = rd.codes(codeBase);
            Value negW;
            if (offsetSigned) {
              // VNNI sums u8×s8 in int32 without saturation: w + 128 as
              // unsigned, and -128·d·Σa back through the block sums.
              u = arith::XOrIOp::create(b, loc, u, rd.byteSplat(32, -128));
            } else if (l.signedCodes) {
              // |w|·sign(a, w): unsigned×signed bytes without overflow.
              negW = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, u,
                                           rd.byteSplat(32, 0));
              u = math::AbsIOp::create(b, loc, u);
            }
            Value d0 = rd.param(paramBase, 0, 0);
            Value d1 = l.subBlock == 16 ? rd.param(paramBase, 1, 0) : Value();
            Value m0 = l.hasMin ? rd.param(paramBase, 0, 1) : Value();
            Value m1 = l.hasMin && l.subBlock == 16 ? rd.param(paramBase, 1, 1) : Value();
            for (int c = 0; c < count; ++c) {
              Value ac = a[c];
              if (negW)
                ac = arith::SelectOp::create(
                    b, loc, negW, arith::SubIOp::create(b, loc, rd.byteSplat(32, 0), ac), ac);
              Value dot;
              if (target.vnni) {
                dot = e.call("llvm.x86.avx512.vpdpbusd.256", v8i,
                             {e.constVec(v8i, b.getI32IntegerAttr(0)), u, ac});
              } else {
                Value pairs = e.call("llvm.x86.avx2.pmadd.ub.sw", v16s, {u, ac});
                dot = e.call("llvm.x86.avx2.pmadd.wd", v8i,
                             {pairs, e.constVec(v16s, b.getI16IntegerAttr(1))});
              }
              Value scale = e.splat(v8f, arith::MulFOp::create(b, loc, d0, da[c]));
              if (d1)
                scale = arith::SelectOp::create(
                    b, loc, firstHalf, scale,
                    e.splat(v8f, arith::MulFOp::create(b, loc, d1, da[c])));
              Value df = arith::SIToFPOp::create(b, loc, v8f, dot);
              next[at(r, c)] = vector::FMAOp::create(b, loc, df, scale, acc[at(r, c)]);
              if (offsetSigned) {
                // The offset codes' mins: -128·d per sub-block of 32.
                Value off = arith::MulFOp::create(b, loc, d0, e.f32c(-128.0f));
                Value both = arith::AddFOp::create(b, loc, s0v[c], s1v[c]);
                next[at(r, c) + 1] = math::FmaOp::create(b, loc, off, both,
                                                         next[at(r, c) + 1]);
              }
              if (m0) {
                Value m = next[at(r, c) + 1];
                if (!m1) {
                  m = math::FmaOp::create(b, loc, m0,
                                          arith::AddFOp::create(b, loc, s0v[c], s1v[c]), m);
                } else {
                  m = math::FmaOp::create(b, loc, m0, s0v[c], m);
                  m = math::FmaOp::create(b, loc, m1, s1v[c], m);
                }
                next[at(r, c) + 1] = m;
              }
            }
          }
          return next;
        });
    for (int r = 0; r < rowCount; ++r)
      for (int c = 0; c < count; ++c)
        storeOutput(e.add(row0, e.i64c(r)), e.add(s0, e.i64c(c)),
                    arith::AddFOp::create(b, loc, e.reduceAdd(sums[at(r, c)]),
                                          sums[at(r, c) + 1]));
  };

  // Prefill: 1 row × 4 tokens (2 for float weights on AVX2, whose
  // accumulators are wider); decode: 4 rows × 1 token (2 for AVX2 floats).
  bool narrow = l.family == KernelFamily::Float && !target.avx512;
  int tokenTile = narrow ? 2 : 4, rowTile = narrow ? 2 : 4;
  auto [lo, hi] = e.threadRange(e.i64c(n));
  Value tiled = e.mul(arith::DivSIOp::create(b, loc, e.tokens, e.i64c(tokenTile)), tokenTile);
  Value rowsTiled = e.add(
      lo, e.mul(arith::DivSIOp::create(b, loc, arith::SubIOp::create(b, loc, hi, lo),
                                       e.i64c(rowTile)),
                rowTile));
  if (integer) {
    e.loop(lo, hi, [&](Value row) {
      e.loop(e.i64c(0), tiled, tokenTile, {}, [&](Value s0, ValueRange) {
        emitTile(row, 1, s0, tokenTile);
        return SmallVector<Value>{};
      });
    });
  } else {
    // Float and lookup weights read f32 activations, 4 bytes a value: the
    // tokens go in chunks of about 512 KiB of activations, which stay in L2
    // while every row of the thread passes over them (all tokens at once
    // streamed them from L3 for each row), and on AVX-512 a tile is 2 rows
    // × 4 tokens, so each activation vector loaded feeds 2 rows.
    int64_t chunk = std::clamp<int64_t>(512 * 1024 / (k * 4) / tokenTile * tokenTile,
                                        tokenTile, 256);
    int pairRows = narrow ? 1 : 2;
    Value rowsPaired = e.add(
        lo, e.mul(arith::DivSIOp::create(b, loc, arith::SubIOp::create(b, loc, hi, lo),
                                         e.i64c(pairRows)),
                  pairRows));
    e.loop(e.i64c(0), tiled, chunk, {}, [&](Value c0, ValueRange) {
      Value c1 = arith::MinSIOp::create(b, loc, e.add(c0, e.i64c(chunk)), tiled);
      auto tokensOf = [&](Value row0, int rows) {
        e.loop(c0, c1, tokenTile, {}, [&](Value s0, ValueRange) {
          emitTile(row0, rows, s0, tokenTile);
          return SmallVector<Value>{};
        });
      };
      e.loop(lo, rowsPaired, pairRows, {}, [&](Value row0, ValueRange) {
        tokensOf(row0, pairRows);
        return SmallVector<Value>{};
      });
      e.loop(rowsPaired, hi, [&](Value row) { tokensOf(row, 1); });
      return SmallVector<Value>{};
    });
  }
  // Row tiles for the tokens left after the token tiles (all of them when
  // decoding), then the rows left one by one.
  e.loop(tiled, e.tokens, [&](Value s) {
    e.loop(lo, rowsTiled, rowTile, {}, [&](Value row0, ValueRange) {
      emitTile(row0, rowTile, s, 1);
      return SmallVector<Value>{};
    });
    e.loop(rowsTiled, hi, [&](Value row) { emitTile(row, 1, s, 1); });
  });
  return name;
}
