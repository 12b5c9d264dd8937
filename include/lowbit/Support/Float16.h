//===- Float16.h - IEEE half and bfloat16 conversions ----------*- C++ -*-===//
//
// Scalar conversions used by every reader and writer. fp32 -> fp16 rounds to
// nearest-even, as ggml does, so our exported F16/Q8_0 scales are bit-identical
// to llama.cpp's converter.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_SUPPORT_FLOAT16_H
#define LOWBIT_SUPPORT_FLOAT16_H

#include <cstdint>
#include <cstring>

namespace lowbit {

inline float bitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline uint32_t floatToBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

inline float bf16ToFloat(uint16_t h) { return bitsToFloat(uint32_t(h) << 16); }

/// Round-to-nearest-even truncation to bfloat16; NaN stays a quiet NaN.
inline uint16_t floatToBf16(float f) {
  uint32_t bits = floatToBits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

inline float fp16ToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0)
      return bitsToFloat(sign);
    // Subnormal: value = mant * 2^-24.
    float v = float(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  if (exp == 31)
    return bitsToFloat(sign | 0x7f800000u | (mant << 13));
  return bitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

/// IEEE round-to-nearest-even conversion (same results as F16C _cvtss_sh(x, 0)).
inline uint16_t floatToFp16(float f) {
  uint32_t x = floatToBits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx > 0x7f800000u) // NaN
    return uint16_t(sign | 0x7e00u | ((absx >> 13) & 0x3ffu));
  if (absx >= 0x477ff000u) // rounds to >= 65520 -> inf
    return uint16_t(sign | 0x7c00u);
  if (absx < 0x38800000u) { // below the smallest normal: subnormal or zero
    if (absx < 0x33000000u) // < 2^-25 rounds to zero
      return uint16_t(sign);
    uint32_t e = absx >> 23;
    uint32_t m = (absx & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; // 14..24 for exponents 112..102
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
      ++q;
    return uint16_t(sign | q);
  }
  uint32_t e = (absx >> 23) - 112;
  uint32_t m = absx & 0x7fffffu;
  uint32_t h = (e << 10) | (m >> 13);
  uint32_t rem = m & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
    ++h;
  return uint16_t(sign | h);
}

} // namespace lowbit

#endif // LOWBIT_SUPPORT_FLOAT16_H
