//===- GgmlQuantizeK.cpp - llama.cpp-compatible K-quant encoders ----------===//
//
// Q2_K ... Q6_K super-blocks of 256 (layouts in formats.md §3.2). Each block
// is encoded in three steps, as in ggml: fit every sub-block (scale, and for
// the asymmetric types a min), quantize those sub-block parameters against
// one fp16 super-block scale, then recompute every code with the fp16 scale
// and the quantized sub-block scales read back. See GgmlQuantize.cpp for the
// rules that keep the bytes identical to ggml-quants.c.
//
//===----------------------------------------------------------------------===//
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "GgmlQuantizeImpl.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/Endian.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOWBIT_X86 1
#define LOWBIT_AVX2 __attribute__((target("avx2,f16c")))
#endif

using namespace llvm;
using namespace lowbit;
using namespace lowbit::ggmlq;

namespace {

constexpr int QK = 256;

void putHalf(uint8_t *p, float v) {
  support::endian::write16le(p, floatToFp16(v));
}
float getHalf(const uint8_t *p) {
  return fp16ToFloat(support::endian::read16le(p));
}

/// Packs 2-bit codes the Q2_K/Q3_K way: byte 32h + l holds elements
/// 128h + l + 32k in bits 2k..2k+1.
void pack2Bit(const uint8_t *L, uint8_t *qs) {
  for (int j = 0; j < QK; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) |
                              (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

/// Q4_K/Q5_K 6-bit scale/min packing (formats.md §3.2 table).
void packScaleMinK4(const uint8_t *ls, const uint8_t *lm, uint8_t *s) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = ls[j];
      s[j + 4] = lm[j];
    } else {
      s[j + 4] = uint8_t((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
      s[j - 4] |= uint8_t((ls[j] >> 4) << 6);
      s[j] |= uint8_t((lm[j] >> 4) << 6);
    }
  }
}

void unpackScaleMinK4(int j, const uint8_t *s, uint8_t &sc, uint8_t &mn) {
  if (j < 4) {
    sc = s[j] & 63;
    mn = s[j + 4] & 63;
  } else {
    sc = uint8_t((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
    mn = uint8_t((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

/// Recomputes the asymmetric codes of Q4_K/Q5_K from the stored block
/// parameters. Sub-blocks whose effective scale is zero keep the codes of the
/// fit.
void requantizeK4(const float *x, const uint8_t *scales, float dAll,
                  float dminAll, int nmax, uint8_t *L) {
  for (int j = 0; j < QK / 32; ++j) {
    uint8_t sc, mn;
    unpackScaleMinK4(j, scales, sc, mn);
    const float d = dAll * float(sc);
    if (d == 0.0f)
      continue;
    const float dm = dminAll * float(mn);
    for (int ii = 0; ii < 32; ++ii) {
      int l = nearestInt((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = uint8_t(std::max(0, std::min(nmax, l)));
    }
  }
}

/// Sub-block weights for the K-quant imatrix paths:
/// qw[l] * sqrt(sigma2 + x[l]^2).
void importanceWeights(const float *x, const float *qw, float sigma2, int n,
                       float *w) {
  for (int l = 0; l < n; ++l)
    w[l] = qw[l] * std::sqrt(sigma2 + x[l] * x[l]);
}

float sumSquares(const float *x, int n) {
  float s = 0;
  for (int l = 0; l < n; ++l)
    s += x[l] * x[l];
  return s;
}

//===----------------------------------------------------------------------===//
// Q2_K: 16 x 16, 2-bit codes, 4-bit scale and min per sub-block
//===----------------------------------------------------------------------===//

void quantizeBlockQ2K(const float *x, uint8_t *y, const float *qw) {
  uint8_t *scalesOut = y, *qs = y + 16;
  uint8_t L[QK];
  float weights[16], mins[16], scales[16];

  if (!qw) {
    const float q4scale = 15.0f;
    float maxScale = 0, maxMin = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l)
        weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = makeQkx2Quants(16, 3, x + 16 * j, weights, L + 16 * j,
                                 &mins[j], -0.5f, 0.1f, 15, true);
      if (scales[j] > maxScale)
        maxScale = scales[j];
      if (mins[j] > maxMin)
        maxMin = mins[j];
    }
    if (maxScale > 0) {
      float iscale = q4scale / maxScale;
      for (int j = 0; j < 16; ++j)
        scalesOut[j] = uint8_t(nearestInt(iscale * scales[j]));
      putHalf(y + 80, maxScale / q4scale);
    } else {
      std::memset(scalesOut, 0, 16);
      putHalf(y + 80, 0.0f);
    }
    if (maxMin > 0) {
      float iscale = q4scale / maxMin;
      for (int j = 0; j < 16; ++j)
        scalesOut[j] |= uint8_t(nearestInt(iscale * mins[j]) << 4);
      putHalf(y + 82, maxMin / q4scale);
    } else {
      putHalf(y + 82, 0.0f);
    }
  } else {
    float sw[16] = {};
    uint8_t Ls[16], Lm[16];
    float sigma2 = sumSquares(x, QK) / float(QK);
    for (int j = 0; j < 16; ++j) {
      importanceWeights(x + 16 * j, qw + 16 * j, sigma2, 16, weights);
      for (int l = 0; l < 16; ++l)
        sw[j] += weights[l];
      scales[j] = makeQkx3Quants(16, 3, x + 16 * j, weights, L + 16 * j,
                                 &mins[j], -0.9f, 0.05f, 36, false);
    }
    float dm = makeQpQuants(16, 15, scales, Ls, sw);
    float mm = makeQpQuants(16, 15, mins, Lm, sw);
    putHalf(y + 80, dm);
    putHalf(y + 82, mm);
    for (int j = 0; j < 16; ++j)
      scalesOut[j] = uint8_t(Ls[j] | (Lm[j] << 4));
  }

  const float dAll = getHalf(y + 80), dminAll = getHalf(y + 82);
  for (int j = 0; j < 16; ++j) {
    const float d = dAll * float(scalesOut[j] & 0x0f);
    if (d == 0.0f)
      continue;
    const float dm = dminAll * float(scalesOut[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearestInt((x[16 * j + ii] + dm) / d);
      L[16 * j + ii] = uint8_t(std::max(0, std::min(3, l)));
    }
  }
  pack2Bit(L, qs);
}

//===----------------------------------------------------------------------===//
// Q3_K: 16 x 16, 3-bit codes, signed 6-bit scale per sub-block
//===----------------------------------------------------------------------===//

void packScalesQ3K(const int *codes, uint8_t *s) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 16; ++j) {
    int l = codes[j];
    if (j < 8)
      s[j] = uint8_t(l & 0x0f);
    else
      s[j - 8] |= uint8_t((l & 0x0f) << 4);
    l >>= 4;
    s[j % 4 + 8] |= uint8_t(l << (2 * (j / 4)));
  }
}

void quantizeBlockQ3K(const float *x, uint8_t *y, const float *qw) {
  uint8_t *hmask = y, *qs = y + 32, *scalesOut = y + 96;
  int8_t L[QK];
  float scales[16];
  int codes[16];

  if (!qw) {
    float maxScale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = makeQ3Quants(16, 4, x + 16 * j, L + 16 * j);
      float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        maxScale = scales[j];
      }
    }
    if (maxScale != 0.0f) {
      float iscale = -32.0f / maxScale;
      for (int j = 0; j < 16; ++j) {
        int8_t l = int8_t(nearestInt(iscale * scales[j]));
        codes[j] = std::max(-32, std::min(31, int(l))) + 32;
      }
      packScalesQ3K(codes, scalesOut);
      putHalf(y + 108, 1 / iscale);
    } else {
      std::memset(scalesOut, 0, 12);
      putHalf(y + 108, 0.0f);
    }
  } else {
    float weight[16], sw[16];
    int8_t Ls[16];
    float sigma2 = 2 * sumSquares(x, QK) / float(QK);
    for (int j = 0; j < 16; ++j) {
      importanceWeights(x + 16 * j, qw + 16 * j, sigma2, 16, weight);
      float sumw = 0;
      for (int l = 0; l < 16; ++l)
        sumw += weight[l];
      sw[j] = sumw;
      scales[j] = makeQxQuants(16, 4, x + 16 * j, L + 16 * j, weight);
    }
    float dBlock = makeQxQuants(16, 32, scales, Ls, sw);
    for (int j = 0; j < 16; ++j)
      codes[j] = Ls[j];
    packScalesQ3K(codes, scalesOut);
    putHalf(y + 108, dBlock);
  }

  const float dAll = getHalf(y + 108);
  for (int j = 0; j < 16; ++j) {
    int lo = j < 8 ? scalesOut[j] & 0x0f : scalesOut[j - 8] >> 4;
    int hi = (scalesOut[8 + j % 4] >> (2 * (j / 4))) & 3;
    int8_t sc = int8_t((lo | (hi << 4)) - 32);
    const float d = dAll * float(sc);
    if (d == 0.0f)
      continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearestInt(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t(std::max(-4, std::min(3, l)) + 4);
    }
  }

  // High bit of element e goes to bit e/32 of hmask[e%32].
  std::memset(hmask, 0, 32);
  uint8_t low[QK];
  for (int j = 0; j < QK; ++j) {
    int l = L[j];
    if (l > 3) {
      hmask[j % 32] |= uint8_t(1u << (j / 32));
      l -= 4;
    }
    low[j] = uint8_t(l);
  }
  pack2Bit(low, qs);
}

//===----------------------------------------------------------------------===//
// Q4_K / Q5_K: 8 x 32, asymmetric, 6-bit scale and min per sub-block
//===----------------------------------------------------------------------===//

/// Fits the 8 sub-blocks and writes d, dmin and the packed scales; leaves
/// the fitted codes in L (re-derived afterwards from the stored values).
void fitBlockK4(const float *x, uint8_t *y, const float *qw, int nmax,
                float rmin, float rdelta, int nstep, uint8_t *L) {
  uint8_t ls[8], lm[8];
  float weights[32], mins[8], scales[8];
  uint8_t *scalesOut = y + 4;

  if (!qw) {
    float maxScale = 0, maxMin = 0;
    for (int j = 0; j < 8; ++j) {
      float avX = std::sqrt(sumSquares(x + 32 * j, 32) / 32);
      for (int l = 0; l < 32; ++l)
        weights[l] = avX + std::fabs(x[32 * j + l]);
      scales[j] = makeQkx2Quants(32, nmax, x + 32 * j, weights, L + 32 * j,
                                 &mins[j], rmin, rdelta, nstep, false);
      if (scales[j] > maxScale)
        maxScale = scales[j];
      if (mins[j] > maxMin)
        maxMin = mins[j];
    }
    float invScale = maxScale > 0 ? 63.0f / maxScale : 0.0f;
    float invMin = maxMin > 0 ? 63.0f / maxMin : 0.0f;
    for (int j = 0; j < 8; ++j) {
      // ggml truncates to uint8_t before clamping to 63.
      ls[j] = std::min<uint8_t>(63, uint8_t(nearestInt(invScale * scales[j])));
      lm[j] = std::min<uint8_t>(63, uint8_t(nearestInt(invMin * mins[j])));
    }
    packScaleMinK4(ls, lm, scalesOut);
    putHalf(y, maxScale / 63.0f);
    putHalf(y + 2, maxMin / 63.0f);
    return;
  }

  float sw[8];
  float sigma2 = 2 * sumSquares(x, QK) / float(QK);
  for (int j = 0; j < 8; ++j) {
    importanceWeights(x + 32 * j, qw + 32 * j, sigma2, 32, weights);
    float sumw = 0;
    for (int l = 0; l < 32; ++l)
      sumw += weights[l];
    sw[j] = sumw;
    scales[j] = makeQkx3Quants(32, nmax, x + 32 * j, weights, L + 32 * j,
                               &mins[j], -0.9f, 0.05f, 36, false);
  }
  float dBlock = makeQpQuants(8, 63, scales, ls, sw);
  float mBlock = makeQpQuants(8, 63, mins, lm, sw);
  // makeQpQuants caps codes at 63; only ggml's Q5_K path clamps again, which
  // matters solely for a (wrapped) negative code.
  if (nmax == 31) {
    for (int j = 0; j < 8; ++j) {
      ls[j] = std::min<uint8_t>(63, ls[j]);
      lm[j] = std::min<uint8_t>(63, lm[j]);
    }
  }
  packScaleMinK4(ls, lm, scalesOut);
  putHalf(y, dBlock);
  putHalf(y + 2, mBlock);
}

void quantizeBlockQ4K(const float *x, uint8_t *y, const float *qw) {
  uint8_t L[QK];
  fitBlockK4(x, y, qw, 15, -1.0f, 0.1f, 20, L);
  requantizeK4(x, y + 4, getHalf(y), getHalf(y + 2), 15, L);
  uint8_t *q = y + 16;
  for (int j = 0; j < QK; j += 64, q += 32)
    for (int l = 0; l < 32; ++l)
      q[l] = uint8_t(L[j + l] | (L[j + l + 32] << 4));
}

void quantizeBlockQ5K(const float *x, uint8_t *y, const float *qw) {
  uint8_t L[QK];
  fitBlockK4(x, y, qw, 31, -0.5f, 0.1f, 15, L);
  requantizeK4(x, y + 4, getHalf(y), getHalf(y + 2), 31, L);
  uint8_t *qh = y + 16, *ql = y + 48;
  std::memset(qh, 0, 32);
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < QK; n += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j], l2 = L[n + j + 32];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] |= m1;
      }
      if (l2 > 15) {
        l2 -= 16;
        qh[j] |= m2;
      }
      ql[j] = uint8_t(l1 | (l2 << 4));
    }
    m1 <<= 2;
    m2 <<= 2;
  }
}

//===----------------------------------------------------------------------===//
// Q6_K: 16 x 16, 6-bit codes, signed 8-bit scale per sub-block
//===----------------------------------------------------------------------===//

#ifdef LOWBIT_X86
/// Q6_K's final codes of 16 values: clamp(nearest(x / d), -32, 31) + 32.
LOWBIT_AVX2 void requantizeQ6KAvx2(const float *x, float d, int8_t *L) {
  const __m256 dv = _mm256_set1_ps(d), magic = _mm256_set1_ps(12582912.0f);
  __m256i q[2];
  for (int k = 0; k < 2; ++k) {
    __m256 f = _mm256_add_ps(_mm256_div_ps(_mm256_loadu_ps(x + 8 * k), dv),
                             magic);
    __m256i l = _mm256_sub_epi32(
        _mm256_and_si256(_mm256_castps_si256(f), _mm256_set1_epi32(0x7fffff)),
        _mm256_set1_epi32(0x400000));
    l = _mm256_min_epi32(_mm256_max_epi32(l, _mm256_set1_epi32(-32)),
                         _mm256_set1_epi32(31));
    q[k] = _mm256_add_epi32(l, _mm256_set1_epi32(32));
  }
  __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8);
  __m128i bytes = _mm_packs_epi16(_mm256_castsi256_si128(words),
                                  _mm256_extracti128_si256(words, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(L), bytes);
}
#endif

void quantizeBlockQ6K(const float *x, uint8_t *y, const float *qw) {
  uint8_t *ql = y, *qh = y + 128;
  int8_t *scalesOut = reinterpret_cast<int8_t *>(y + 192);
  int8_t L[QK];
  float scales[16];

  float maxScale = 0, maxAbsScale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    // With an imatrix the weights are the importance values themselves.
    float scale = makeQxQuants(16, 32, x + 16 * ib, L + 16 * ib,
                               qw ? qw + 16 * ib : nullptr);
    scales[ib] = scale;
    float absScale = std::fabs(scale);
    if (absScale > maxAbsScale) {
      maxAbsScale = absScale;
      maxScale = scale;
    }
  }
  if (maxAbsScale < kGroupMaxEps) {
    std::memset(y, 0, 210);
    return;
  }

  float iscale = -128.0f / maxScale;
  putHalf(y + 208, 1 / iscale);
  for (int ib = 0; ib < 16; ++ib)
    scalesOut[ib] = int8_t(std::min(127, nearestInt(iscale * scales[ib])));

  const float dAll = getHalf(y + 208);
  for (int j = 0; j < 16; ++j) {
    float d = dAll * float(scalesOut[j]);
    if (d == 0.0f)
      continue;
#ifdef LOWBIT_X86
    if (useAvx2()) {
      requantizeQ6KAvx2(x + 16 * j, d, L + 16 * j);
      continue;
    }
#endif
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearestInt(x[16 * j + ii] / d);
      L[16 * j + ii] = int8_t(std::max(-32, std::min(31, l)) + 32);
    }
  }

  for (int j = 0; j < QK; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      uint8_t q1 = L[j + l] & 0xf, q2 = L[j + l + 32] & 0xf;
      uint8_t q3 = L[j + l + 64] & 0xf, q4 = L[j + l + 96] & 0xf;
      ql[l] = uint8_t(q1 | (q3 << 4));
      ql[l + 32] = uint8_t(q2 | (q4 << 4));
      qh[l] = uint8_t((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                      ((L[j + l + 64] >> 4) << 4) |
                      ((L[j + l + 96] >> 4) << 6));
    }
  }
}

template <void (*Block)(const float *, uint8_t *, const float *)>
void quantizeRowK(const float *x, uint8_t *dst, int64_t n, const float *qw,
                  int blockBytes) {
  for (int64_t i = 0; i < n / QK; ++i)
    Block(x + QK * i, dst + blockBytes * i, qw ? qw + QK * i : nullptr);
}

} // namespace

void ggmlq::quantizeRowQ2K(const float *x, uint8_t *dst, int64_t n,
                           const float *qw) {
  quantizeRowK<quantizeBlockQ2K>(x, dst, n, qw, 84);
}
void ggmlq::quantizeRowQ3K(const float *x, uint8_t *dst, int64_t n,
                           const float *qw) {
  quantizeRowK<quantizeBlockQ3K>(x, dst, n, qw, 110);
}
void ggmlq::quantizeRowQ4K(const float *x, uint8_t *dst, int64_t n,
                           const float *qw) {
  quantizeRowK<quantizeBlockQ4K>(x, dst, n, qw, 144);
}
void ggmlq::quantizeRowQ5K(const float *x, uint8_t *dst, int64_t n,
                           const float *qw) {
  quantizeRowK<quantizeBlockQ5K>(x, dst, n, qw, 176);
}
void ggmlq::quantizeRowQ6K(const float *x, uint8_t *dst, int64_t n,
                           const float *qw) {
  quantizeRowK<quantizeBlockQ6K>(x, dst, n, qw, 210);
}
