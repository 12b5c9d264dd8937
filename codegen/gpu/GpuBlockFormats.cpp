//===- GpuBlockFormats.cpp - Reading the integer weight layouts -----------===//
//
// The offsets are docs/gpu.md's "Integer weight formats"; the runtime-free
// reference of the same layouts is the driver stand-in's emulation.
//
//===----------------------------------------------------------------------===//
#include "GpuBlockFormats.h"

using namespace mlir;

namespace lowbit {

GpuBlockLayout::GpuBlockLayout(GpuWeightFormat format, int64_t n, int64_t k)
    : format(format), n(n), k(k) {
  assert(format != GpuWeightFormat::F16 && "f16 has no blocks of codes");
}

bool GpuBlockLayout::wideCodes() const {
  return format == GpuWeightFormat::Q8G32 || format == GpuWeightFormat::Q6K ||
         format == GpuWeightFormat::Q5G32 || format == GpuWeightFormat::Q5K ||
         format == GpuWeightFormat::Q8G128;
}

bool GpuBlockLayout::signedCodes() const {
  return format == GpuWeightFormat::Q8G32 || format == GpuWeightFormat::Q6K ||
         format == GpuWeightFormat::Q8G128 || format == GpuWeightFormat::Lut4;
}

// q8g128's codes are signed (q − 128, for dp4a's s.s) and its offset
// m = d·(128 − z) keeps the zero point.
bool GpuBlockLayout::hasOffset() const {
  return !signedCodes() || format == GpuWeightFormat::Q8G128;
}

bool GpuBlockLayout::halfScales() const {
  return format == GpuWeightFormat::Q6K || format == GpuWeightFormat::Q2K;
}

bool GpuBlockLayout::halfOffsets() const { return format == GpuWeightFormat::Q2K; }

SmallVector<Value, 2> GpuBlockLayout::loadCodes(GpuEmitter &e, Value w, Value row,
                                                Value block) const {
  VectorType v4i32 = VectorType::get({4}, e.i32());
  const int64_t bytes = codeBytesPerBlock();
  Value at = e.add(e.mul(row, k / 32 * bytes), e.mul(block, bytes));
  SmallVector<Value, 2> codes{e.load(v4i32, w, at, 16)};
  if (wideCodes())
    codes.push_back(e.load(v4i32, w, e.add(at, 16), 16));
  return codes;
}

Value GpuBlockLayout::loadTable(GpuEmitter &e, Value w) const {
  return e.load(VectorType::get({4}, e.i32()), w, e.i64c(n * k / 2 + n * k / 32 * 4), 16);
}

SmallVector<Value, 8> GpuBlockLayout::lookUp(GpuEmitter &e, Value codes, Value table) const {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  auto prmt = [&](Value lo, Value hi, Value selector) {
    return e.call("llvm.nvvm.prmt", e.i32(), {lo, hi, selector});
  };
  auto andi = [&](Value v, int32_t mask) {
    return arith::AndIOp::create(b, loc, v, e.i32c(mask)).getResult();
  };
  Value t[4];
  for (int i = 0; i < 4; ++i)
    t[i] = e.element(table, i);
  SmallVector<Value, 8> words;
  for (int w = 0; w < 4; ++w) {
    Value word = e.element(codes, w);
    for (int half = 0; half < 2; ++half) {
      // prmt reads four selectors from the low 16 bits: values 8w + 4·half
      // .. + 3. Entries 0-7 from (t0, t1) and 8-15 from (t2, t3) by the
      // code's low 3 bits, then byte i of either by its bit 3.
      Value n16 = half ? arith::ShRUIOp::create(b, loc, word, e.i32c(16)).getResult() : word;
      Value index = andi(n16, kLut4Entry);
      Value low = prmt(t[0], t[1], index), high = prmt(t[2], t[3], index);
      Value pick = arith::OrIOp::create(
          b, loc, andi(arith::ShRUIOp::create(b, loc, n16, e.i32c(1)), kLut4Half),
          e.i32c(kLut4Bytes));
      words.push_back(prmt(low, high, pick));
    }
  }
  return words;
}

GpuBlockLayout::RawParams GpuBlockLayout::loadParams(GpuEmitter &e, Value w, Value row,
                                                     Value block) const {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Type f16 = b.getF16Type();
  VectorType v2f16 = VectorType::get({2}, f16), v2i8 = VectorType::get({2}, b.getI8Type());
  const int64_t codes = wideCodes() ? n * k : n * k / 2;
  Value blockOfRow = e.add(e.mul(row, k / 32), block);
  // The f16 parameter of each 256 values (q4k's pair, q6k's d).
  auto superBlock = [&](int64_t base, int64_t size, Type type) {
    Value super = e.add(e.mul(row, k / 256), arith::ShRUIOp::create(b, loc, block, e.i64c(3)));
    return e.load(type, w, e.add(e.mul(super, size), base), unsigned(size));
  };
  switch (format) {
  case GpuWeightFormat::Q4G128: {
    Value group = e.add(e.mul(row, k / 128), arith::ShRUIOp::create(b, loc, block, e.i64c(2)));
    return {e.load(v2f16, w, e.add(e.mul(group, 4), codes), 4), nullptr};
  }
  case GpuWeightFormat::Lut4:
    return {e.load(e.f32(), w, e.add(e.mul(blockOfRow, 4), codes), 4), nullptr};
  case GpuWeightFormat::Q8G128: {
    Value group = e.add(e.mul(row, k / 128), arith::ShRUIOp::create(b, loc, block, e.i64c(2)));
    return {e.load(VectorType::get({2}, e.f32()), w, e.add(e.mul(group, 8), codes), 8),
            nullptr};
  }
  case GpuWeightFormat::Q4G32:
  case GpuWeightFormat::Q5G32:
    return {e.load(v2f16, w, e.add(e.mul(blockOfRow, 4), codes), 4), nullptr};
  case GpuWeightFormat::Q4K:
  case GpuWeightFormat::Q5K:
    return {e.load(v2i8, w, e.add(e.mul(blockOfRow, 2), codes), 2),
            superBlock(codes + n * k / 16, 4, v2f16)};
  case GpuWeightFormat::Q8G32:
    return {e.load(f16, w, e.add(e.mul(blockOfRow, 2), codes), 2), nullptr};
  case GpuWeightFormat::Q6K:
    return {e.load(v2i8, w, e.add(e.mul(blockOfRow, 2), codes), 2),
            superBlock(codes + n * k / 16, 2, f16)};
  case GpuWeightFormat::Q2K:
    // (scale, min) of each half: 4 bytes a block.
    return {e.load(VectorType::get({4}, b.getI8Type()), w,
                   e.add(e.mul(blockOfRow, 4), codes), 4),
            superBlock(codes + n * k / 8, 4, v2f16)};
  case GpuWeightFormat::F16:
    break;
  }
  llvm_unreachable("integer formats only");
}

GpuBlockLayout::Params GpuBlockLayout::decode(GpuEmitter &e, const RawParams &raw) const {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  VectorType v2f32 = VectorType::get({2}, e.f32());
  auto widen = [&](Value pair) { return LLVM::FPExtOp::create(b, loc, v2f32, pair); };
  // Byte i of a (scale, min) or (scale, scale) pair, as f32.
  auto byteValue = [&](Value pair, int64_t i, bool isSigned) -> Value {
    Value byte = e.element(pair, i);
    if (isSigned)
      return arith::SIToFPOp::create(b, loc, e.f32(), byte);
    return arith::UIToFPOp::create(b, loc, e.f32(), byte);
  };
  switch (format) {
  case GpuWeightFormat::Q4G128:
  case GpuWeightFormat::Q4G32:
  case GpuWeightFormat::Q5G32: {
    Value dm = widen(raw.first);
    Value d = e.element(dm, 0);
    return {d, d, e.element(dm, 1), nullptr};
  }
  case GpuWeightFormat::Q4K:
  case GpuWeightFormat::Q5K: {
    // d·scale·u − dmin·min, each product in f32 as ggml's.
    Value dd = widen(raw.second);
    Value scale = arith::MulFOp::create(b, loc, e.element(dd, 0), byteValue(raw.first, 0, false));
    Value min = arith::MulFOp::create(b, loc, e.element(dd, 1), byteValue(raw.first, 1, false));
    return {scale, scale, arith::NegFOp::create(b, loc, min), nullptr};
  }
  case GpuWeightFormat::Q8G32: {
    Value d = arith::ExtFOp::create(b, loc, e.f32(), raw.first);
    return {d, d, nullptr, nullptr};
  }
  case GpuWeightFormat::Q8G128: {
    Value d = e.element(raw.first, 0);
    return {d, d, e.element(raw.first, 1), nullptr};
  }
  case GpuWeightFormat::Lut4:
    return {raw.first, raw.first, nullptr, nullptr};
  case GpuWeightFormat::Q6K: {
    Value d = arith::ExtFOp::create(b, loc, e.f32(), raw.second);
    return {arith::MulFOp::create(b, loc, d, byteValue(raw.first, 0, true)),
            arith::MulFOp::create(b, loc, d, byteValue(raw.first, 1, true)), nullptr, nullptr};
  }
  case GpuWeightFormat::Q2K: {
    // Each half: d·scale·u − dmin·min.
    Value dd = widen(raw.second);
    Value d = e.element(dd, 0), dmin = e.element(dd, 1);
    auto times = [&](Value x, int64_t i) {
      return arith::MulFOp::create(b, loc, x, byteValue(raw.first, i, false)).getResult();
    };
    return {times(d, 0), times(d, 2), arith::NegFOp::create(b, loc, times(dmin, 1)),
            arith::NegFOp::create(b, loc, times(dmin, 3))};
  }
  case GpuWeightFormat::F16:
    break;
  }
  llvm_unreachable("integer formats only");
}

} // namespace lowbit
