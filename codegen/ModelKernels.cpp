//===- ModelKernels.cpp - Norm, rope, attention and elementwise kernels ---===//
#include "KernelEmitter.h"
#include "lowbit/Runtime/ArtifactFormat.h"

#include "llvm/TargetParser/Host.h"

#include <cmath>

using namespace mlir;
using namespace ::lowbit;

auto ::lowbit::resolveCpuTarget(StringRef name) -> std::optional<CpuTarget> {
  CpuTarget t;
  t.name = name.str();
  std::vector<std::string> v3 = {"avx", "avx2", "fma", "f16c", "bmi2"};
  if (name == "x86-64-v3") {
    t.cpu = "x86-64-v3";
    t.requiredFeatures = v3;
  } else if (name == "x86-64-v4") {
    t.cpu = "x86-64-v4";
    t.features = "+avx512vnni";
    t.avx512 = t.vnni = true;
    t.requiredFeatures = v3;
    for (const char *f : {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512vnni"})
      t.requiredFeatures.push_back(f);
  } else if (name == "native") {
    llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
    bool v4 = host.lookup("avx512f") && host.lookup("avx512bw") &&
              host.lookup("avx512vl") && host.lookup("avx512vnni");
    if (!host.lookup("avx2") || !host.lookup("fma") || !host.lookup("f16c"))
      return std::nullopt;
    t = *resolveCpuTarget(v4 ? "x86-64-v4" : "x86-64-v3");
    t.name = "native";
    t.cpu = llvm::sys::getHostCPUName().str();
  } else {
    return std::nullopt;
  }
  return t;
}

/// Values of one token's row, 32 at a time: (byte offset in the row) -> v32f.
using ChunkReader = std::function<Value(Value)>;

/// Rounds `width` values per token to int8 as `mode` into xq (layout in
/// Kernels.h), the values coming from `rowReader(token)`; the rounding the
/// linears read, fused behind the op that produces the values.
static void emitQuantize(KernelEmitter &e, int64_t width, ActivationQuant mode, Value xq,
                         const std::function<ChunkReader(Value)> &rowReader) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t super = mode == ActivationQuant::Q8_K ? 256
                  : mode == ActivationQuant::Row ? width
                                                 : 32;
  VectorType v32f = e.vec(32, e.f32()), v32i = e.vec(32, b.getI32Type());
  // Threads split tokens × super-blocks, so a single token is shared too.
  int64_t perRow = width / super;
  auto [lo, hi] = e.threadRange(e.mul(e.tokens, perRow));
  e.loop(lo, hi, [&](Value item) {
    Value s = arith::DivUIOp::create(b, loc, item, e.i64c(perRow));
    Value sb = arith::RemUIOp::create(b, loc, item, e.i64c(perRow));
    ChunkReader read = rowReader(s);
    Value dst = e.offset(xq, e.mul(s, quantizedRowBytes(width)));
    {
      Value base = e.mul(sb, super * 4);
      Value ninf = e.constVec(v32f, b.getF32FloatAttr(-INFINITY));
      Value pinf = e.constVec(v32f, b.getF32FloatAttr(INFINITY));
      ValueRange ext = e.loop(e.i64c(0), e.i64c(super / 32), 1, {ninf, pinf},
                              [&](Value c, ValueRange mm) -> SmallVector<Value> {
                                Value v = read(e.add(base, e.mul(c, 128)));
                                return {arith::MaximumFOp::create(b, loc, mm[0], v),
                                        arith::MinimumFOp::create(b, loc, mm[1], v)};
                              });
      Value vmax = vector::ReductionOp::create(b, loc, vector::CombiningKind::MAXIMUMF, ext[0]);
      Value vmin = vector::ReductionOp::create(b, loc, vector::CombiningKind::MINIMUMF, ext[1]);
      Value negMin = arith::NegFOp::create(b, loc, vmin);
      Value amax = arith::MaximumFOp::create(b, loc, vmax, negMin);
      Value zero = e.f32c(0);
      Value isZero = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, amax, zero);
      Value inv, d;
      if (mode == ActivationQuant::Q8_K) {
        // ggml's Q8_K: the value of largest magnitude maps to -127.
        Value useMin = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, negMin, vmax);
        Value mx = arith::SelectOp::create(b, loc, useMin, vmin, vmax);
        Value iscale = arith::DivFOp::create(b, loc, e.f32c(-127.0f), mx);
        inv = arith::SelectOp::create(b, loc, isZero, zero, iscale);
        d = arith::SelectOp::create(
            b, loc, isZero, zero, arith::DivFOp::create(b, loc, e.f32c(1.0f), iscale));
      } else {
        Value dv = arith::DivFOp::create(b, loc, amax, e.f32c(127.0f));
        inv = arith::SelectOp::create(
            b, loc, isZero, zero, arith::DivFOp::create(b, loc, e.f32c(1.0f), dv));
        d = dv;
        if (mode == ActivationQuant::Q8_0 || mode == ActivationQuant::Q8_1) {
          // The dot uses the f16-rounded scale ggml stores.
          Value h = arith::TruncFOp::create(b, loc, b.getF16Type(), dv);
          d = arith::ExtFOp::create(b, loc, e.f32(), h);
        }
      }
      Value invV = e.splat(v32f, inv);
      e.loop(e.i64c(0), e.i64c(super / 32), [&](Value c) {
        Value block = e.add(e.mul(sb, super / 32), c);
        Value v = read(e.add(base, e.mul(c, 128)));
        Value r = math::RoundEvenOp::create(b, loc, arith::MulFOp::create(b, loc, v, invV));
        r = arith::MinimumFOp::create(b, loc, r, e.constVec(v32f, b.getF32FloatAttr(127)));
        r = arith::MaximumFOp::create(b, loc, r, e.constVec(v32f, b.getF32FloatAttr(-128)));
        Value q = arith::FPToSIOp::create(b, loc, v32i, r);
        e.store(arith::TruncIOp::create(b, loc, e.vec(32, b.getI8Type()), q), dst,
                e.mul(block, 32));
        e.store(d, dst, e.add(e.i64c(width), e.mul(block, 4)));
        Value sums[2];
        for (int half = 0; half < 2; ++half) {
          Value part = arith::SIToFPOp::create(b, loc, e.vec(16, e.f32()), e.slice(q, 16 * half, 16));
          sums[half] = arith::MulFOp::create(b, loc, e.reduceAdd(part), d);
        }
        if (mode == ActivationQuant::Q8_1) {
          // Q8_1 keeps one block sum, as f16: the kernel adds both halves.
          Value whole = arith::AddFOp::create(b, loc, sums[0], sums[1]);
          Value h = arith::TruncFOp::create(b, loc, b.getF16Type(), whole);
          sums[0] = arith::ExtFOp::create(b, loc, e.f32(), h);
          sums[1] = e.f32c(0);
        }
        for (int half = 0; half < 2; ++half)
          e.store(sums[half], dst,
                  e.add(e.i64c(width + width / 32 * 4 + 4 * half), e.mul(block, 8)));
      });
    }
  });
}

/// "<what>quantize_<mode>_<width>": the rounding kernels, alone or fused.
static std::string quantizeKernelName(llvm::StringRef what, ActivationQuant mode,
                                      int64_t width) {
  static const char *kModes[] = {"q8_0", "q8_k", "b32", "row", "q8_1"};
  return what.str() + "quantize_" + kModes[int(mode)] + "_" + std::to_string(width);
}

std::string KernelBuilder::quantizeActivations(int64_t width, ActivationQuant mode) {
  std::string name = quantizeKernelName("", mode, width);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  Value x = e.arg(0), xq = e.arg(1);
  VectorType v32f = e.vec(32, e.f32());
  emitQuantize(e, width, mode, xq, [&](Value s) -> ChunkReader {
    Value src = e.offset(x, e.mul(s, activationRowBytes(width)));
    return [&e, src, v32f](Value off) { return e.load(v32f, src, off); };
  });
  return name;
}

/// 1/sqrt(mean(x²) + epsilon) of the row at `src`.
static Value rmsScale(KernelEmitter &e, Value src, int64_t width, float epsilon) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  VectorType v32f = e.vec(32, e.f32());
  Value zero = e.constVec(v32f, b.getF32FloatAttr(0));
  Value acc = e.loop(e.i64c(0), e.i64c(width / 32), 1, {zero},
                     [&](Value c, ValueRange a) -> SmallVector<Value> {
                       Value v = e.load(v32f, src, e.mul(c, 128));
                       return {vector::FMAOp::create(b, loc, v, v, a[0])};
                     })[0];
  Value mean = arith::DivFOp::create(b, loc, e.reduceAdd(acc), e.f32c(float(width)));
  return arith::DivFOp::create(
      b, loc, e.f32c(1.0f),
      math::SqrtOp::create(b, loc, arith::AddFOp::create(b, loc, mean, e.f32c(epsilon))));
}

/// silu(g)·u.
static Value swigluOf(KernelEmitter &e, Value g, Value u) {
  VectorType t = cast<VectorType>(g.getType());
  Value one = e.constVec(t, e.b.getF32FloatAttr(1));
  Value ex = math::ExpOp::create(e.b, e.loc, arith::NegFOp::create(e.b, e.loc, g));
  Value silu = arith::DivFOp::create(e.b, e.loc, g, arith::AddFOp::create(e.b, e.loc, one, ex));
  return arith::MulFOp::create(e.b, e.loc, silu, u);
}

std::string KernelBuilder::rmsNormQuantize(int64_t width, float epsilon, ActivationQuant mode) {
  std::string name =
      quantizeKernelName("rms_norm_", mode, width) + "_" + kernelNameNumber(epsilon);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  Value x = e.arg(0), w = e.arg(1), xq = e.arg(2);
  VectorType v32f = e.vec(32, e.f32());
  // Each work item (token, super-block) recomputes its row's norm: a pass
  // over one row is cheaper than a barrier.
  emitQuantize(e, width, mode, xq, [&](Value s) -> ChunkReader {
    Value src = e.offset(x, e.mul(s, activationRowBytes(width)));
    Value scale = e.splat(v32f, rmsScale(e, src, width, epsilon));
    return [&e, src, w, scale, v32f](Value off) -> Value {
      Value v = arith::MulFOp::create(e.b, e.loc, e.load(v32f, src, off), scale);
      return arith::MulFOp::create(e.b, e.loc, v, e.load(v32f, w, off));
    };
  });
  return name;
}

std::string KernelBuilder::swigluQuantize(int64_t width, ActivationQuant mode) {
  std::string name = quantizeKernelName("swiglu_", mode, width);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  Value gate = e.arg(0), up = e.arg(1), xq = e.arg(2);
  VectorType v32f = e.vec(32, e.f32());
  emitQuantize(e, width, mode, xq, [&](Value s) -> ChunkReader {
    Value row = e.mul(s, activationRowBytes(width));
    Value g = e.offset(gate, row), u = e.offset(up, row);
    return [&e, g, u, v32f](Value off) {
      return swigluOf(e, e.load(v32f, g, off), e.load(v32f, u, off));
    };
  });
  return name;
}

std::string KernelBuilder::permuteColumns(int64_t width) {
  std::string name = "permute_columns_" + std::to_string(width);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  Value x = e.arg(0), order = e.arg(1), out = e.arg(2);
  int64_t rowBytes = activationRowBytes(width);
  auto [lo, hi] = e.threadRange(e.tokens);
  e.loop(lo, hi, [&](Value s) {
    Value src = e.offset(x, e.mul(s, rowBytes)), dst = e.offset(out, e.mul(s, rowBytes));
    e.loop(e.i64c(0), e.i64c(width), [&](Value j) {
      Value c = e.load(e.b.getI32Type(), order, e.mul(j, 4));
      Value ci = arith::ExtSIOp::create(e.b, e.loc, e.i64(), c);
      e.store(e.load(e.f32(), src, e.mul(ci, 4)), dst, e.mul(j, 4));
    });
  });
  return name;
}

std::string KernelBuilder::rmsNorm(int64_t width, float epsilon) {
  std::string name = "rms_norm_" + std::to_string(width) + "_" +
                     kernelNameNumber(epsilon);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value x = e.arg(0), w = e.arg(1), out = e.arg(2);
  VectorType v32f = e.vec(32, e.f32());
  int64_t rowBytes = activationRowBytes(width);
  auto [lo, hi] = e.threadRange(e.tokens);
  e.loop(lo, hi, [&](Value s) {
    Value src = e.offset(x, e.mul(s, rowBytes)), dst = e.offset(out, e.mul(s, rowBytes));
    Value scaleV = e.splat(v32f, rmsScale(e, src, width, epsilon));
    e.loop(e.i64c(0), e.i64c(width / 32), [&](Value c) {
      Value off = e.mul(c, 128);
      Value v = arith::MulFOp::create(b, loc, e.load(v32f, src, off), scaleV);
      e.store(arith::MulFOp::create(b, loc, v, e.load(v32f, w, off)), dst, off);
    });
  });
  return name;
}

std::string KernelBuilder::rope(int64_t heads, int64_t headDim, float theta,
                                bool interleaved) {
  std::string name = "rope_" + std::to_string(heads) + "x" + std::to_string(headDim) +
                     "_" + kernelNameNumber(theta) + (interleaved ? "_pairs" : "_halves");
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value x = e.arg(0), positions = e.arg(1), out = e.arg(2);
  int64_t rowBytes = activationRowBytes(heads * headDim);
  auto [lo, hi] = e.threadRange(e.tokens);
  e.loop(lo, hi, [&](Value s) {
    Value src = e.offset(x, e.mul(s, rowBytes)), dst = e.offset(out, e.mul(s, rowBytes));
    Value pos = arith::SIToFPOp::create(
        b, loc, e.f32(), e.load(b.getI32Type(), positions, e.mul(s, 4)));
    e.loop(e.i64c(0), e.i64c(headDim / 2), [&](Value i) {
      // theta^(-2i/d), as Hugging Face's inv_freq.
      Value fi = arith::SIToFPOp::create(b, loc, e.f32(), i);
      Value expo = arith::MulFOp::create(b, loc, fi, e.f32c(-2.0f / float(headDim)));
      Value freq = math::PowFOp::create(b, loc, e.f32c(theta), expo);
      Value angle = arith::MulFOp::create(b, loc, pos, freq);
      Value c = math::CosOp::create(b, loc, angle), sn = math::SinOp::create(b, loc, angle);
      e.loop(e.i64c(0), e.i64c(heads), [&](Value h) {
        Value headBase = e.mul(h, headDim * 4);
        Value ia = interleaved ? e.mul(i, 8) : e.mul(i, 4);
        Value ib = e.add(ia, e.i64c(interleaved ? 4 : headDim / 2 * 4));
        ia = e.add(headBase, ia);
        ib = e.add(headBase, ib);
        Value xa = e.load(e.f32(), src, ia), xb = e.load(e.f32(), src, ib);
        Value ya = arith::SubFOp::create(b, loc, arith::MulFOp::create(b, loc, xa, c),
                                         arith::MulFOp::create(b, loc, xb, sn));
        Value yb = arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, xa, sn),
                                         arith::MulFOp::create(b, loc, xb, c));
        e.store(ya, dst, ia);
        e.store(yb, dst, ib);
      });
    });
  });
  return name;
}

std::string KernelBuilder::kvStore(int64_t width) {
  std::string name = "kv_store_" + std::to_string(width);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  Value k = e.arg(0), v = e.arg(1), positions = e.arg(2), kc = e.arg(3), vc = e.arg(4);
  int64_t rowBytes = activationRowBytes(width);
  VectorType v32f = e.vec(32, e.f32()), v32h = e.vec(32, e.b.getF16Type());
  // Rounded through f16 as llama.cpp's default KV cache holds them.
  auto viaHalf = [&](Value x) {
    Value h = arith::TruncFOp::create(e.b, e.loc, v32h, x);
    return arith::ExtFOp::create(e.b, e.loc, v32f, h).getResult();
  };
  auto [lo, hi] = e.threadRange(e.tokens);
  e.loop(lo, hi, [&](Value s) {
    Value p = arith::ExtSIOp::create(e.b, e.loc, e.i64(),
                                     e.load(e.b.getI32Type(), positions, e.mul(s, 4)));
    Value src = e.mul(s, rowBytes);
    // Values: row-major, one row of `width` per position.
    Value vdst = e.mul(p, width * 4);
    // Keys: tiled by kKeyCacheTile positions (KernelBuilder::attention), value
    // (d of the row) of position p at ((p / tile)·width + d)·tile + p % tile.
    Value tile = arith::DivSIOp::create(e.b, e.loc, p, e.i64c(kKeyCacheTile));
    Value lane = arith::RemSIOp::create(e.b, e.loc, p, e.i64c(kKeyCacheTile));
    Value kdst = e.mul(e.add(e.mul(tile, width * kKeyCacheTile), lane), 4);
    e.loop(e.i64c(0), e.i64c(width / 32), [&](Value c) {
      Value off = e.mul(c, 128);
      e.store(viaHalf(e.load(v32f, v, e.add(src, off))), vc, e.add(vdst, off));
      Value key = viaHalf(e.load(v32f, k, e.add(src, off)));
      Value base = e.add(kdst, e.mul(c, 32 * kKeyCacheTile * 4));
      for (int64_t i = 0; i < 32; ++i)
        e.store(vector::ExtractOp::create(e.b, e.loc, key, i), kc,
                e.add(base, e.i64c(i * kKeyCacheTile * 4)));
    });
  });
  return name;
}

std::string KernelBuilder::attention(int64_t heads, int64_t kvHeads, int64_t headDim) {
  std::string name = "attention_" + std::to_string(heads) + "_" +
                     std::to_string(kvHeads) + "_" + std::to_string(headDim);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value q = e.arg(0), positions = e.arg(1), kc = e.arg(2), vc = e.arg(3), out = e.arg(4);
  int64_t rowBytes = activationRowBytes(heads * headDim);
  int64_t kvWidth = kvHeads * headDim, vRow = kvWidth * 4;
  int64_t group = heads / kvHeads;
  constexpr int64_t J = kKeyCacheTile;
  VectorType vh = e.vec(headDim, e.f32()), vj = e.vec(J, e.f32());
  VectorType vji = e.vec(J, e.i64());
  float scale = 1.0f / std::sqrt(float(headDim));
  // A work item is one KV head × a tile of consecutive tokens: its queries
  // (the tile's tokens × the heads sharing the KV head) read each block of
  // J keys once. Scores come from the key-tiled cache as vectors of J
  // positions (one broadcast multiply-add per query and dimension, no
  // horizontal sums), the online softmax runs on those vectors, and the
  // values are added row by row.
  const int64_t tileTokens = std::max<int64_t>(1, 8 / group);
  const int64_t queries = tileTokens * group;
  Value tiles = arith::DivSIOp::create(b, loc, e.add(e.tokens, e.i64c(tileTokens - 1)),
                                       e.i64c(tileTokens));
  auto [lo, hi] = e.threadRange(e.mul(tiles, kvHeads));
  e.loop(lo, hi, [&](Value item) {
    // Tiles in the order 0, n-1, 1, n-2, ...: a causal prefill's work grows
    // with the position, and contiguous thread ranges of this order get equal
    // shares of it.
    Value rank = arith::DivSIOp::create(b, loc, item, e.i64c(kvHeads));
    Value half = arith::DivSIOp::create(b, loc, rank, e.i64c(2));
    Value odd = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                                      arith::RemSIOp::create(b, loc, rank, e.i64c(2)), e.i64c(0));
    Value fromEnd = arith::SubIOp::create(b, loc, arith::SubIOp::create(b, loc, tiles, e.i64c(1)),
                                          half);
    Value tile = arith::SelectOp::create(b, loc, odd, fromEnd, half);
    Value g = arith::RemSIOp::create(b, loc, item, e.i64c(kvHeads));
    Value lastToken = arith::SubIOp::create(b, loc, e.tokens, e.i64c(1));
    // Query i: token tile·T + i / group (the last token again past the end:
    // it recomputes and rewrites the same row), head g·group + i % group.
    SmallVector<Value> qOff, ends;
    Value minEnd, maxEnd;
    for (int64_t i = 0; i < queries; ++i) {
      Value s = arith::MinSIOp::create(b, loc, e.add(e.mul(tile, tileTokens), e.i64c(i / group)),
                                       lastToken);
      Value h = e.add(e.mul(g, group), e.i64c(i % group));
      qOff.push_back(e.add(e.mul(s, rowBytes), e.mul(h, headDim * 4)));
      if (i % group)
        continue;
      Value pos = arith::ExtSIOp::create(b, loc, e.i64(),
                                         e.load(b.getI32Type(), positions, e.mul(s, 4)));
      Value end = e.add(pos, e.i64c(1));
      ends.push_back(end);
      minEnd = minEnd ? arith::MinSIOp::create(b, loc, minEnd, end).getResult() : end;
      maxEnd = maxEnd ? arith::MaxSIOp::create(b, loc, maxEnd, end).getResult() : end;
    }
    auto endOf = [&](int64_t i) { return ends[size_t(i / group)]; };
    // Scalar exps go through a vector lane, so that they take the same
    // polynomial as the vector ones instead of a libm call.
    auto scalarExp = [&](Value x) -> Value {
      Value v = math::ExpOp::create(b, loc, e.splat(e.vec(8, e.f32()), x));
      return vector::ExtractOp::create(b, loc, v, int64_t(0));
    };
    Value iota = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vji, ArrayRef<int64_t>(llvm::to_vector(llvm::seq<int64_t>(0, J)))));
    // State per query: acc (headDim values), running max m and sum l.
    SmallVector<Value> init;
    for (int64_t i = 0; i < queries; ++i) {
      init.push_back(e.constVec(vh, b.getF32FloatAttr(0)));
      init.push_back(e.f32c(-INFINITY));
      init.push_back(e.f32c(0));
    }
    // One block of J keys from j0; `masked`: some keys lie past a query's
    // end, so their scores are -inf and their values are not read.
    auto block = [&](Value j0, ValueRange c, bool masked) -> SmallVector<Value> {
      Value kBlock = e.offset(kc, e.mul(e.add(e.mul(arith::DivSIOp::create(b, loc, j0, e.i64c(J)),
                                                    kvWidth),
                                              e.mul(g, headDim)),
                                        J * 4));
      SmallVector<Value> scores(size_t(queries), e.constVec(vj, b.getF32FloatAttr(0)));
      for (int64_t d = 0; d < headDim; ++d) {
        Value keys = e.load(vj, kBlock, d * J * 4);
        for (int64_t i = 0; i < queries; ++i)
          scores[size_t(i)] = vector::FMAOp::create(
              b, loc, e.splat(vj, e.load(e.f32(), q, e.add(qOff[size_t(i)], e.i64c(4 * d)))),
              keys, scores[size_t(i)]);
      }
      SmallVector<Value> next;
      Value lanes = arith::AddIOp::create(b, loc, iota, e.splat(vji, j0));
      for (int64_t i = 0; i < queries; ++i) {
        Value acc = c[3 * i], m = c[3 * i + 1], l = c[3 * i + 2];
        Value sc = arith::MulFOp::create(b, loc, scores[size_t(i)], e.splat(vj, e.f32c(scale)));
        if (masked) {
          Value live = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, lanes,
                                             e.splat(vji, endOf(i)));
          sc = arith::SelectOp::create(b, loc, live, sc, e.splat(vj, e.f32c(-INFINITY)));
        }
        Value top = vector::ReductionOp::create(b, loc, vector::CombiningKind::MAXIMUMF, sc);
        Value mNew = arith::MaximumFOp::create(b, loc, m, top);
        Value corr = scalarExp(arith::SubFOp::create(b, loc, m, mNew));
        Value p = math::ExpOp::create(b, loc,
                                      arith::SubFOp::create(b, loc, sc, e.splat(vj, mNew)));
        Value lNew = math::FmaOp::create(b, loc, l, corr, e.reduceAdd(p));
        acc = arith::MulFOp::create(b, loc, acc, e.splat(vh, corr));
        auto addValue = [&](Value j, Value pj, Value a) -> Value {
          Value off = e.add(e.mul(e.add(j0, j), vRow), e.mul(g, headDim * 4));
          return vector::FMAOp::create(b, loc, e.splat(vh, pj), e.load(vh, vc, off), a);
        };
        for (int64_t jj = 0; jj < J; ++jj) {
          Value added = addValue(e.i64c(jj), vector::ExtractOp::create(b, loc, p, jj), acc);
          if (masked) {
            // Past the end p is 0, but the cache row there may be stale: skip it.
            Value live = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                               e.add(j0, e.i64c(jj)), endOf(i));
            added = arith::SelectOp::create(b, loc, live, added, acc);
          }
          acc = added;
        }
        next.append({acc, mNew, lNew});
      }
      return next;
    };
    // Blocks every query sees whole, then the ragged ones up to the last end.
    Value full = e.mul(arith::DivSIOp::create(b, loc, minEnd, e.i64c(J)), J);
    ValueRange st = e.loop(e.i64c(0), full, J, init,
                           [&](Value j0, ValueRange c) { return block(j0, c, false); });
    st = e.loop(full, maxEnd, J, st, [&](Value j0, ValueRange c) { return block(j0, c, true); });
    for (int64_t i = 0; i < queries; ++i) {
      Value inv = arith::DivFOp::create(b, loc, e.f32c(1.0f), st[3 * i + 2]);
      e.store(arith::MulFOp::create(b, loc, st[3 * i], e.splat(vh, inv)), out, qOff[size_t(i)]);
    }
  });
  return name;
}

/// out = f(a, c) over tokens × width values, split in 32-value chunks.
static void elementwise(KernelEmitter &e, int64_t width,
                        const std::function<Value(Value, Value)> &f) {
  VectorType v32f = e.vec(32, e.f32());
  Value a = e.arg(0), c = e.arg(1), out = e.arg(2);
  Value chunks = e.mul(e.tokens, activationRowBytes(width) / 128);
  auto [lo, hi] = e.threadRange(chunks);
  e.loop(lo, hi, [&](Value i) {
    Value off = e.mul(i, 128);
    e.store(f(e.load(v32f, a, off), e.load(v32f, c, off)), out, off);
  });
}

std::string KernelBuilder::swiglu(int64_t width) {
  std::string name = "swiglu_" + std::to_string(width);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  elementwise(e, width, [&](Value g, Value u) { return swigluOf(e, g, u); });
  return name;
}

std::string KernelBuilder::add(int64_t width) {
  std::string name = "add_" + std::to_string(width);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  elementwise(e, width, [&](Value a, Value c) {
    return arith::AddFOp::create(e.b, e.loc, a, c).getResult();
  });
  return name;
}

std::string KernelBuilder::splitColumns(int64_t width, int64_t columns) {
  std::string name = "split_columns_" + std::to_string(width) + "_" + std::to_string(columns);
  if (!firstUse(name))
    return name;
  KernelEmitter e(module, name);
  Value x = e.arg(0), cols = e.arg(1), inl = e.arg(2), outl = e.arg(3);
  int64_t rowBytes = activationRowBytes(width), outBytes = activationRowBytes(columns);
  VectorType v32f = e.vec(32, e.f32());
  auto [lo, hi] = e.threadRange(e.tokens);
  e.loop(lo, hi, [&](Value s) {
    Value src = e.offset(x, e.mul(s, rowBytes)), dst = e.offset(inl, e.mul(s, rowBytes));
    Value od = e.offset(outl, e.mul(s, outBytes));
    e.loop(e.i64c(0), e.i64c(width / 32), [&](Value c) {
      e.store(e.load(v32f, src, e.mul(c, 128)), dst, e.mul(c, 128));
    });
    // Zero the padding of the outlier row so the float kernel reads zeros.
    e.loop(e.i64c(0), e.i64c(outBytes / 128), [&](Value c) {
      e.store(e.constVec(v32f, e.b.getF32FloatAttr(0)), od, e.mul(c, 128));
    });
    e.loop(e.i64c(0), e.i64c(columns), [&](Value i) {
      Value c = arith::ExtSIOp::create(e.b, e.loc, e.i64(),
                                       e.load(e.b.getI32Type(), cols, e.mul(i, 4)));
      e.store(e.load(e.f32(), src, e.mul(c, 4)), od, e.mul(i, 4));
      e.store(e.f32c(0), dst, e.mul(c, 4));
    });
  });
  return name;
}
