//===- GgmlBlockGrid.cpp - Rounding grids of encoded ggml blocks -----------===//
//
// The element order and bit positions mirror the dequantizers in
// GgmlQuants.cpp (formats.md §3): each grid entry is formed with the same
// float operations, so scale · q + offset reproduces the dequantized value.
//
//===----------------------------------------------------------------------===//
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "lowbit/Quant/GgmlBlockGrid.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/ErrorHandling.h"

using namespace lowbit;

static float halfAt(const uint8_t *p) {
  return fp16ToFloat(llvm::support::endian::read16le(p));
}

/// Sets bit `bit` of `bytes` to `on`.
static void putBit(uint8_t *bytes, int bit, bool on) {
  uint8_t mask = uint8_t(1u << (bit % 8));
  bytes[bit / 8] = uint8_t(on ? bytes[bit / 8] | mask : bytes[bit / 8] & ~mask);
}

/// Writes the 4-bit `value` into the low or high nibble of `byte`.
static void putNibble(uint8_t &byte, bool high, int value) {
  byte = high ? uint8_t((byte & 0x0f) | (value << 4))
              : uint8_t((byte & 0xf0) | (value & 0x0f));
}

/// Writes the 2-bit `value` at bit `shift` of `byte`.
static void putCrumb(uint8_t &byte, int shift, int value) {
  byte = uint8_t((byte & ~(3u << shift)) | ((value & 3) << shift));
}

bool lowbit::hasGgmlBlockGrid(DType type) {
  switch (type) {
  case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1:
  case DType::Q8_0: case DType::Q2_K: case DType::Q3_K: case DType::Q4_K:
  case DType::Q5_K: case DType::Q6_K:
    return true;
  default:
    return false;
  }
}

void lowbit::decodeGgmlBlockGrid(DType type, const uint8_t *b,
                                 GgmlBlockGrid &g) {
  switch (type) {
  case DType::Q4_0:
  case DType::Q5_0: {
    float d = halfAt(b);
    bool five = type == DType::Q5_0;
    g.qmin = five ? -16 : -8;
    g.qmax = five ? 15 : 7;
    for (int i = 0; i < 32; ++i) {
      g.scale[i] = d;
      g.offset[i] = 0;
    }
    return;
  }
  case DType::Q4_1:
  case DType::Q5_1: {
    float d = halfAt(b), m = halfAt(b + 2);
    g.qmin = 0;
    g.qmax = type == DType::Q5_1 ? 31 : 15;
    for (int i = 0; i < 32; ++i) {
      g.scale[i] = d;
      g.offset[i] = m;
    }
    return;
  }
  case DType::Q8_0: {
    float d = halfAt(b);
    // -128 is left out: ggml's AVX2 dot products take |q| with a sign trick
    // that -128 breaks, and its own quantizer never writes it.
    g.qmin = -127;
    g.qmax = 127;
    for (int i = 0; i < 32; ++i) {
      g.scale[i] = d;
      g.offset[i] = 0;
    }
    return;
  }
  case DType::Q2_K: {
    float d = halfAt(b + 80), dmin = halfAt(b + 82);
    g.qmin = 0;
    g.qmax = 3;
    for (int s = 0; s < 16; ++s) {
      uint8_t sc = b[s];
      float dl = d * (sc & 0x0f), ml = dmin * (sc >> 4);
      for (int i = 16 * s; i < 16 * s + 16; ++i) {
        g.scale[i] = dl;
        g.offset[i] = -ml;
      }
    }
    return;
  }
  case DType::Q3_K: {
    const uint8_t *sb = b + 96;
    float dAll = halfAt(b + 108);
    g.qmin = -4;
    g.qmax = 3;
    for (int s = 0; s < 16; ++s) {
      int low = s < 8 ? sb[s] & 0x0f : sb[s - 8] >> 4;
      int high = (sb[8 + s % 4] >> (2 * (s / 4))) & 3;
      float dl = dAll * int8_t((low | (high << 4)) - 32);
      for (int i = 16 * s; i < 16 * s + 16; ++i) {
        g.scale[i] = dl;
        g.offset[i] = 0;
      }
    }
    return;
  }
  case DType::Q4_K:
  case DType::Q5_K: {
    float d = halfAt(b), dmin = halfAt(b + 2);
    g.qmin = 0;
    g.qmax = type == DType::Q5_K ? 31 : 15;
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, mn;
      decodeScaleMinK4(s, b + 4, sc, mn);
      float d1 = d * sc, m1 = dmin * mn;
      for (int i = 32 * s; i < 32 * s + 32; ++i) {
        g.scale[i] = d1;
        g.offset[i] = -m1;
      }
    }
    return;
  }
  case DType::Q6_K: {
    const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
    float d = halfAt(b + 208);
    g.qmin = -32;
    g.qmax = 31;
    for (int s = 0; s < 16; ++s) {
      float dl = d * sc[s];
      for (int i = 16 * s; i < 16 * s + 16; ++i) {
        g.scale[i] = dl;
        g.offset[i] = 0;
      }
    }
    return;
  }
  default:
    llvm_unreachable("decodeGgmlBlockGrid: a type without a block grid");
  }
}

void lowbit::setGgmlBlockCodes(DType type, uint8_t *b, const int8_t *codes) {
  switch (type) {
  case DType::Q4_0:
  case DType::Q4_1: {
    int bias = type == DType::Q4_0 ? 8 : 0;
    uint8_t *qs = b + (type == DType::Q4_0 ? 2 : 4);
    for (int j = 0; j < 16; ++j)
      qs[j] = uint8_t((codes[j] + bias) | ((codes[j + 16] + bias) << 4));
    return;
  }
  case DType::Q5_0:
  case DType::Q5_1: {
    bool zero = type == DType::Q5_0;
    int bias = zero ? 16 : 0;
    uint8_t *qh = b + (zero ? 2 : 4), *qs = b + (zero ? 6 : 8);
    for (int i = 0; i < 32; ++i) {
      int raw = codes[i] + bias;
      putNibble(qs[i % 16], i >= 16, raw & 0x0f);
      putBit(qh, i, raw & 0x10);
    }
    return;
  }
  case DType::Q8_0:
    for (int i = 0; i < 32; ++i)
      b[2 + i] = uint8_t(codes[i]);
    return;
  case DType::Q2_K:
  case DType::Q3_K: {
    // Values n·128 + r: r / 32 picks the 2-bit field, r % 32 the byte.
    bool three = type == DType::Q3_K;
    uint8_t *q = b + (three ? 32 : 16), *hm = b;
    for (int i = 0; i < 256; ++i) {
      int n = i / 128, field = (i % 128) / 32, l = i % 32;
      int raw = codes[i] + (three ? 4 : 0);
      putCrumb(q[32 * n + l], 2 * field, raw & 3);
      if (three)
        putBit(hm, 8 * l + 4 * n + field, raw & 4);
    }
    return;
  }
  case DType::Q4_K:
  case DType::Q5_K: {
    // Sub-block s's values sit in the low (even s) or high (odd s) nibbles of
    // bytes 32·(s/2)..; Q5_K's fifth bit is bit s of qh[l].
    bool five = type == DType::Q5_K;
    uint8_t *ql = b + (five ? 48 : 16), *qh = b + 16;
    for (int i = 0; i < 256; ++i) {
      int s = i / 32, l = i % 32, raw = codes[i];
      putNibble(ql[32 * (s / 2) + l], s % 2, raw & 0x0f);
      if (five)
        putBit(qh, 8 * l + s, raw & 0x10);
    }
    return;
  }
  case DType::Q6_K: {
    // Values n·128 + 32·quarter + l: the low nibble of ql[64n + l + 32·(quarter
    // odd)] (high nibble for quarters 2, 3), the top two bits in qh[32n + l].
    uint8_t *ql = b, *qh = b + 128;
    for (int i = 0; i < 256; ++i) {
      int n = i / 128, quarter = (i % 128) / 32, l = i % 32;
      int raw = codes[i] + 32;
      putNibble(ql[64 * n + l + 32 * (quarter & 1)], quarter >= 2, raw & 0x0f);
      putCrumb(qh[32 * n + l], 2 * quarter, raw >> 4);
    }
    return;
  }
  default:
    llvm_unreachable("setGgmlBlockCodes: a type without a block grid");
  }
}

namespace {
/// Where a type's parameters live.
struct ParameterLayout {
  int subBlocks = 0, subBlockElems = 0;
  bool mins = false;
  int scaleLo = 0, scaleHi = 0, minHi = 0;
  /// Byte offsets of the halves d and dmin / m (-1: none).
  int dOffset = 0, mOffset = -1;
};

ParameterLayout layoutOf(DType type) {
  ParameterLayout l;
  switch (type) {
  case DType::Q4_0: case DType::Q5_0: case DType::Q8_0:
    return l;
  case DType::Q4_1: case DType::Q5_1:
    l.mOffset = 2;
    return l;
  case DType::Q2_K:
    return {16, 16, true, 0, 15, 15, 80, 82};
  case DType::Q3_K:
    return {16, 16, false, -32, 31, 0, 108, -1};
  case DType::Q4_K: case DType::Q5_K:
    return {8, 32, true, 0, 63, 63, 0, 2};
  case DType::Q6_K:
    return {16, 16, false, -128, 127, 0, 208, -1};
  default:
    llvm_unreachable("a type without block parameters");
  }
}

/// Sets the low six bits of Q4_K/Q5_K scale or min `j` in the packed 12
/// bytes (the inverse of decodeScaleMinK4).
void putScaleMinK4(int j, uint8_t *q, bool min, int value) {
  if (j < 4) {
    uint8_t &byte = q[j + (min ? 4 : 0)];
    byte = uint8_t((byte & 0xc0) | (value & 0x3f));
    return;
  }
  putNibble(q[j + 4], min, value & 0x0f);
  uint8_t &top = q[min ? j : j - 4];
  top = uint8_t((top & 0x3f) | ((value >> 4) << 6));
}
} // namespace

int lowbit::ggmlBlockParameterCount(DType type) {
  ParameterLayout l = layoutOf(type);
  return l.subBlocks * (l.mins ? 2 : 1) + 1 + (l.mOffset >= 0 ? 1 : 0);
}

lowbit::GgmlBlockParameter lowbit::ggmlBlockParameter(DType type, int index) {
  ParameterLayout l = layoutOf(type);
  GgmlBlockParameter p;
  int integers = l.subBlocks * (l.mins ? 2 : 1);
  if (index >= integers) {
    p.half = true;
    p.count = int(getDTypeInfo(type).blockElems);
    return p;
  }
  bool min = index >= l.subBlocks;
  p.lo = min ? 0 : l.scaleLo;
  p.hi = min ? l.minHi : l.scaleHi;
  p.first = (index % l.subBlocks) * l.subBlockElems;
  p.count = l.subBlockElems;
  return p;
}

float lowbit::readGgmlBlockParameter(DType type, const uint8_t *b, int index) {
  ParameterLayout l = layoutOf(type);
  int integers = l.subBlocks * (l.mins ? 2 : 1);
  if (index >= integers)
    return halfAt(b + (index == integers ? l.dOffset : l.mOffset));
  bool min = index >= l.subBlocks;
  int s = index % l.subBlocks;
  switch (type) {
  case DType::Q2_K:
    return float(min ? b[s] >> 4 : b[s] & 0x0f);
  case DType::Q3_K: {
    const uint8_t *sb = b + 96;
    int low = s < 8 ? sb[s] & 0x0f : sb[s - 8] >> 4;
    int high = (sb[8 + s % 4] >> (2 * (s / 4))) & 3;
    return float((low | (high << 4)) - 32);
  }
  case DType::Q4_K:
  case DType::Q5_K: {
    uint8_t sc, mn;
    decodeScaleMinK4(s, b + 4, sc, mn);
    return float(min ? mn : sc);
  }
  case DType::Q6_K:
    return float(int8_t(b[192 + s]));
  default:
    llvm_unreachable("a type without integer block parameters");
  }
}

void lowbit::writeGgmlBlockParameter(DType type, uint8_t *b, int index,
                                     float value) {
  ParameterLayout l = layoutOf(type);
  int integers = l.subBlocks * (l.mins ? 2 : 1);
  if (index >= integers) {
    llvm::support::endian::write16le(
        b + (index == integers ? l.dOffset : l.mOffset), floatToFp16(value));
    return;
  }
  bool min = index >= l.subBlocks;
  int s = index % l.subBlocks, v = int(value);
  switch (type) {
  case DType::Q2_K:
    putNibble(b[s], min, v);
    return;
  case DType::Q3_K: {
    uint8_t *sb = b + 96;
    int raw = v + 32;
    putNibble(sb[s % 8], s >= 8, raw & 0x0f);
    putCrumb(sb[8 + s % 4], 2 * (s / 4), raw >> 4);
    return;
  }
  case DType::Q4_K:
  case DType::Q5_K:
    putScaleMinK4(s, b + 4, min, v);
    return;
  case DType::Q6_K:
    b[192 + s] = uint8_t(int8_t(v));
    return;
  default:
    llvm_unreachable("a type without integer block parameters");
  }
}
