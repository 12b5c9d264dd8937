//===- Affine.cpp - Group-wise integer quantization -----------------------===//
#include "lowbit/Quant/Affine.h"
#include "lowbit/Support/Float16.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

using namespace lowbit;

namespace {

/// The fp16 value a scale is stored as. Subnormal fp16 steps are coarse
/// (2^-24), so there the scale rounds up: a grid rounded down would clip the
/// group's extremes.
float storedScale(float scale) {
  constexpr float kMinNormal = 6.103515625e-05f; // 2^-14
  constexpr float kMaxFinite = 65504.0f;
  if (!(scale < kMaxFinite))
    return kMaxFinite;
  uint16_t h = floatToFp16(scale);
  float r = fp16ToFloat(h);
  if (r < kMinNormal && r < scale)
    r = fp16ToFloat(uint16_t(h + 1));
  return r > 0 ? r : fp16ToFloat(1); // smallest subnormal
}

/// Scale and zero of the range [lo, hi] (lo <= 0 <= hi, not both 0).
void gridOfRange(float lo, float hi, const AffineScheme &scheme, float maxq,
                 float &scale, float &zero) {
  scale = storedScale((hi - lo) / maxq);
  zero = scheme.symmetric
             ? (maxq + 1) / 2
             : std::clamp(std::nearbyint(-lo / scale), 0.0f, maxq);
}

float bitsToFloat(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

uint32_t floatToBits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

/// a^2.4 for a >= 0, within 5e-6 relative. Built from IEEE operations only
/// (no libm), so the vectorized and scalar builds of gridError give the same
/// bits on every machine; std::pow was most of the MSE grid search's time.
inline float pow24(float a) {
  // a = m · 2^e with m in [√½, √2): log2 m from the atanh series.
  uint32_t bits = floatToBits(a);
  int32_t e = int32_t(bits >> 23) - 127;
  float m = bitsToFloat((bits & 0x007fffffu) | 0x3f800000u);
  bool high = m > 1.41421356f;
  m = high ? m * 0.5f : m;
  e += high ? 1 : 0;
  float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  float lnM = 2.0f * t *
              (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 * (1.0f / 9)))));
  float y = std::max(2.4f * (float(e) + lnM * 1.44269504f), -126.0f);
  // 2^y = 2^round(y) · e^(f ln 2), |f| <= ½.
  float yi = std::nearbyint(y);
  float f = (y - yi) * 0.693147181f;
  float p = 1.0f + f * (1.0f + f * (0.5f + f * (1.0f / 6 + f * (1.0f / 24 +
                                                                 f * (1.0f / 120 + f * (1.0f / 720))))));
  float r = bitsToFloat(floatToBits(p) + (uint32_t(int32_t(yi)) << 23));
  return a < 1e-30f ? 0.0f : r;
}

/// Σ |s·(q − z) − w|^norm over the group (the reference quantizer's norm
/// 2.4), summed in eight fixed lanes so the loop vectorizes the same way
/// everywhere (this file builds with -ffp-contract=off).
__attribute__((target_clones("avx2", "default"))) double
gridError(const float *w, int64_t n, float scale, float zero, float maxq) {
  constexpr int kLanes = 8;
  float lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      float x = w[i + l];
      float q = std::clamp(std::nearbyint(x / scale) + zero, 0.0f, maxq);
      lane[l] += pow24(std::fabs(scale * (q - zero) - x));
    }
  double sum = 0;
  for (float v : lane)
    sum += v;
  for (; i < n; ++i) {
    float q = std::clamp(std::nearbyint(w[i] / scale) + zero, 0.0f, maxq);
    sum += pow24(std::fabs(scale * (q - zero) - w[i]));
  }
  return sum;
}

} // namespace

void lowbit::computeAffineGrid(const float *w, int64_t n,
                               const AffineScheme &scheme, float &scale,
                               float &zero) {
  float maxq = float((1 << scheme.bits) - 1);
  // The grid always contains 0 (IST-DASLab/gptq Quantizer.find_params).
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  if (scheme.symmetric) {
    float m = std::max(std::fabs(lo), hi);
    lo = lo < 0 ? -m : lo;
    hi = m;
  }
  if (lo == 0 && hi == 0) {
    lo = -1;
    hi = 1;
  }
  gridOfRange(lo, hi, scheme, maxq, scale, zero);
  if (!scheme.mseGrid)
    return;
  // The reference quantizer's mse=True search: grid=100, maxshrink=0.8.
  constexpr int kGrid = 100, kSteps = 80;
  double best = gridError(w, n, scale, zero, maxq);
  for (int i = 1; i < kSteps; ++i) {
    float p = 1.0f - float(i) / kGrid;
    float s, z;
    gridOfRange(p * lo, p * hi, scheme, maxq, s, z);
    double err = gridError(w, n, s, z, maxq);
    if (err < best) {
      best = err;
      scale = s;
      zero = z;
    }
  }
}

uint8_t lowbit::affineCode(float w, float scale, float zero, int bits) {
  float maxq = float((1 << bits) - 1);
  float q = std::nearbyint(w / scale) + zero;
  return uint8_t(std::clamp(q, 0.0f, maxq));
}

llvm::Expected<AffineTensor> lowbit::quantizeAffineRtn(const float *w,
                                                       int64_t rows, int64_t cols,
                                                       const AffineScheme &scheme) {
  if (scheme.bits < 2 || scheme.bits > 8)
    return llvm::createStringError("bits must be 2..8, not " +
                                   std::to_string(scheme.bits));
  if (scheme.groupSize == 0 || scheme.groupSize < -1 ||
      (scheme.groupSize > 0 && cols % scheme.groupSize))
    return llvm::createStringError(
        "group size " + std::to_string(scheme.groupSize) +
        " does not divide input width " + std::to_string(cols));
  int64_t g = scheme.groupWidth(cols), groups = scheme.groupsPerRow(cols);
  AffineTensor t;
  t.codes.resize(size_t(rows * cols));
  t.scales.resize(size_t(rows * groups));
  t.zeros.resize(size_t(rows * groups));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < groups; ++j) {
      const float *src = w + r * cols + j * g;
      float scale, zero;
      computeAffineGrid(src, g, scheme, scale, zero);
      t.scales[r * groups + j] = scale;
      t.zeros[r * groups + j] = zero;
      for (int64_t i = 0; i < g; ++i)
        t.codes[r * cols + j * g + i] = affineCode(src[i], scale, zero, scheme.bits);
    }
  return t;
}

void lowbit::dequantizeAffine(const uint8_t *codes, const float *scales,
                              const float *zeros, int64_t rows, int64_t cols,
                              int64_t groupSize, float *out,
                              const int32_t *gIdx) {
  int64_t g = groupSize < 0 ? cols : groupSize, groups = cols / g;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t j = r * groups + (gIdx ? gIdx[c] : c / g);
      out[r * cols + c] = scales[j] * (float(codes[r * cols + c]) - zeros[j]);
    }
}
