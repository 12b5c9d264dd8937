//===- Int8Row.cpp - LLM.int8() vector-wise int8 quantization -------------===//
#include "lowbit/Quant/Int8Row.h"

#include <algorithm>
#include <cmath>

using namespace lowbit;

static float rowAbsMax(const float *v, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i)
    m = std::max(m, std::fabs(v[i]));
  return m;
}

/// round(v · 127 / absmax), ties to even (the default rounding mode).
static int8_t int8Code(float v, float absMax) {
  float q = std::nearbyint(v * (127.0f / absMax));
  return int8_t(std::clamp(q, -127.0f, 127.0f));
}

Int8RowTensor lowbit::quantizeInt8Rows(const float *w, int64_t rows,
                                       int64_t cols) {
  Int8RowTensor t;
  t.codes.assign(size_t(rows * cols), 0);
  t.scales.assign(size_t(rows), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = w + r * cols;
    float absMax = rowAbsMax(row, cols);
    t.scales[size_t(r)] = absMax;
    if (absMax == 0)
      continue;
    for (int64_t c = 0; c < cols; ++c)
      t.codes[size_t(r * cols + c)] = int8Code(row[c], absMax);
  }
  return t;
}

void lowbit::dequantizeInt8Rows(const int8_t *codes, const float *scales,
                                int64_t rows, int64_t cols, float *out) {
  for (int64_t r = 0; r < rows; ++r) {
    float step = scales[r] / 127.0f;
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] = float(codes[r * cols + c]) * step;
  }
}

void lowbit::fakeQuantizeInt8Rows(float *x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float *row = x + r * cols;
    float absMax = rowAbsMax(row, cols);
    if (absMax == 0)
      continue;
    float step = absMax / 127.0f;
    for (int64_t c = 0; c < cols; ++c)
      row[c] = float(int8Code(row[c], absMax)) * step;
  }
}

void lowbit::int8RowMatmulReference(const float *x, int64_t rows, int64_t k,
                                    const Int8RowTensor &w, int64_t n,
                                    float *out) {
  std::vector<int8_t> xq(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * k;
    float absMax = rowAbsMax(row, k);
    for (int64_t c = 0; c < k; ++c)
      xq[size_t(c)] = absMax == 0 ? 0 : int8Code(row[c], absMax);
    for (int64_t o = 0; o < n; ++o) {
      int32_t acc = 0;
      const int8_t *cb = w.codes.data() + o * k;
      for (int64_t c = 0; c < k; ++c)
        acc += int32_t(xq[size_t(c)]) * int32_t(cb[c]);
      out[r * n + o] = float(double(acc) * absMax * w.scales[size_t(o)] /
                             (127.0 * 127.0));
    }
  }
}
