//===- Affine.cpp - Group-wise integer quantization -----------------------===//
#include "lowbit/Quant/Affine.h"

#include <algorithm>
#include <cmath>

using namespace lowbit;

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
  scale = (hi - lo) / maxq;
  zero = scheme.symmetric ? (maxq + 1) / 2 : std::nearbyint(-lo / scale);
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
                              int64_t groupSize, float *out) {
  int64_t g = groupSize < 0 ? cols : groupSize, groups = cols / g;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t j = r * groups + c / g;
      out[r * cols + c] = scales[j] * (float(codes[r * cols + c]) - zeros[j]);
    }
}
