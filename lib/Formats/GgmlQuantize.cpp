//===- GgmlQuantize.cpp - llama.cpp-compatible ggml quantizers ------------===//
//
// Scale searches shared by all types, the legacy 32-element encoders and the
// entry point. Byte-exactness with ggml-quants.c rests on:
//  - float (never double) arithmetic, with each product and sum formed in the
//    same order as ggml's expressions (w*x*l is (w*x)*l, w*l*x is (w*l)*x);
//  - sums accumulated element by element in index order;
//  - nearestInt (ties to even) where ggml uses nearest_int, truncating casts
//    where ggml adds 0.5 / 8.5 / 16.5 and casts;
//  - scales rounded to fp16 with round-to-nearest-even, after the codes for
//    legacy types and before the final codes for K-quants;
//  - no contraction of a*b+c into fused multiply-adds (ggml's reference
//    build does not use FMA for these loops).
//
//===----------------------------------------------------------------------===//
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "lowbit/Formats/GgmlQuantize.h"
#include "GgmlQuantizeImpl.h"
#include "lowbit/Formats/GgmlQuants.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/Endian.h"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstring>

using namespace llvm;
using namespace lowbit;
using namespace lowbit::ggmlq;

//===----------------------------------------------------------------------===//
// Scale searches
//===----------------------------------------------------------------------===//

// The searches below evaluate independent trial scales side by side ("lanes")
// instead of one after the other. Each lane still accumulates its sums over
// the elements in index order with ggml's expressions, so every sum is
// bit-identical to ggml's; only the dependency chains run in parallel (and
// the lane loops vectorize). Trials are then compared in ggml's order.

float ggmlq::makeQxQuants(int n, int nmax, const float *x, int8_t *L,
                          const float *qw) {
  assert(n <= 32 && "sub-block too long");
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, n);
    return 0.0f;
  }
  float w[32], wx[32];
  for (int i = 0; i < n; ++i) {
    w[i] = qw ? qw[i] : x[i] * x[i];
    wx[i] = w[i] * x[i]; // ggml's w*x[i]*l is (w*x[i])*l
  }
  // Lane 0 is the initial scale -nmax/max_el, lanes 1..18 the trials
  // is = -9..-1, 1..9; lane 19 only pads the count to a multiple of 4.
  constexpr int kLanes = 20;
  float iscales[kLanes];
  iscales[0] = float(-nmax) / max;
  for (int is = -9, k = 1; is <= 9; ++is)
    if (is != 0)
      iscales[k++] = -(float(nmax) + 0.1f * float(is)) / max;
  iscales[kLanes - 1] = iscales[0];
  float sumlx[kLanes] = {}, suml2[kLanes] = {};
  for (int i = 0; i < n; ++i) {
    for (int t = 0; t < kLanes; ++t) {
      int l = std::clamp(nearestInt(iscales[t] * x[i]), -nmax, nmax - 1);
      float fl = float(l);
      sumlx[t] += wx[i] * fl;
      suml2[t] += w[i] * fl * fl;
    }
  }
  auto setCodes = [&](float iscale) {
    for (int i = 0; i < n; ++i)
      L[i] = int8_t(nmax + std::clamp(nearestInt(iscale * x[i]), -nmax,
                                      nmax - 1));
  };
  setCodes(iscales[0]);
  float scale = suml2[0] != 0.0f ? sumlx[0] / suml2[0] : 0.0f;
  float best = scale * sumlx[0];
  for (int t = 1; t < kLanes - 1; ++t) {
    if (suml2[t] > 0 && sumlx[t] * sumlx[t] > best * suml2[t]) {
      setCodes(iscales[t]);
      scale = sumlx[t] / suml2[t];
      best = scale * sumlx[t];
    }
  }
  return scale;
}

float ggmlq::makeQ3Quants(int n, int nmax, const float *x, int8_t *L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, n);
    return 0.0f;
  }
  float iscale = float(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = std::clamp(nearestInt(iscale * x[i]), -nmax, nmax - 1);
    L[i] = int8_t(l);
    float w = x[i] * x[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  // Coordinate descent: move one code to the value that is optimal for the
  // scale implied by the others, keep it if the fit improves.
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * float(L[i]);
      if (slx > 0) {
        float sl2 = suml2 - w * float(L[i]) * float(L[i]);
        int l = std::clamp(nearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (l != L[i]) {
          slx += w * x[i] * float(l);
          sl2 += w * float(l) * float(l);
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed)
      break;
  }
  for (int i = 0; i < n; ++i)
    L[i] = int8_t(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Shared body of makeQkx2Quants / makeQkx3Quants; they differ only in the
// degenerate-range test (max == min vs max <= min, which differ for NaN).
//
// ggml's trials are not independent: a trial that improves the fit replaces
// `min`, and later trials measure from the new min. We evaluate kBatch
// consecutive trials at once with the current min, accept them in order, and
// after the first improvement restart the batch at the following trial.
template <bool kImatrixVariant>
static float makeQkxQuants(int n, int nmax, const float *x,
                           const float *weights, uint8_t *L, float *theMin,
                           float rmin, float rdelta, int nstep, bool useMad) {
  assert(n <= 32 && "sub-block too long");
  float min = x[0], max = x[0];
  float sumW = weights[0];
  float sumX = sumW * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min)
      min = x[i];
    if (x[i] > max)
      max = x[i];
    float w = weights[i];
    sumW += w;
    sumX += w * x[i];
  }
  if (min > 0)
    min = 0;
  if (kImatrixVariant ? max <= min : max == min) {
    std::memset(L, 0, n);
    *theMin = -min;
    return 0.0f;
  }
  float iscale = float(nmax) / (max - min);
  float scale = 1 / iscale;
  float bestError = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearestInt(iscale * (x[i] - min));
    L[i] = uint8_t(std::max(0, std::min(nmax, l)));
    float diff = scale * float(L[i]) + min - x[i];
    diff = useMad ? std::fabs(diff) : diff * diff;
    bestError += weights[i] * diff;
  }
  if (nstep < 1) {
    *theMin = -min;
    return scale;
  }

  constexpr int kBatch = 4;
  float codes[32][kBatch]; // element-major, so lane loops are contiguous
  for (int is = 0; is <= nstep;) {
    float isc[kBatch];
    for (int b = 0; b < kBatch; ++b)
      isc[b] = (rmin + rdelta * float(is + b) + float(nmax)) / (max - min);
    float sumL[kBatch] = {}, sumL2[kBatch] = {}, sumXL[kBatch] = {};
    for (int i = 0; i < n; ++i) {
      const float xm = x[i] - min, w = weights[i];
      for (int b = 0; b < kBatch; ++b) {
        // Once `min` has moved, isc * (x - min) can exceed nearestInt's
        // exact range; like the llama.cpp we match, round first and clamp
        // the (then wrapped) result. Newer ggml clamps before rounding,
        // which only differs in that out-of-range case.
        int l = nearestInt(isc[b] * xm);
        l = l > nmax ? nmax : l;
        l = l < 0 ? 0 : l;
        float fl = float(l), wl = w * fl; // w*l*l and w*l*x start with w*l
        codes[i][b] = fl;
        sumL[b] += wl;
        sumL2[b] += wl * fl;
        sumXL[b] += wl * x[i];
      }
    }
    float D[kBatch], tScale[kBatch], tMin[kBatch], err[kBatch];
    for (int b = 0; b < kBatch; ++b) {
      D[b] = sumW * sumL2[b] - sumL[b] * sumL[b];
      tScale[b] = (sumW * sumXL[b] - sumX * sumL[b]) / D[b];
      tMin[b] = (sumL2[b] * sumX - sumL[b] * sumXL[b]) / D[b];
      if (tMin[b] > 0) {
        tMin[b] = 0;
        tScale[b] = sumXL[b] / sumL2[b];
      }
      err[b] = 0;
    }
    for (int i = 0; i < n; ++i) {
      const float w = weights[i];
      if (useMad) {
        for (int b = 0; b < kBatch; ++b)
          err[b] += w * std::fabs(tScale[b] * codes[i][b] + tMin[b] -
                                  x[i]);
      } else {
        for (int b = 0; b < kBatch; ++b) {
          float diff = tScale[b] * codes[i][b] + tMin[b] - x[i];
          err[b] += w * (diff * diff);
        }
      }
    }
    int next = is + kBatch;
    for (int b = 0; b < kBatch && is + b <= nstep; ++b) {
      if (D[b] > 0 && err[b] < bestError) {
        for (int i = 0; i < n; ++i)
          L[i] = uint8_t(codes[i][b]);
        bestError = err[b];
        scale = tScale[b];
        min = tMin[b];
        next = is + b + 1;
        break;
      }
    }
    is = next;
  }
  *theMin = -min;
  return scale;
}

float ggmlq::makeQkx2Quants(int n, int nmax, const float *x,
                            const float *weights, uint8_t *L, float *theMin,
                            float rmin, float rdelta, int nstep, bool useMad) {
  return makeQkxQuants<false>(n, nmax, x, weights, L, theMin, rmin, rdelta,
                              nstep, useMad);
}

float ggmlq::makeQkx3Quants(int n, int nmax, const float *x,
                            const float *weights, uint8_t *L, float *theMin,
                            float rmin, float rdelta, int nstep, bool useMad) {
  return makeQkxQuants<true>(n, nmax, x, weights, L, theMin, rmin, rdelta,
                             nstep, useMad);
}

float ggmlq::makeQpQuants(int n, int nmax, const float *x, uint8_t *L,
                          const float *qw) {
  float max = 0;
  for (int i = 0; i < n; ++i)
    max = max > x[i] ? max : x[i];
  if (max < kGroupMaxEps) {
    std::memset(L, 0, n);
    return 0.0f;
  }
  float iscale = float(nmax) / max;
  for (int i = 0; i < n; ++i)
    L[i] = uint8_t(nearestInt(iscale * x[i]));
  float scale = 1 / iscale;
  float bestMse = 0;
  for (int i = 0; i < n; ++i) {
    float diff = x[i] - scale * float(L[i]);
    bestMse += qw[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0)
      continue;
    float iscaleIs = (0.1f * float(is) + float(nmax)) / max;
    float scaleIs = 1 / iscaleIs;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      int l = std::min(nmax, nearestInt(iscaleIs * x[i]));
      float diff = x[i] - scaleIs * float(l);
      mse += qw[i] * diff * diff;
    }
    if (mse < bestMse) {
      bestMse = mse;
      iscale = iscaleIs;
    }
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = std::min(nmax, nearestInt(iscale * x[i]));
    L[i] = uint8_t(l);
    float w = qw[i];
    sumlx += w * x[i] * float(l);
    suml2 += w * float(l) * float(l);
  }
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float w = qw[i];
      float slx = sumlx - w * x[i] * float(L[i]);
      float sl2 = suml2 - w * float(L[i]) * float(L[i]);
      if (slx > 0 && sl2 > 0) {
        int l = std::min(nmax, nearestInt(x[i] * sl2 / slx));
        if (l != L[i]) {
          slx += w * x[i] * float(l);
          sl2 += w * float(l) * float(l);
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = uint8_t(l);
            sumlx = slx;
            suml2 = sl2;
            ++changed;
          }
        }
      }
    }
    if (!changed)
      break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

//===----------------------------------------------------------------------===//
// Legacy 32-element blocks (formats.md §3.1)
//===----------------------------------------------------------------------===//

static void putHalf(uint8_t *p, float v) {
  support::endian::write16le(p, floatToFp16(v));
}

// ggml converts x + 0.5 (or + 8.5, + 16.5) with a C cast, i.e. truncation.
static int truncToInt8(float v) { return int8_t(int32_t(v)); }

/// The signed element of largest magnitude (first one wins).
static float maxMagnitudeElement(const float *x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

static void minMax(const float *x, int n, float &min, float &max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < min)
      min = x[j];
    if (x[j] > max)
      max = x[j];
  }
}

static void packQ5High(const uint8_t *codes, uint8_t *qhOut) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qh |= uint32_t((codes[j] & 0x10u) >> 4) << j;
    qh |= uint32_t((codes[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  support::endian::write32le(qhOut, qh);
}

/// Row statistic of the legacy imatrix paths: mean of x^2 over the row.
static float rowSigma2(const float *x, int64_t n) {
  float sumX2 = 0;
  for (int64_t j = 0; j < n; ++j)
    sumX2 += x[j] * x[j];
  return sumX2 / float(n);
}

static void importanceWeights(const float *xb, const float *qw, float sigma2,
                              float *w) {
  for (int j = 0; j < 32; ++j)
    w[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

static void quantizeRowQ4_0(const float *x, uint8_t *dst, int64_t n,
                            const float *qw) {
  float sigma2 = qw ? rowSigma2(x, n) : 0.0f;
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += 18) {
    uint8_t *qs = dst + 2;
    if (qw) {
      float w[32];
      int8_t L[32];
      importanceWeights(x, qw + 32 * ib, sigma2, w);
      putHalf(dst, makeQxQuants(32, 8, x, L, w));
      for (int j = 0; j < 16; ++j)
        qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
      continue;
    }
    float d = maxMagnitudeElement(x, 32) / -8;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    putHalf(dst, d);
    for (int j = 0; j < 16; ++j) {
      int q0 = std::min(15, truncToInt8(x[j] * id + 8.5f));
      int q1 = std::min(15, truncToInt8(x[j + 16] * id + 8.5f));
      qs[j] = uint8_t(uint8_t(q0) | (uint8_t(q1) << 4));
    }
  }
}

static void quantizeRowQ4_1(const float *x, uint8_t *dst, int64_t n,
                            const float *qw) {
  float sigma2 = qw ? rowSigma2(x, n) : 0.0f;
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += 20) {
    uint8_t *qs = dst + 4;
    if (qw) {
      float w[32], min;
      uint8_t L[32];
      importanceWeights(x, qw + 32 * ib, sigma2, w);
      float d = makeQkx3Quants(32, 15, x, w, L, &min, -0.9f, 0.05f, 36, false);
      putHalf(dst, d);
      putHalf(dst + 2, -min);
      for (int j = 0; j < 16; ++j)
        qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
      continue;
    }
    float min, max;
    minMax(x, 32, min, max);
    float d = (max - min) / 15;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    putHalf(dst, d);
    putHalf(dst + 2, min);
    for (int j = 0; j < 16; ++j) {
      int q0 = std::min(15, truncToInt8((x[j] - min) * id + 0.5f));
      int q1 = std::min(15, truncToInt8((x[j + 16] - min) * id + 0.5f));
      qs[j] = uint8_t(uint8_t(q0) | (uint8_t(q1) << 4));
    }
  }
}

static void quantizeRowQ5_0(const float *x, uint8_t *dst, int64_t n,
                            const float *qw) {
  float sigma2 = qw ? rowSigma2(x, n) : 0.0f;
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += 22) {
    uint8_t codes[32];
    if (qw) {
      float w[32];
      int8_t L[32];
      importanceWeights(x, qw + 32 * ib, sigma2, w);
      putHalf(dst, makeQxQuants(32, 16, x, L, w));
      for (int j = 0; j < 32; ++j)
        codes[j] = uint8_t(L[j]);
    } else {
      float d = maxMagnitudeElement(x, 32) / -16;
      float id = d != 0.0f ? 1.0f / d : 0.0f;
      putHalf(dst, d);
      for (int j = 0; j < 32; ++j)
        codes[j] = uint8_t(std::min(31, truncToInt8(x[j] * id + 16.5f)));
    }
    packQ5High(codes, dst + 2);
    for (int j = 0; j < 16; ++j)
      dst[6 + j] = uint8_t((codes[j] & 0x0f) | ((codes[j + 16] & 0x0f) << 4));
  }
}

static void quantizeRowQ5_1(const float *x, uint8_t *dst, int64_t n,
                            const float *qw) {
  float sigma2 = qw ? rowSigma2(x, n) : 0.0f;
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += 24) {
    uint8_t codes[32];
    if (qw) {
      float w[32], min;
      importanceWeights(x, qw + 32 * ib, sigma2, w);
      float d =
          makeQkx3Quants(32, 31, x, w, codes, &min, -0.9f, 0.05f, 36, false);
      putHalf(dst, d);
      putHalf(dst + 2, -min);
    } else {
      float min, max;
      minMax(x, 32, min, max);
      float d = (max - min) / 31;
      float id = d != 0.0f ? 1.0f / d : 0.0f;
      putHalf(dst, d);
      putHalf(dst + 2, min);
      for (int j = 0; j < 32; ++j)
        codes[j] = uint8_t(int32_t((x[j] - min) * id + 0.5f));
    }
    packQ5High(codes, dst + 4);
    for (int j = 0; j < 16; ++j)
      dst[8 + j] = uint8_t((codes[j] & 0x0f) | ((codes[j + 16] & 0x0f) << 4));
  }
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

bool lowbit::canQuantizeGgml(DType type) {
  switch (type) {
  case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1:
  case DType::Q8_0: case DType::Q2_K: case DType::Q3_K: case DType::Q4_K:
  case DType::Q5_K: case DType::Q6_K:
    return true;
  default:
    return false;
  }
}

bool lowbit::ggmlTypeSupportsImportance(DType type) {
  return canQuantizeGgml(type) && type != DType::Q8_0;
}

Error lowbit::quantizeRowGgml(DType type, const float *src, uint8_t *dst,
                              int64_t n, const float *importance) {
  const DTypeInfo &info = getDTypeInfo(type);
  if (!canQuantizeGgml(type))
    return createStringError(inconvertibleErrorCode(),
                             "%s is not a ggml quantized type this encoder "
                             "supports", info.name.str().c_str());
  if (n < 0 || n % info.blockElems)
    return createStringError(inconvertibleErrorCode(),
                             "row of %lld values is not a multiple of the %s "
                             "block size %u", (long long)n,
                             info.name.str().c_str(), info.blockElems);
  switch (type) {
  case DType::Q4_0: quantizeRowQ4_0(src, dst, n, importance); break;
  case DType::Q4_1: quantizeRowQ4_1(src, dst, n, importance); break;
  case DType::Q5_0: quantizeRowQ5_0(src, dst, n, importance); break;
  case DType::Q5_1: quantizeRowQ5_1(src, dst, n, importance); break;
  case DType::Q8_0: quantizeRowQ8_0(src, dst, n); break;
  case DType::Q2_K: quantizeRowQ2K(src, dst, n, importance); break;
  case DType::Q3_K: quantizeRowQ3K(src, dst, n, importance); break;
  case DType::Q4_K: quantizeRowQ4K(src, dst, n, importance); break;
  case DType::Q5_K: quantizeRowQ5K(src, dst, n, importance); break;
  case DType::Q6_K: quantizeRowQ6K(src, dst, n, importance); break;
  default: break;
  }
  return Error::success();
}
