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
// The AVX2 versions of the hot loops (chosen at run time, see useAvx2) apply
// the same operations to 8 values or 8 trials at once; their target leaves
// FMA out, and where a NaN or an infinity would make the vector form differ
// (maximum searches, saturating packs) the block takes the portable code.
//
//===----------------------------------------------------------------------===//
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "lowbit/Quant/GgmlQuantize.h"
#include "GgmlQuantizeImpl.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/Endian.h"

#include <algorithm>
#include <cassert>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOWBIT_X86 1
#endif

using namespace llvm;
using namespace lowbit;
using namespace lowbit::ggmlq;

bool ggmlq::useAvx2() {
#ifdef LOWBIT_X86
  // LOWBIT_PORTABLE_QUANT=1 runs the portable loops (to compare the two).
  static const bool have = __builtin_cpu_supports("avx2") &&
                           __builtin_cpu_supports("f16c") &&
                           !std::getenv("LOWBIT_PORTABLE_QUANT");
  return have;
#else
  return false;
#endif
}

#ifdef LOWBIT_X86
#define LOWBIT_AVX2 __attribute__((target("avx2,f16c")))

namespace {
/// Horizontal maximum of 8 non-NaN floats.
LOWBIT_AVX2 inline float horizontalMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

/// fp32 -> fp16 bits of a finite value, rounding to nearest-even like
/// floatToFp16.
LOWBIT_AVX2 inline void putHalfF16C(uint8_t *p, float v) {
  support::endian::write16le(p, uint16_t(_cvtss_sh(v, 0)));
}

/// ggml's nearest_int on 8 lanes (see nearestInt).
LOWBIT_AVX2 inline __m256i nearestInt8(__m256 v) {
  __m256 f = _mm256_add_ps(v, _mm256_set1_ps(12582912.0f));
  return _mm256_sub_epi32(
      _mm256_and_si256(_mm256_castps_si256(f), _mm256_set1_epi32(0x007fffff)),
      _mm256_set1_epi32(0x00400000));
}

/// Packs 4 x 8 int32 lanes holding values in [-128, 127] into 32 signed
/// bytes, in order.
LOWBIT_AVX2 inline __m256i packBytes(__m256i a, __m256i b, __m256i c,
                                     __m256i d) {
  __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  __m256i bytes = _mm256_packs_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(bytes,
                                     _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
} // namespace
#endif

//===----------------------------------------------------------------------===//
// Scale searches
//===----------------------------------------------------------------------===//

// The searches below evaluate independent trial scales side by side ("lanes")
// instead of one after the other. Each lane still accumulates its sums over
// the elements in index order with ggml's expressions, so every sum is
// bit-identical to ggml's; only the dependency chains run in parallel (and
// the lane loops vectorize). Trials are then compared in ggml's order.

namespace {
constexpr int kQxLanes = 24;

/// The sums of makeQxQuants' trials, lane t for inverse scale iscales[t].
void qxTrials(int n, int nmax, const float *x, const float *w, const float *wx,
              const float *iscales, float *sumlxOut, float *suml2Out) {
  // Local sums (not the outputs, which could alias the inputs) vectorize.
  float is[kQxLanes], sumlx[kQxLanes] = {}, suml2[kQxLanes] = {};
  std::memcpy(is, iscales, sizeof(is));
  for (int i = 0; i < n; ++i) {
    for (int t = 0; t < kQxLanes; ++t) {
      int l = std::clamp(nearestInt(is[t] * x[i]), -nmax, nmax - 1);
      float fl = float(l);
      sumlx[t] += wx[i] * fl;
      suml2[t] += w[i] * fl * fl;
    }
  }
  std::memcpy(sumlxOut, sumlx, sizeof(sumlx));
  std::memcpy(suml2Out, suml2, sizeof(suml2));
}

#ifdef LOWBIT_X86
LOWBIT_AVX2 void qxTrialsAvx2(int n, int nmax, const float *x, const float *w,
                              const float *wx, const float *iscales,
                              float *sumlx, float *suml2) {
  static_assert(kQxLanes == 24, "three vectors of lanes");
  const __m256i lo = _mm256_set1_epi32(-nmax), hi = _mm256_set1_epi32(nmax - 1);
  __m256 is[3], slx[3], sl2[3];
  for (int k = 0; k < 3; ++k) {
    is[k] = _mm256_loadu_ps(iscales + 8 * k);
    slx[k] = sl2[k] = _mm256_setzero_ps();
  }
  for (int i = 0; i < n; ++i) {
    __m256 xi = _mm256_set1_ps(x[i]), wi = _mm256_set1_ps(w[i]),
           wxi = _mm256_set1_ps(wx[i]);
    for (int k = 0; k < 3; ++k) {
      __m256i l = nearestInt8(_mm256_mul_ps(is[k], xi));
      l = _mm256_min_epi32(_mm256_max_epi32(l, lo), hi);
      __m256 fl = _mm256_cvtepi32_ps(l);
      slx[k] = _mm256_add_ps(slx[k], _mm256_mul_ps(wxi, fl));
      sl2[k] = _mm256_add_ps(sl2[k], _mm256_mul_ps(_mm256_mul_ps(wi, fl), fl));
    }
  }
  for (int k = 0; k < 3; ++k) {
    _mm256_storeu_ps(sumlx + 8 * k, slx[k]);
    _mm256_storeu_ps(suml2 + 8 * k, sl2[k]);
  }
}
#endif
} // namespace

namespace {
/// makeQxQuants' choice among its trials, in ggml's order: the lane whose
/// codes to keep, and its scale.
int chooseQxTrial(const float *sumlx, const float *suml2, float &scale) {
  int chosen = 0;
  scale = suml2[0] != 0.0f ? sumlx[0] / suml2[0] : 0.0f;
  float best = scale * sumlx[0];
  for (int t = 1; t < 19; ++t) {
    if (suml2[t] > 0 && sumlx[t] * sumlx[t] > best * suml2[t]) {
      chosen = t;
      scale = sumlx[t] / suml2[t];
      best = scale * sumlx[t];
    }
  }
  return chosen;
}

float makeQxQuantsPortable(int n, int nmax, const float *x, int8_t *L,
                           const float *qw) {
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
  // is = -9..-1, 1..9; lanes 19.. only pad the count to a multiple of 8.
  float iscales[kQxLanes];
  iscales[0] = float(-nmax) / max;
  for (int is = -9, k = 1; is <= 9; ++is)
    if (is != 0)
      iscales[k++] = -(float(nmax) + 0.1f * float(is)) / max;
  for (int k = 19; k < kQxLanes; ++k)
    iscales[k] = iscales[0];
  float sumlx[kQxLanes], suml2[kQxLanes];
  qxTrials(n, nmax, x, w, wx, iscales, sumlx, suml2);
  float scale;
  // ggml rewrites the codes at every improvement; the last one stands.
  float iscale = iscales[chooseQxTrial(sumlx, suml2, scale)];
  for (int i = 0; i < n; ++i)
    L[i] = int8_t(nmax + std::clamp(nearestInt(iscale * x[i]), -nmax,
                                    nmax - 1));
  return scale;
}

#ifdef LOWBIT_X86
/// makeQxQuants for n a multiple of 8; rows with a NaN take the portable
/// path (whose maximum search skips NaNs).
LOWBIT_AVX2 float makeQxQuantsAvx2(int n, int nmax, const float *x, int8_t *L,
                                   const float *qw) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 xv[4], av[4];
  __m256 nan = _mm256_setzero_ps(), amaxv = _mm256_setzero_ps();
  const int nv = n / 8;
  for (int k = 0; k < nv; ++k) {
    xv[k] = _mm256_loadu_ps(x + 8 * k);
    av[k] = _mm256_andnot_ps(sign, xv[k]);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(xv[k], xv[k], _CMP_UNORD_Q));
    amaxv = _mm256_max_ps(amaxv, av[k]);
  }
  if (_mm256_movemask_ps(nan))
    return makeQxQuantsPortable(n, nmax, x, L, qw);
  float amax = horizontalMax(amaxv);
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, n);
    return 0.0f;
  }
  // The first element of largest magnitude, with its sign.
  uint32_t first = 0;
  for (int k = 0; k < nv; ++k)
    first |= uint32_t(_mm256_movemask_ps(_mm256_cmp_ps(
                 av[k], _mm256_set1_ps(amax), _CMP_EQ_OQ)))
             << (8 * k);
  float max = x[__builtin_ctz(first)];

  alignas(32) float w[32], wx[32];
  for (int k = 0; k < nv; ++k) {
    __m256 wk = qw ? _mm256_loadu_ps(qw + 8 * k)
                   : _mm256_mul_ps(xv[k], xv[k]);
    _mm256_store_ps(w + 8 * k, wk);
    _mm256_store_ps(wx + 8 * k, _mm256_mul_ps(wk, xv[k]));
  }
  alignas(32) float iscales[kQxLanes];
  iscales[0] = float(-nmax);
  for (int is = -9, k = 1; is <= 9; ++is)
    if (is != 0)
      iscales[k++] = -(float(nmax) + 0.1f * float(is));
  for (int k = 19; k < kQxLanes; ++k)
    iscales[k] = iscales[0];
  __m256 maxv = _mm256_set1_ps(max);
  for (int k = 0; k < kQxLanes; k += 8)
    _mm256_store_ps(iscales + k,
                    _mm256_div_ps(_mm256_load_ps(iscales + k), maxv));

  alignas(32) float sumlx[kQxLanes], suml2[kQxLanes];
  qxTrialsAvx2(n, nmax, x, w, wx, iscales, sumlx, suml2);
  // chooseQxTrial with the quotients and products of every lane formed up
  // front (the same IEEE operations; lanes never chosen are ignored).
  alignas(32) float scales[kQxLanes], bests[kQxLanes], squares[kQxLanes];
  for (int k = 0; k < kQxLanes; k += 8) {
    __m256 slx = _mm256_load_ps(sumlx + k), sl2 = _mm256_load_ps(suml2 + k);
    __m256 q = _mm256_div_ps(slx, sl2);
    _mm256_store_ps(scales + k, q);
    _mm256_store_ps(bests + k, _mm256_mul_ps(q, slx));
    _mm256_store_ps(squares + k, _mm256_mul_ps(slx, slx));
  }
  int chosen = 0;
  float scale = suml2[0] != 0.0f ? scales[0] : 0.0f;
  float best = suml2[0] != 0.0f ? bests[0] : 0.0f * sumlx[0];
  for (int t = 1; t < 19; ++t) {
    if (suml2[t] > 0 && squares[t] > best * suml2[t]) {
      chosen = t;
      best = bests[t];
    }
  }
  if (chosen)
    scale = scales[chosen];
  __m256 iscale = _mm256_set1_ps(iscales[chosen]);
  const __m256i lo = _mm256_set1_epi32(-nmax), hi = _mm256_set1_epi32(nmax - 1),
                bias = _mm256_set1_epi32(nmax);
  __m256i q[4];
  for (int k = 0; k < nv; ++k) {
    __m256i l = nearestInt8(_mm256_mul_ps(iscale, xv[k]));
    q[k] = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(l, lo), hi),
                            bias);
  }
  alignas(32) int8_t codes[32];
  for (int k = nv; k < 4; ++k)
    q[k] = _mm256_setzero_si256();
  _mm256_store_si256(reinterpret_cast<__m256i *>(codes),
                     packBytes(q[0], q[1], q[2], q[3]));
  std::memcpy(L, codes, n);
  return scale;
}
#endif
} // namespace

float ggmlq::makeQxQuants(int n, int nmax, const float *x, int8_t *L,
                          const float *qw) {
  assert(n <= 32 && "sub-block too long");
#ifdef LOWBIT_X86
  if (n % 8 == 0 && useAvx2())
    return makeQxQuantsAvx2(n, nmax, x, L, qw);
#endif
  return makeQxQuantsPortable(n, nmax, x, L, qw);
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

#ifdef LOWBIT_X86
/// The trial search of makeQkxQuants below, 8 trials per batch: the same
/// sums and tests per trial, accepted in the same order.
LOWBIT_AVX2 static void qkxSearchAvx2(int n, int nmax, const float *x,
                                      const float *weights, uint8_t *L,
                                      float max, float sumW, float sumX,
                                      float rmin, float rdelta, int nstep,
                                      bool useMad, float &min, float &scale,
                                      float &bestError) {
  constexpr int kBatch = 8;
  alignas(32) float codes[32][kBatch];
  alignas(32) float D[kBatch], tScale[kBatch], tMin[kBatch], err[kBatch];
  const __m256i nmaxv = _mm256_set1_epi32(nmax), zero = _mm256_setzero_si256();
  const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 sw = _mm256_set1_ps(sumW), sx = _mm256_set1_ps(sumX);
  for (int is = 0; is <= nstep;) {
    // float(is + b) is exact, so float(is) + b is the same value.
    __m256 t = _mm256_add_ps(_mm256_set1_ps(float(is)), lane);
    __m256 isc = _mm256_div_ps(
        _mm256_add_ps(_mm256_add_ps(_mm256_set1_ps(rmin),
                                    _mm256_mul_ps(_mm256_set1_ps(rdelta), t)),
                      _mm256_set1_ps(float(nmax))),
        _mm256_set1_ps(max - min));
    __m256 sumL = _mm256_setzero_ps(), sumL2 = sumL, sumXL = sumL;
    for (int i = 0; i < n; ++i) {
      __m256 xm = _mm256_set1_ps(x[i] - min), w = _mm256_set1_ps(weights[i]);
      __m256i l = nearestInt8(_mm256_mul_ps(isc, xm));
      l = _mm256_max_epi32(_mm256_min_epi32(l, nmaxv), zero);
      __m256 fl = _mm256_cvtepi32_ps(l), wl = _mm256_mul_ps(w, fl);
      _mm256_store_ps(codes[i], fl);
      sumL = _mm256_add_ps(sumL, wl);
      sumL2 = _mm256_add_ps(sumL2, _mm256_mul_ps(wl, fl));
      sumXL = _mm256_add_ps(sumXL, _mm256_mul_ps(wl, _mm256_set1_ps(x[i])));
    }
    __m256 d = _mm256_sub_ps(_mm256_mul_ps(sw, sumL2), _mm256_mul_ps(sumL, sumL));
    __m256 ts = _mm256_div_ps(
        _mm256_sub_ps(_mm256_mul_ps(sw, sumXL), _mm256_mul_ps(sx, sumL)), d);
    __m256 tm = _mm256_div_ps(
        _mm256_sub_ps(_mm256_mul_ps(sumL2, sx), _mm256_mul_ps(sumL, sumXL)), d);
    __m256 positive = _mm256_cmp_ps(tm, _mm256_setzero_ps(), _CMP_GT_OQ);
    tm = _mm256_blendv_ps(tm, _mm256_setzero_ps(), positive);
    ts = _mm256_blendv_ps(ts, _mm256_div_ps(sumXL, sumL2), positive);
    __m256 e = _mm256_setzero_ps();
    for (int i = 0; i < n; ++i) {
      __m256 w = _mm256_set1_ps(weights[i]);
      __m256 diff = _mm256_sub_ps(
          _mm256_add_ps(_mm256_mul_ps(ts, _mm256_load_ps(codes[i])), tm),
          _mm256_set1_ps(x[i]));
      diff = useMad ? _mm256_andnot_ps(sign, diff) : _mm256_mul_ps(diff, diff);
      e = _mm256_add_ps(e, _mm256_mul_ps(w, diff));
    }
    _mm256_store_ps(D, d);
    _mm256_store_ps(tScale, ts);
    _mm256_store_ps(tMin, tm);
    _mm256_store_ps(err, e);
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
}
#endif

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

#ifdef LOWBIT_X86
  if (useAvx2()) {
    qkxSearchAvx2(n, nmax, x, weights, L, max, sumW, sumX, rmin, rdelta, nstep,
                  useMad, min, scale, bestError);
    *theMin = -min;
    return scale;
  }
#endif
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

static void quantizeBlockQ4_0(const float *x, uint8_t *dst) {
  uint8_t *qs = dst + 2;
  float d = maxMagnitudeElement(x, 32) / -8;
  float id = d != 0.0f ? 1.0f / d : 0.0f;
  putHalf(dst, d);
  for (int j = 0; j < 16; ++j) {
    int q0 = std::min(15, truncToInt8(x[j] * id + 8.5f));
    int q1 = std::min(15, truncToInt8(x[j + 16] * id + 8.5f));
    qs[j] = uint8_t(uint8_t(q0) | (uint8_t(q1) << 4));
  }
}

#ifdef LOWBIT_X86
namespace {
/// A block of 32 values as 4 vectors, with |x| and whether any is NaN.
struct Block32 {
  __m256 v[4], a[4];
  float amax;
  bool hasNaN;
};

LOWBIT_AVX2 inline Block32 loadBlock32(const float *x) {
  Block32 b;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 nan = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    b.v[k] = _mm256_loadu_ps(x + 8 * k);
    b.a[k] = _mm256_andnot_ps(sign, b.v[k]);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(b.v[k], b.v[k], _CMP_UNORD_Q));
  }
  b.hasNaN = _mm256_movemask_ps(nan) != 0;
  b.amax = horizontalMax(_mm256_max_ps(_mm256_max_ps(b.a[0], b.a[1]),
                                       _mm256_max_ps(b.a[2], b.a[3])));
  return b;
}

/// Bit j set where |x[j]| == m.
LOWBIT_AVX2 inline uint32_t equalMask(const Block32 &b, float m) {
  __m256 mv = _mm256_set1_ps(m);
  uint32_t mask = 0;
  for (int k = 0; k < 4; ++k)
    mask |= uint32_t(_mm256_movemask_ps(_mm256_cmp_ps(b.a[k], mv, _CMP_EQ_OQ)))
            << (8 * k);
  return mask;
}

LOWBIT_AVX2 void quantizeRowQ4_0Avx2(const float *x, uint8_t *dst,
                                     int64_t n) {
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += 18) {
    Block32 b = loadBlock32(x);
    if (b.hasNaN || !(b.amax <= FLT_MAX)) {
      quantizeBlockQ4_0(x, dst);
      continue;
    }
    // The first element of largest magnitude, with its sign; +0 when all
    // are zero, as maxMagnitudeElement gives.
    float max = 0.0f;
    if (b.amax != 0.0f)
      max = x[__builtin_ctz(equalMask(b, b.amax))];
    float d = max / -8;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!(id <= FLT_MAX)) { // 1/d overflowed: leave the infinities to C
      quantizeBlockQ4_0(x, dst);
      continue;
    }
    putHalfF16C(dst, d);
    // |x * id| <= 8 (+ rounding), so every truncation lies in [0, 16].
    __m256 idv = _mm256_set1_ps(id), off = _mm256_set1_ps(8.5f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k)
      q[k] = _mm256_min_epi32(
          _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(b.v[k], idv), off)),
          _mm256_set1_epi32(15));
    __m256i lo = _mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4));
    __m256i hi = _mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4));
    __m256i packed = _mm256_packus_epi32(lo, hi); // u16, lanes interleaved
    packed = _mm256_permute4x64_epi64(packed, 0xD8);
    __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(packed),
                                     _mm256_extracti128_si256(packed, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + 2), bytes);
  }
}

LOWBIT_AVX2 void quantizeRowQ8_0Avx2(const float *x, uint8_t *dst,
                                     int64_t n) {
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += 34) {
    Block32 b = loadBlock32(x);
    float d = b.amax / 127;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (b.hasNaN || !(b.amax <= FLT_MAX) || !(id <= FLT_MAX)) {
      quantizeRowQ8_0(x, dst, 32);
      continue;
    }
    putHalfF16C(dst, d);
    // Round half away from zero, as roundf: |x * id| <= 127 (+ rounding).
    __m256 idv = _mm256_set1_ps(id);
    __m256 half = _mm256_set1_ps(0.5f), minusHalf = _mm256_set1_ps(-0.5f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      __m256 v = _mm256_mul_ps(b.v[k], idv);
      __m256i t = _mm256_cvttps_epi32(v);
      __m256 frac = _mm256_sub_ps(v, _mm256_cvtepi32_ps(t));
      __m256i up = _mm256_castps_si256(_mm256_cmp_ps(frac, half, _CMP_GE_OQ));
      __m256i down =
          _mm256_castps_si256(_mm256_cmp_ps(frac, minusHalf, _CMP_LE_OQ));
      q[k] = _mm256_add_epi32(_mm256_sub_epi32(t, up), down);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst + 2),
                        packBytes(q[0], q[1], q[2], q[3]));
  }
}
} // namespace
#endif

static void quantizeRowQ4_0(const float *x, uint8_t *dst, int64_t n,
                            const float *qw) {
#ifdef LOWBIT_X86
  if (!qw && useAvx2())
    return quantizeRowQ4_0Avx2(x, dst, n);
#endif
  float sigma2 = qw ? rowSigma2(x, n) : 0.0f;
  for (int64_t ib = 0; ib < n / 32; ++ib, x += 32, dst += 18) {
    if (!qw) {
      quantizeBlockQ4_0(x, dst);
      continue;
    }
    uint8_t *qs = dst + 2;
    float w[32];
    int8_t L[32];
    importanceWeights(x, qw + 32 * ib, sigma2, w);
    putHalf(dst, makeQxQuants(32, 8, x, L, w));
    for (int j = 0; j < 16; ++j)
      qs[j] = uint8_t(L[j] | (L[j + 16] << 4));
  }
}

static void quantizeRowQ8_0Fast(const float *x, uint8_t *dst, int64_t n) {
#ifdef LOWBIT_X86
  if (useAvx2())
    return quantizeRowQ8_0Avx2(x, dst, n);
#endif
  quantizeRowQ8_0(x, dst, n);
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
  case DType::Q8_0: quantizeRowQ8_0Fast(src, dst, n); break;
  case DType::Q2_K: quantizeRowQ2K(src, dst, n, importance); break;
  case DType::Q3_K: quantizeRowQ3K(src, dst, n, importance); break;
  case DType::Q4_K: quantizeRowQ4K(src, dst, n, importance); break;
  case DType::Q5_K: quantizeRowQ5K(src, dst, n, importance); break;
  case DType::Q6_K: quantizeRowQ6K(src, dst, n, importance); break;
  default: break;
  }
  return Error::success();
}
