//===- KernelsTest.cpp - Reference kernels against naive formulas ---------===//
#include "lowbit/Interpreter/Kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

using namespace lowbit;

static Activation randomActivation(int64_t rows, int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  Activation a(rows, cols);
  for (float &v : a.data)
    v = dist(rng);
  return a;
}

TEST(Kernels, RmsNormMatchesFormula) {
  Activation x(1, 4);
  x.data = {1, 2, 3, 4};
  Activation out;
  rmsNorm(x, {1, 1, 2, 0.5f}, 0.0f, out);
  float rms = std::sqrt((1 + 4 + 9 + 16) / 4.0f);
  EXPECT_FLOAT_EQ(out.data[0], 1 / rms);
  EXPECT_FLOAT_EQ(out.data[2], 6 / rms);
  EXPECT_FLOAT_EQ(out.data[3], 2 / rms);
}

TEST(Kernels, LinearIsXTimesWTransposedPlusBias) {
  Activation x = randomActivation(3, 5, 1);
  std::vector<float> w(4 * 5), bias{1, 2, 3, 4};
  std::iota(w.begin(), w.end(), -3.0f);
  Activation out;
  linear(x, w.data(), 4, &bias, out);
  for (int r = 0; r < 3; ++r)
    for (int n = 0; n < 4; ++n) {
      float ref = bias[n];
      for (int k = 0; k < 5; ++k)
        ref += x.row(r)[k] * w[n * 5 + k];
      EXPECT_NEAR(out.row(r)[n], ref, 1e-4);
    }
}

// The two rope layouts are the same rotation on permuted rows: rotating
// rotate-half data equals rotating the interleaved permutation of it.
TEST(Kernels, RopeLayoutsAgreeUnderThePermutation) {
  const int64_t heads = 2, d = 8, rows = 5;
  Activation half = randomActivation(rows, heads * d, 2), inter(rows, heads * d);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < d / 2; ++i)
        for (int64_t j = 0; j < 2; ++j)
          inter.row(r)[h * d + 2 * i + j] = half.row(r)[h * d + j * d / 2 + i];
  std::vector<int32_t> pos{0, 1, 7, 100, 511};
  rope(half, pos, heads, d, 10000.0f, false);
  rope(inter, pos, heads, d, 10000.0f, true);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < d / 2; ++i)
        for (int64_t j = 0; j < 2; ++j)
          EXPECT_FLOAT_EQ(inter.row(r)[h * d + 2 * i + j],
                          half.row(r)[h * d + j * d / 2 + i]);
  // Position 0 is the identity.
  Activation x = randomActivation(1, d, 3), y = x;
  rope(y, {0}, 1, d, 10000.0f, false);
  EXPECT_EQ(x.data, y.data);
}

// Attention over a prefix computed at once equals token-by-token decoding
// with the KV cache, and both equal a naive softmax with grouped heads.
TEST(Kernels, CausalAttentionPrefillEqualsIncremental) {
  const int64_t heads = 4, kvHeads = 2, d = 8, rows = 6;
  Activation q = randomActivation(rows, heads * d, 4);
  Activation k = randomActivation(rows, kvHeads * d, 5);
  Activation v = randomActivation(rows, kvHeads * d, 6);
  std::vector<int32_t> pos(rows);
  std::iota(pos.begin(), pos.end(), 0);
  KvCache cache;
  Activation all;
  causalAttention(q, k, v, pos, heads, kvHeads, d, cache.layer(0, kvHeads * d), all);

  KvCache inc;
  for (int64_t t = 0; t < rows; ++t) {
    Activation qt(1, heads * d), kt(1, kvHeads * d), vt(1, kvHeads * d), out;
    std::copy_n(q.row(t), heads * d, qt.row(0));
    std::copy_n(k.row(t), kvHeads * d, kt.row(0));
    std::copy_n(v.row(t), kvHeads * d, vt.row(0));
    causalAttention(qt, kt, vt, {int32_t(t)}, heads, kvHeads, d,
                    inc.layer(0, kvHeads * d), out);
    for (int64_t c = 0; c < heads * d; ++c)
      EXPECT_NEAR(out.row(0)[c], all.row(t)[c], 1e-5);
  }

  for (int64_t t = 0; t < rows; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      int64_t g = h / (heads / kvHeads);
      std::vector<double> s(t + 1);
      double mx = -1e30, sum = 0;
      for (int64_t j = 0; j <= t; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < d; ++c)
          dot += q.row(t)[h * d + c] * k.row(j)[g * d + c];
        s[j] = dot / std::sqrt(double(d));
        mx = std::max(mx, s[j]);
      }
      for (double &x : s)
        sum += x = std::exp(x - mx);
      for (int64_t c = 0; c < d; ++c) {
        double ref = 0;
        for (int64_t j = 0; j <= t; ++j)
          ref += s[j] / sum * v.row(j)[g * d + c];
        EXPECT_NEAR(all.row(t)[h * d + c], ref, 1e-5);
      }
    }
}

TEST(Kernels, LogProbabilityIsNormalized) {
  std::vector<float> logits{1, 2, 3, 4};
  double total = 0;
  for (int i = 0; i < 4; ++i)
    total += std::exp(logProbability(logits.data(), 4, i));
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_NEAR(logProbability(logits.data(), 4, 3),
              4 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0) + std::exp(4.0)),
              1e-9);
}
