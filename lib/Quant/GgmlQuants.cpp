//===- GgmlQuants.cpp - ggml block (de)quantization -----------------------===//
//
// Each dequantizer mirrors dequantize_row_* of llama.cpp@c392e50
// ggml-quants.c: same loop structure and the same float expression order
// (e.g. Q4_K computes d*sc once, then (d*sc)*q - dmin*m), so the results match
// llama.cpp bit for bit rather than only to rounding.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Quant/GgmlQuantize.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstring>

using namespace llvm;
using namespace lowbit;

static float halfAt(const uint8_t *p) {
  return fp16ToFloat(support::endian::read16le(p));
}

//===----------------------------------------------------------------------===//
// Legacy 32-element blocks
//===----------------------------------------------------------------------===//

static void dequantQ4_0(const uint8_t *b, float *y) {
  float d = halfAt(b);
  const uint8_t *qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = ((qs[j] & 0x0f) - 8) * d;
    y[j + 16] = ((qs[j] >> 4) - 8) * d;
  }
}

static void dequantQ4_1(const uint8_t *b, float *y) {
  float d = halfAt(b), m = halfAt(b + 2);
  const uint8_t *qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = (qs[j] & 0x0f) * d + m;
    y[j + 16] = (qs[j] >> 4) * d + m;
  }
}

static void dequantQ5_0(const uint8_t *b, float *y) {
  float d = halfAt(b);
  uint32_t qh = support::endian::read32le(b + 2);
  const uint8_t *qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    int lo = (qs[j] & 0x0f) | (((qh >> j) << 4) & 0x10);
    int hi = (qs[j] >> 4) | ((qh >> (j + 12)) & 0x10);
    y[j] = (lo - 16) * d;
    y[j + 16] = (hi - 16) * d;
  }
}

static void dequantQ5_1(const uint8_t *b, float *y) {
  float d = halfAt(b), m = halfAt(b + 2);
  uint32_t qh = support::endian::read32le(b + 4);
  const uint8_t *qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    int lo = (qs[j] & 0x0f) | (((qh >> j) << 4) & 0x10);
    int hi = (qs[j] >> 4) | ((qh >> (j + 12)) & 0x10);
    y[j] = lo * d + m;
    y[j + 16] = hi * d + m;
  }
}

static void dequantQ8_0(const uint8_t *b, float *y) {
  float d = halfAt(b);
  for (int j = 0; j < 32; ++j)
    y[j] = int8_t(b[2 + j]) * d;
}

//===----------------------------------------------------------------------===//
// K-quant 256-element super-blocks
//===----------------------------------------------------------------------===//

static void dequantQ2_K(const uint8_t *b, float *y) {
  const uint8_t *scales = b, *q = b + 16;
  float d = halfAt(b + 80), dmin = halfAt(b + 82);
  int is = 0;
  for (int n = 0; n < 256; n += 128, q += 32) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; ++half) {
        uint8_t sc = scales[is++];
        float dl = d * (sc & 0x0f), ml = dmin * (sc >> 4);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
      }
    }
  }
}

static void dequantQ3_K(const uint8_t *b, float *y) {
  const uint8_t *hm = b, *q = b + 32, *sb = b + 96;
  float dAll = halfAt(b + 108);
  // 6-bit scale codes, biased by 32 (formats.md §3.2).
  int8_t scales[16];
  for (int s = 0; s < 16; ++s) {
    int low = s < 8 ? sb[s] & 0x0f : sb[s - 8] >> 4;
    int high = (sb[8 + s % 4] >> (2 * (s / 4))) & 3;
    scales[s] = int8_t((low | (high << 4)) - 32);
  }
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < 256; n += 128, q += 32) {
    for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
      for (int half = 0; half < 2; ++half) {
        float dl = dAll * scales[is++];
        for (int l = 16 * half; l < 16 * half + 16; ++l)
          *y++ = dl * (int8_t((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
      }
    }
  }
}

// 6-bit scale and min j of the 12-byte Q4_K/Q5_K packing.
void lowbit::decodeScaleMinK4(int j, const uint8_t *q, uint8_t &sc, uint8_t &mn) {
  if (j < 4) {
    sc = q[j] & 63;
    mn = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
    mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

static void dequantQ4_K(const uint8_t *b, float *y) {
  float d = halfAt(b), dmin = halfAt(b + 2);
  const uint8_t *scales = b + 4, *q = b + 16;
  for (int j = 0; j < 8; j += 2, q += 32) {
    uint8_t sc, mn;
    decodeScaleMinK4(j, scales, sc, mn);
    float d1 = d * sc, m1 = dmin * mn;
    decodeScaleMinK4(j + 1, scales, sc, mn);
    float d2 = d * sc, m2 = dmin * mn;
    for (int l = 0; l < 32; ++l)
      *y++ = d1 * (q[l] & 0x0f) - m1;
    for (int l = 0; l < 32; ++l)
      *y++ = d2 * (q[l] >> 4) - m2;
  }
}

static void dequantQ5_K(const uint8_t *b, float *y) {
  float d = halfAt(b), dmin = halfAt(b + 2);
  const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < 8; j += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
    uint8_t sc, mn;
    decodeScaleMinK4(j, scales, sc, mn);
    float d1 = d * sc, m1 = dmin * mn;
    decodeScaleMinK4(j + 1, scales, sc, mn);
    float d2 = d * sc, m2 = dmin * mn;
    for (int l = 0; l < 32; ++l)
      *y++ = d1 * ((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l)
      *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
  }
}

static void dequantQ6_K(const uint8_t *b, float *y) {
  const uint8_t *ql = b, *qh = b + 128;
  const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
  float d = halfAt(b + 208);
  for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      int is = l / 16;
      int q1 = int8_t((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) - 32;
      int q2 = int8_t((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q3 = int8_t((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q4 = int8_t((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
  }
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

bool lowbit::canDequantize(DType type) {
  switch (type) {
  case DType::F32: case DType::F16: case DType::BF16: case DType::F64:
  case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1:
  case DType::Q8_0: case DType::Q2_K: case DType::Q3_K: case DType::Q4_K:
  case DType::Q5_K: case DType::Q6_K:
    return true;
  default:
    return false;
  }
}

void lowbit::dequantizeRow(DType type, const uint8_t *src, float *dst,
                           int64_t n) {
  using namespace support::endian;
  const DTypeInfo &info = getDTypeInfo(type);
  assert(n % info.blockElems == 0 && "partial block");
  void (*block)(const uint8_t *, float *) = nullptr;
  switch (type) {
  case DType::F32:
    for (int64_t i = 0; i < n; ++i)
      dst[i] = bitsToFloat(read32le(src + 4 * i));
    return;
  case DType::F16:
    for (int64_t i = 0; i < n; ++i)
      dst[i] = fp16ToFloat(read16le(src + 2 * i));
    return;
  case DType::BF16:
    for (int64_t i = 0; i < n; ++i)
      dst[i] = bf16ToFloat(read16le(src + 2 * i));
    return;
  case DType::F64:
    for (int64_t i = 0; i < n; ++i) {
      uint64_t bits = read64le(src + 8 * i);
      double v;
      std::memcpy(&v, &bits, 8);
      dst[i] = float(v);
    }
    return;
  case DType::Q4_0: block = dequantQ4_0; break;
  case DType::Q4_1: block = dequantQ4_1; break;
  case DType::Q5_0: block = dequantQ5_0; break;
  case DType::Q5_1: block = dequantQ5_1; break;
  case DType::Q8_0: block = dequantQ8_0; break;
  case DType::Q2_K: block = dequantQ2_K; break;
  case DType::Q3_K: block = dequantQ3_K; break;
  case DType::Q4_K: block = dequantQ4_K; break;
  case DType::Q5_K: block = dequantQ5_K; break;
  case DType::Q6_K: block = dequantQ6_K; break;
  default:
    llvm_unreachable("dequantizeRow: unsupported type (check canDequantize)");
  }
  for (int64_t i = 0; i < n / info.blockElems; ++i)
    block(src + i * info.blockBytes, dst + i * info.blockElems);
}

Error lowbit::dequantize(const TensorRef &t, std::vector<float> &out) {
  const DTypeInfo &info = getDTypeInfo(t.dtype);
  if (!canDequantize(t.dtype))
    return createStringError(inconvertibleErrorCode(),
                             "tensor '%s': cannot dequantize type %s",
                             t.name.c_str(), info.name.str().c_str());
  std::optional<uint64_t> bytes = tensorBytes(t.dtype, t.shape);
  if (!bytes || *bytes != t.bytes)
    return createStringError(
        inconvertibleErrorCode(),
        "tensor '%s': %llu bytes do not match its %s shape",
        t.name.c_str(), (unsigned long long)t.bytes, info.name.str().c_str());
  int64_t n = t.numElements();
  out.resize(n);
  dequantizeRow(t.dtype, t.data, out.data(), n);
  return Error::success();
}

int64_t lowbit::findNonFinite(const float *values, int64_t n) {
  // Exponent bits all ones: an infinity or a NaN. Integer tests vectorize
  // where std::isfinite may not.
  constexpr uint32_t kExp = 0x7f800000u;
  uint32_t any = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, values + i, 4);
    any |= uint32_t((bits & kExp) == kExp);
  }
  if (!any)
    return -1;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(values[i]))
      return i;
  return -1;
}

Error lowbit::checkFinite(StringRef tensor, const float *values, int64_t n,
                          int64_t cols, int64_t firstRow) {
  int64_t i = findNonFinite(values, n);
  if (i < 0)
    return Error::success();
  cols = std::max<int64_t>(cols, 1);
  const char *what = std::isnan(values[i]) ? "nan"
                     : values[i] > 0       ? "inf"
                                           : "-inf";
  return createStringError(
      inconvertibleErrorCode(),
      formatv("tensor '{0}' has a non-finite value ({1}) at row {2}, column "
              "{3}: weights must be finite to be quantized or exported",
              tensor, what, firstRow + i / cols, i % cols)
          .str());
}

void lowbit::quantizeRowQ8_0(const float *src, uint8_t *dst, int64_t n) {
  assert(n % 32 == 0 && "partial block");
  for (int64_t i = 0; i < n / 32; ++i, src += 32, dst += 34) {
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j)
      // ggml's MAX(a, b) macro, so a NaN input propagates into d as there.
      amax = amax > std::fabs(src[j]) ? amax : std::fabs(src[j]);
    float d = amax / 127;
    float id = d ? 1.0f / d : 0.0f;
    support::endian::write16le(dst, floatToFp16(d));
    // roundf is a library call per value. For a finite block with a finite
    // 1/d every |x·id| <= 127 (+ rounding), where rounding half away from
    // zero is trunc plus the sign when the (exact) fraction reaches 0.5: the
    // same bytes, and the compiler vectorizes it.
    bool bounded = amax <= FLT_MAX && id <= FLT_MAX;
    for (int j = 0; j < 32; ++j) {
      float v = src[j] * id;
      int32_t t = bounded ? int32_t(v) : 0;
      float frac = v - float(t);
      dst[2 + j] = bounded ? uint8_t(int8_t(t + (frac >= 0.5f) - (frac <= -0.5f)))
                           : uint8_t(int8_t(std::roundf(v)));
    }
  }
}

Error lowbit::quantizeRow(DType type, const float *src, uint8_t *dst,
                          int64_t n) {
  using namespace support::endian;
  const DTypeInfo &info = getDTypeInfo(type);
  if (n % info.blockElems)
    return createStringError(inconvertibleErrorCode(),
                             "row of %lld values is not a multiple of the %s "
                             "block size %u", (long long)n,
                             info.name.str().c_str(), info.blockElems);
  switch (type) {
  case DType::F32:
    for (int64_t i = 0; i < n; ++i)
      write32le(dst + 4 * i, floatToBits(src[i]));
    return Error::success();
  case DType::F16:
    for (int64_t i = 0; i < n; ++i)
      write16le(dst + 2 * i, floatToFp16(src[i]));
    return Error::success();
  case DType::BF16:
    for (int64_t i = 0; i < n; ++i)
      write16le(dst + 2 * i, floatToBf16(src[i]));
    return Error::success();
  case DType::Q8_0:
    quantizeRowQ8_0(src, dst, n);
    return Error::success();
  case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1:
  case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K:
  case DType::Q6_K:
    return quantizeRowGgml(type, src, dst, n);
  default:
    return createStringError(inconvertibleErrorCode(),
                             "cannot encode values as %s (not a storage type)",
                             info.name.str().c_str());
  }
}
