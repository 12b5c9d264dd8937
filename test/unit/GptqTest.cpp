//===- GptqTest.cpp - GPTQ against round to nearest -----------------------===//
#include "lowbit/Quant/Gptq.h"
#include "lowbit/Quant/FloatTarget.h"
#include "lowbit/Quant/GgmlBlockGrid.h"
#include "lowbit/Quant/GgmlQuantize.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Quant/GptqGgml.h"
#include "lowbit/Support/Float16.h"

#include <cblas.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

using namespace lowbit;

namespace {

std::string errorText(llvm::Error e) { return llvm::toString(std::move(e)); }

std::vector<float> randomMatrix(int64_t rows, int64_t cols, float stddev,
                                unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> m(size_t(rows * cols));
  for (float &v : m)
    v = dist(rng);
  return m;
}

/// Calibration-like inputs [samples, k]: mixed (correlated) channels with
/// very different magnitudes, as in a transformer's hidden states.
std::vector<float> correlatedInputs(int64_t samples, int64_t k, unsigned seed) {
  std::vector<float> z = randomMatrix(samples, k, 1.0f, seed);
  std::vector<float> mix = randomMatrix(k, k, 3.0f / std::sqrt(float(k)), seed + 1);
  std::vector<float> gain = randomMatrix(1, k, 0.8f, seed + 2);
  for (int64_t i = 0; i < k; ++i)
    mix[size_t(i * k + i)] += 1.0f;
  std::vector<float> x(size_t(samples * k), 0.0f);
  for (int64_t s = 0; s < samples; ++s)
    for (int64_t j = 0; j < k; ++j) {
      float acc = 0;
      for (int64_t i = 0; i < k; ++i)
        acc += z[size_t(s * k + i)] * mix[size_t(i * k + j)];
      x[size_t(s * k + j)] = acc * std::exp(gain[size_t(j)]);
    }
  return x;
}

/// H = 2 XᵀX / samples.
std::vector<float> hessianOf(const std::vector<float> &x, int64_t samples,
                             int64_t k) {
  std::vector<float> h(size_t(k * k), 0.0f);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double acc = 0;
      for (int64_t s = 0; s < samples; ++s)
        acc += double(x[size_t(s * k + i)]) * x[size_t(s * k + j)];
      h[size_t(i * k + j)] = float(2 * acc / double(samples));
    }
  return h;
}

/// ||X Wᵀ − X Ŵᵀ||².
double outputError(const std::vector<float> &x, int64_t samples,
                   const std::vector<float> &w, const std::vector<float> &q,
                   int64_t rows, int64_t k) {
  double total = 0;
  for (int64_t s = 0; s < samples; ++s)
    for (int64_t r = 0; r < rows; ++r) {
      double acc = 0;
      for (int64_t c = 0; c < k; ++c)
        acc += double(x[size_t(s * k + c)]) *
               (double(w[size_t(r * k + c)]) - q[size_t(r * k + c)]);
      total += acc * acc;
    }
  return total;
}

std::vector<float> rtnDequantized(const std::vector<float> &w, int64_t rows,
                                  int64_t k, const AffineScheme &scheme) {
  auto q = quantizeAffineRtn(w.data(), rows, k, scheme);
  EXPECT_TRUE(bool(q));
  std::vector<float> out(size_t(rows * k));
  dequantizeAffine(q->codes.data(), q->scales.data(), q->zeros.data(), rows, k,
                   scheme.groupSize, out.data());
  return out;
}

GptqOptions optionsFor(int bits, int64_t groupSize, bool actOrder,
                       bool staticGroups = false, bool symmetric = false) {
  GptqOptions o;
  o.scheme.bits = bits;
  o.scheme.groupSize = groupSize;
  o.scheme.symmetric = symmetric;
  o.actOrder = actOrder;
  o.staticGroups = staticGroups;
  return o;
}

} // namespace

TEST(Gptq, IdentityHessianIsRoundToNearest) {
  const int64_t rows = 16, k = 96;
  std::vector<float> w = randomMatrix(rows, k, 0.05f, 3);
  std::vector<float> h(size_t(k * k), 0.0f);
  for (int64_t i = 0; i < k; ++i)
    h[size_t(i * k + i)] = 3.0f;
  for (int64_t groupSize : {int64_t(32), int64_t(-1)})
    for (bool actOrder : {false, true})
      for (bool staticGroups : {false, true})
        for (bool symmetric : {false, true}) {
          GptqOptions o =
              optionsFor(4, groupSize, actOrder, staticGroups, symmetric);
          o.blockSize = 40; // not a multiple of the group size
          auto g = gptqQuantize(w.data(), rows, k, h, o);
          ASSERT_TRUE(bool(g)) << errorText(g.takeError());
          auto r = quantizeAffineRtn(w.data(), rows, k, o.scheme);
          ASSERT_TRUE(bool(r));
          EXPECT_EQ(g->tensor.codes, r->codes);
          EXPECT_EQ(g->tensor.scales, r->scales);
          EXPECT_EQ(g->tensor.zeros, r->zeros);
          EXPECT_EQ(g->deadColumns, 0);
        }
}

TEST(Gptq, BeatsRoundToNearestOnCorrelatedInputs) {
  const int64_t samples = 512, k = 128, rows = 48;
  std::vector<float> x = correlatedInputs(samples, k, 10);
  std::vector<float> h = hessianOf(x, samples, k);
  std::vector<float> w = randomMatrix(rows, k, 0.02f, 11);
  for (int bits : {4, 3})
    for (bool actOrder : {false, true}) {
      GptqOptions o = optionsFor(bits, 32, actOrder);
      auto g = gptqQuantize(w.data(), rows, k, h, o);
      ASSERT_TRUE(bool(g)) << errorText(g.takeError());
      double gptq = outputError(x, samples, w, g->dequantized, rows, k);
      double rtn =
          outputError(x, samples, w, rtnDequantized(w, rows, k, o.scheme), rows, k);
      // Act-order puts the channels with the largest inputs first, where
      // the most free columns remain to absorb their errors.
      double bound = actOrder ? 0.4 : 0.75;
      EXPECT_LT(gptq, bound * rtn) << "bits " << bits << " act-order "
                                   << actOrder << ": GPTQ/RTN " << gptq / rtn;
      EXPECT_GT(g->loss, 0);
      EXPECT_TRUE(std::isfinite(g->loss));
    }
}

namespace {

/// Σ_r (w_r − ŵ_r)ᵀ H (w_r − ŵ_r), the output error up to a constant.
double hessianError(const std::vector<float> &h, const std::vector<float> &w,
                    const std::vector<float> &q, int64_t rows, int64_t k) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        total += (double(w[size_t(r * k + i)]) - q[size_t(r * k + i)]) *
                 h[size_t(i * k + j)] *
                 (double(w[size_t(r * k + j)]) - q[size_t(r * k + j)]);
  return total;
}

/// GPTQ in the optimal brain surgeon form the Cholesky algorithm is derived
/// from, in double: after quantizing column c, update the free columns by
/// the error over [H_F⁻¹]_cc times row c of H_F⁻¹, then drop c from H_F⁻¹.
/// Dynamic groups take their grid from the updated row at the group start.
std::vector<float> unbatchedGptq(const std::vector<float> &w,
                                 const std::vector<float> &h, int64_t rows,
                                 int64_t k, const GptqOptions &o) {
  std::vector<int64_t> perm(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i)
    perm[size_t(i)] = i;
  if (o.actOrder)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return h[size_t(a * k + a)] > h[size_t(b * k + b)];
    });
  // Gauss-Jordan inverse of the permuted, damped H.
  double mean = 0;
  for (int64_t i = 0; i < k; ++i)
    mean += h[size_t(i * k + i)] / double(k);
  std::vector<double> a(size_t(k * 2 * k), 0.0);
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < k; ++j)
      a[size_t(i * 2 * k + j)] = h[size_t(perm[i] * k + perm[j])];
    a[size_t(i * 2 * k + i)] += o.dampPercent * mean;
    a[size_t(i * 2 * k + k + i)] = 1;
  }
  for (int64_t c = 0; c < k; ++c) {
    double pivot = a[size_t(c * 2 * k + c)];
    for (int64_t j = 0; j < 2 * k; ++j)
      a[size_t(c * 2 * k + j)] /= pivot;
    for (int64_t i = 0; i < k; ++i)
      if (i != c) {
        double f = a[size_t(i * 2 * k + c)];
        for (int64_t j = 0; j < 2 * k; ++j)
          a[size_t(i * 2 * k + j)] -= f * a[size_t(c * 2 * k + j)];
      }
  }
  int64_t g = o.scheme.groupWidth(k);
  std::vector<float> out(size_t(rows * k));
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> hinv(size_t(k * k));
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        hinv[size_t(i * k + j)] = a[size_t(i * 2 * k + k + j)];
    for (int64_t c = 0; c < k; ++c)
      row[size_t(c)] = w[size_t(r * k + perm[c])];
    std::vector<double> exact(row.begin(), row.end());
    float scale = 0, zero = 0;
    for (int64_t c = 0; c < k; ++c) {
      if (c % g == 0) {
        for (int64_t j = c; j < k; ++j)
          row[size_t(j)] = float(exact[size_t(j)]);
        computeAffineGrid(&row[size_t(c)], g, o.scheme, scale, zero);
      }
      uint8_t code = affineCode(float(exact[size_t(c)]), scale, zero,
                                o.scheme.bits);
      float q = scale * (float(code) - zero);
      out[size_t(r * k + perm[c])] = q;
      double d = hinv[size_t(c * k + c)];
      double e = (exact[size_t(c)] - q) / d;
      for (int64_t j = c + 1; j < k; ++j)
        exact[size_t(j)] -= e * hinv[size_t(c * k + j)];
      std::vector<double> pivotRow(hinv.begin() + c * k,
                                   hinv.begin() + (c + 1) * k);
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j)
          hinv[size_t(i * k + j)] -=
              pivotRow[size_t(i)] * pivotRow[size_t(j)] / d;
    }
  }
  return out;
}

} // namespace

TEST(Gptq, MatchesTheUnbatchedUpdate) {
  const int64_t samples = 256, k = 48, rows = 12;
  std::vector<float> x = correlatedInputs(samples, k, 60);
  std::vector<float> h = hessianOf(x, samples, k);
  std::vector<float> w = randomMatrix(rows, k, 0.02f, 61);
  for (int64_t groupSize : {int64_t(-1), int64_t(8), int64_t(24)})
    for (bool actOrder : {false, true})
      for (int64_t blockSize : {int64_t(16), int64_t(128)}) {
        GptqOptions o = optionsFor(3, groupSize, actOrder);
        o.blockSize = blockSize;
        auto g = gptqQuantize(w.data(), rows, k, h, o);
        ASSERT_TRUE(bool(g)) << errorText(g.takeError());
        std::vector<float> ref = unbatchedGptq(w, h, rows, k, o);
        int64_t same = 0;
        for (size_t i = 0; i < ref.size(); ++i)
          same += ref[i] == g->dequantized[i];
        // Float against double: a rare code may land on the other side of
        // a rounding boundary.
        EXPECT_GE(same, rows * k * 97 / 100);
        double ours = hessianError(h, w, g->dequantized, rows, k);
        double theirs = hessianError(h, w, ref, rows, k);
        EXPECT_NEAR(ours / theirs, 1.0, 0.03);
      }
}

TEST(Gptq, DequantizedMatchesCodes) {
  const int64_t samples = 256, k = 64, rows = 24;
  std::vector<float> x = correlatedInputs(samples, k, 20);
  std::vector<float> h = hessianOf(x, samples, k);
  std::vector<float> w = randomMatrix(rows, k, 0.02f, 21);
  for (int64_t groupSize : {int64_t(16), int64_t(-1)})
    for (bool actOrder : {false, true})
      for (bool staticGroups : {false, true})
        for (int bits : {2, 3, 4, 8}) {
          GptqOptions o = optionsFor(bits, groupSize, actOrder, staticGroups,
                                     /*symmetric=*/bits == 3);
          o.scheme.mseGrid = bits == 4;
          o.blockSize = 24;
          auto g = gptqQuantize(w.data(), rows, k, h, o);
          ASSERT_TRUE(bool(g)) << errorText(g.takeError());
          int64_t groups = o.scheme.groupsPerRow(k);
          ASSERT_EQ(g->tensor.scales.size(), size_t(rows * groups));
          ASSERT_EQ(g->tensor.zeros.size(), size_t(rows * groups));
          ASSERT_EQ(g->gIdx.size(), size_t(k));
          std::vector<float> back(size_t(rows * k));
          dequantizeAffine(g->tensor.codes.data(), g->tensor.scales.data(),
                           g->tensor.zeros.data(), rows, k, groupSize,
                           back.data(), g->gIdx.data());
          EXPECT_EQ(back, g->dequantized);
          for (uint8_t code : g->tensor.codes)
            EXPECT_LT(code, 1 << bits);
          // Scales are what an fp16 checkpoint stores.
          for (float s : g->tensor.scales) {
            EXPECT_GT(s, 0.0f);
            EXPECT_EQ(s, fp16ToFloat(floatToFp16(s)));
          }
        }
}

TEST(Gptq, ThreadCountDoesNotChangeTheResult) {
  const int64_t samples = 128, k = 64, rows = 100;
  std::vector<float> x = correlatedInputs(samples, k, 70);
  std::vector<float> h = hessianOf(x, samples, k);
  std::vector<float> w = randomMatrix(rows, k, 0.02f, 71);
  GptqOptions o = optionsFor(4, 16, true);
  std::vector<std::vector<float>> results;
  for (const char *threads : {"1", "3"}) {
    setenv("LOWBIT_THREADS", threads, 1);
    auto g = gptqQuantize(w.data(), rows, k, h, o);
    ASSERT_TRUE(bool(g)) << errorText(g.takeError());
    results.push_back(std::move(g->dequantized));
  }
  unsetenv("LOWBIT_THREADS");
  EXPECT_EQ(results[0], results[1]);
}

TEST(Gptq, ActOrderGroupIndex) {
  const int64_t samples = 256, k = 128, rows = 8, groupSize = 32;
  std::vector<float> x = correlatedInputs(samples, k, 30);
  std::vector<float> h = hessianOf(x, samples, k);
  std::vector<float> w = randomMatrix(rows, k, 0.02f, 31);

  auto g = gptqQuantize(w.data(), rows, k, h, optionsFor(4, groupSize, true));
  ASSERT_TRUE(bool(g)) << errorText(g.takeError());
  std::vector<int> perGroup(k / groupSize, 0);
  bool monotone = true;
  for (int64_t c = 0; c < k; ++c) {
    int32_t j = g->gIdx[size_t(c)];
    ASSERT_GE(j, 0);
    ASSERT_LT(j, k / groupSize);
    ++perGroup[size_t(j)];
    if (c && j < g->gIdx[size_t(c - 1)])
      monotone = false;
  }
  EXPECT_FALSE(monotone);
  for (int n : perGroup)
    EXPECT_EQ(n, groupSize);
  // The first group holds the channels with the largest H[k, k].
  float smallestFirst = INFINITY, largestRest = 0;
  for (int64_t c = 0; c < k; ++c) {
    float d = h[size_t(c * k + c)];
    if (g->gIdx[size_t(c)] == 0)
      smallestFirst = std::min(smallestFirst, d);
    else
      largestRest = std::max(largestRest, d);
  }
  EXPECT_GE(smallestFirst, largestRest);

  auto s = gptqQuantize(w.data(), rows, k, h,
                        optionsFor(4, groupSize, true, /*staticGroups=*/true));
  ASSERT_TRUE(bool(s)) << errorText(s.takeError());
  for (int64_t c = 0; c < k; ++c)
    EXPECT_EQ(s->gIdx[size_t(c)], c / groupSize);
  auto plain = gptqQuantize(w.data(), rows, k, h, optionsFor(4, groupSize, false));
  ASSERT_TRUE(bool(plain));
  for (int64_t c = 0; c < k; ++c)
    EXPECT_EQ(plain->gIdx[size_t(c)], c / groupSize);
}

TEST(Gptq, DeadColumnsQuantizeToZero) {
  const int64_t samples = 256, k = 64, rows = 16;
  std::vector<float> x = correlatedInputs(samples, k, 40);
  for (int64_t s = 0; s < samples; ++s)
    x[size_t(s * k + 5)] = x[size_t(s * k + 40)] = 0.0f;
  std::vector<float> h = hessianOf(x, samples, k);
  std::vector<float> w = randomMatrix(rows, k, 0.02f, 41);
  for (bool actOrder : {false, true})
    for (bool symmetric : {false, true}) {
      auto g = gptqQuantize(w.data(), rows, k, h,
                            optionsFor(4, 16, actOrder, false, symmetric));
      ASSERT_TRUE(bool(g)) << errorText(g.takeError());
      EXPECT_EQ(g->deadColumns, 2);
      for (int64_t r = 0; r < rows; ++r) {
        EXPECT_EQ(g->dequantized[size_t(r * k + 5)], 0.0f);
        EXPECT_EQ(g->dequantized[size_t(r * k + 40)], 0.0f);
      }
      for (float v : g->dequantized)
        EXPECT_TRUE(std::isfinite(v));
    }
}

TEST(Gptq, RejectsBadOptions) {
  const int64_t k = 8;
  std::vector<float> w(size_t(2 * k), 0.1f), h(size_t(k * k), 0.0f);
  for (int64_t i = 0; i < k; ++i)
    h[size_t(i * k + i)] = 1.0f;
  auto expectError = [&](const GptqOptions &o, std::vector<float> hessian,
                         const std::string &text) {
    auto g = gptqQuantize(w.data(), 2, k, std::move(hessian), o);
    ASSERT_FALSE(bool(g));
    std::string message = errorText(g.takeError());
    EXPECT_NE(message.find(text), std::string::npos) << message;
  };
  expectError(optionsFor(5, -1, false), h, "bits must be 2, 3, 4 or 8, not 5");
  expectError(optionsFor(4, 3, false), h,
              "group size 3 does not divide input width 8");
  expectError(optionsFor(4, 0, false), h, "group size must be positive or -1");
  expectError(optionsFor(4, 4, false), std::vector<float>(10, 1.0f),
              "the Hessian has 10 entries");
  GptqOptions block = optionsFor(4, 4, false);
  block.blockSize = 0;
  expectError(block, h, "block size must be positive");
  GptqOptions damp = optionsFor(4, 4, false);
  damp.dampPercent = -0.5;
  expectError(damp, h, "damp fraction must be finite and >= 0, not -0.5");
  std::vector<float> negative = h;
  for (float &v : negative)
    v = -v;
  expectError(optionsFor(4, 4, false), negative,
              "not positive definite after damping");
  std::vector<float> nan = h;
  nan[3] = NAN;
  expectError(optionsFor(4, 4, false), nan, "Hessian entry (0, 3) is not finite");
}

// Not a check: prints how long the two shapes of a small model's MLP take.
// Run with --gtest_also_run_disabled_tests --gtest_filter=*Timing.
// W* is the least-squares fit of the float model's outputs W X_f on the
// quantized model's inputs X: (W* − W) (H + λI) = W S, checked against an
// independent solve; with X_f = X nothing moves.
TEST(FloatTarget, FitsTheFloatOutputs) {
  const int64_t samples = 300, k = 24, rows = 5;
  std::vector<float> x = correlatedInputs(samples, k, 60);
  // The float model's inputs: a linear distortion of X (which W* can undo)
  // plus a little noise (which it cannot).
  std::vector<float> distortion = randomMatrix(k, k, 0.05f, 61);
  std::vector<float> noise = randomMatrix(samples, k, 0.01f, 63);
  std::vector<float> xf(x);
  for (int64_t t = 0; t < samples; ++t)
    for (int64_t j = 0; j < k; ++j) {
      double acc = 0;
      for (int64_t i = 0; i < k; ++i)
        acc += double(x[size_t(t * k + i)]) * distortion[size_t(i * k + j)];
      xf[size_t(t * k + j)] +=
          float(acc) + noise[size_t(t * k + j)] * std::fabs(x[size_t(t * k + j)]);
    }
  std::vector<float> h = hessianOf(x, samples, k);
  std::vector<float> shift(size_t(k * k), 0.0f);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double acc = 0;
      for (int64_t t = 0; t < samples; ++t)
        acc += double(xf[size_t(t * k + i)] - x[size_t(t * k + i)]) *
               x[size_t(t * k + j)];
      shift[size_t(i * k + j)] = float(2 * acc / double(samples));
    }
  std::vector<float> w = randomMatrix(rows, k, 0.1f, 62);

  auto same = FloatTarget::create(h, std::vector<float>(size_t(k * k), 0.0f), k, 0.01);
  ASSERT_TRUE(bool(same)) << errorText(same.takeError());
  std::vector<float> unchanged = w;
  same->apply(unchanged, rows);
  EXPECT_EQ(unchanged, w);

  const double damp = 1e-6;
  auto target = FloatTarget::create(h, shift, k, damp);
  ASSERT_TRUE(bool(target)) << errorText(target.takeError());
  std::vector<float> fitted = w;
  target->apply(fitted, rows);
  // Output error on the quantized inputs against the float outputs: W*
  // beats W, and no small step away from W* helps.
  auto error = [&](const std::vector<float> &m) {
    double e = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t t = 0; t < samples; ++t) {
        double got = 0, want = 0;
        for (int64_t c = 0; c < k; ++c) {
          got += double(m[size_t(r * k + c)]) * x[size_t(t * k + c)];
          want += double(w[size_t(r * k + c)]) * xf[size_t(t * k + c)];
        }
        e += (got - want) * (got - want);
      }
    return e;
  };
  double best = error(fitted);
  EXPECT_LT(best, 0.1 * error(w)) << best << " vs " << error(w);
  for (int trial = 0; trial < 8; ++trial) {
    std::vector<float> moved = fitted;
    std::vector<float> step = randomMatrix(rows, k, 1e-3f, 70 + trial);
    for (size_t i = 0; i < moved.size(); ++i)
      moved[i] += step[i];
    EXPECT_GT(error(moved), best * (1 - 1e-6));
  }

  std::vector<float> bad(size_t(k * k), 0.0f);
  for (int64_t i = 0; i < k; ++i)
    bad[size_t(i * k + i)] = -1.0f;
  EXPECT_FALSE(bool(FloatTarget::create(bad, shift, k, 0.01)));
  EXPECT_FALSE(bool(FloatTarget::create(h, std::vector<float>(3), k, 0.01)));
}

//===----------------------------------------------------------------------===//
// GPTQ inside ggml blocks
//===----------------------------------------------------------------------===//

namespace {
int64_t ggmlRowBytes(DType type, int64_t n) {
  const DTypeInfo &info = getDTypeInfo(type);
  return n / info.blockElems * info.blockBytes;
}

const DType kGridTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0,
                            DType::Q5_1, DType::Q8_0, DType::Q2_K,
                            DType::Q3_K, DType::Q4_K, DType::Q5_K,
                            DType::Q6_K};

/// Imatrix-weighted llama.cpp quantization of every row, dequantized.
std::vector<float> ggmlDequantized(const std::vector<float> &w, int64_t rows,
                                   int64_t k, DType type,
                                   const std::vector<float> &importance) {
  std::vector<uint8_t> row(size_t(ggmlRowBytes(type, k)));
  std::vector<float> out(size_t(rows * k));
  for (int64_t r = 0; r < rows; ++r) {
    llvm::cantFail(quantizeRowGgml(type, &w[size_t(r * k)], row.data(), k,
                                   importance.data()));
    dequantizeRow(type, row.data(), &out[size_t(r * k)], k);
  }
  return out;
}
} // namespace

// The grid read back from a block reproduces every value ggml decodes, and
// writing the codes back reproduces the block.
TEST(GgmlBlockGrid, ReproducesLlamaCppBlocks) {
  std::vector<float> w = randomMatrix(1, 512, 0.03f, 40);
  for (DType type : kGridTypes) {
    SCOPED_TRACE(getDTypeInfo(type).name.str());
    const DTypeInfo &info = getDTypeInfo(type);
    std::vector<uint8_t> bytes(size_t(ggmlRowBytes(type, 512)));
    ASSERT_FALSE(bool(quantizeRowGgml(type, w.data(), bytes.data(), 512)));
    std::vector<float> y(512);
    dequantizeRow(type, bytes.data(), y.data(), 512);
    GgmlBlockGrid grid;
    std::vector<int8_t> codes(info.blockElems);
    for (int64_t b = 0; b < 512 / int64_t(info.blockElems); ++b) {
      uint8_t *block = &bytes[size_t(b * info.blockBytes)];
      decodeGgmlBlockGrid(type, block, grid);
      bool zeroScale = false;
      for (uint32_t i = 0; i < info.blockElems; ++i) {
        float value = y[size_t(b * info.blockElems + i)];
        int code = nearestGgmlCode(grid, int(i), value);
        ASSERT_GE(code, grid.qmin);
        ASSERT_LE(code, grid.qmax);
        EXPECT_EQ(grid.scale[i] * float(code) + grid.offset[i], value) << i;
        codes[i] = int8_t(code);
        zeroScale |= grid.scale[i] == 0;
      }
      std::vector<uint8_t> copy(block, block + info.blockBytes);
      setGgmlBlockCodes(type, copy.data(), codes.data());
      if (!zeroScale)
        EXPECT_EQ(copy, std::vector<uint8_t>(block, block + info.blockBytes));
    }
  }
}

// Any code in range round-trips through a block: ggml decodes the value
// scale · q + offset for it.
TEST(GgmlBlockGrid, WritesEveryCodeInRange) {
  std::vector<float> w = randomMatrix(1, 256, 0.05f, 41);
  std::mt19937 rng(42);
  for (DType type : kGridTypes) {
    SCOPED_TRACE(getDTypeInfo(type).name.str());
    const DTypeInfo &info = getDTypeInfo(type);
    std::vector<uint8_t> bytes(size_t(ggmlRowBytes(type, 256)));
    ASSERT_FALSE(bool(quantizeRowGgml(type, w.data(), bytes.data(), 256)));
    for (int trial = 0; trial < 4; ++trial) {
      GgmlBlockGrid grid;
      decodeGgmlBlockGrid(type, bytes.data(), grid);
      std::uniform_int_distribution<int> pick(grid.qmin, grid.qmax);
      std::vector<int8_t> codes(256);
      for (int8_t &c : codes)
        c = int8_t(trial == 0 ? grid.qmin : trial == 1 ? grid.qmax : pick(rng));
      for (uint32_t b = 0; b < 256 / info.blockElems; ++b)
        setGgmlBlockCodes(type, &bytes[b * info.blockBytes],
                          &codes[b * info.blockElems]);
      std::vector<float> y(256);
      dequantizeRow(type, bytes.data(), y.data(), 256);
      for (uint32_t b = 0; b < 256 / info.blockElems; ++b) {
        decodeGgmlBlockGrid(type, &bytes[b * info.blockBytes], grid);
        for (uint32_t i = 0; i < info.blockElems; ++i) {
          uint32_t at = b * info.blockElems + i;
          ASSERT_EQ(grid.scale[i] * float(codes[at]) + grid.offset[i], y[at])
              << "value " << at << " code " << int(codes[at]);
        }
      }
    }
  }
}

// Every block parameter reads back what was written, and writing one moves
// exactly the grid entries it governs: ggml's own decoder agrees with the
// grid on the rewritten block (the packing is the format's).
TEST(GgmlBlockGrid, WritesEveryParameter) {
  std::vector<float> w = randomMatrix(1, 256, 0.05f, 43);
  for (DType type : kGridTypes) {
    SCOPED_TRACE(getDTypeInfo(type).name.str());
    const DTypeInfo &info = getDTypeInfo(type);
    std::vector<uint8_t> bytes(size_t(ggmlRowBytes(type, 256)));
    ASSERT_FALSE(bool(quantizeRowGgml(type, w.data(), bytes.data(), 256)));
    const int64_t n = info.blockElems;
    GgmlBlockGrid before, after;
    decodeGgmlBlockGrid(type, bytes.data(), before);
    std::vector<int8_t> codes(static_cast<size_t>(n));
    std::vector<float> y(static_cast<size_t>(n));
    dequantizeRow(type, bytes.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i)
      codes[size_t(i)] = int8_t(nearestGgmlCode(before, int(i), y[size_t(i)]));
    int count = ggmlBlockParameterCount(type);
    ASSERT_GE(count, 1);
    for (int p = 0; p < count; ++p) {
      SCOPED_TRACE("parameter " + std::to_string(p));
      GgmlBlockParameter param = ggmlBlockParameter(type, p);
      float value = readGgmlBlockParameter(type, bytes.data(), p);
      std::vector<uint8_t> block(bytes.begin(), bytes.begin() + info.blockBytes);
      writeGgmlBlockParameter(type, block.data(), p, value);
      EXPECT_TRUE(std::equal(block.begin(), block.end(), bytes.begin()));
      std::vector<float> settings;
      if (param.half)
        settings = {value * 1.5f, -value, 0.0f};
      else
        settings = {float(param.lo), float(param.hi), float((param.lo + param.hi) / 2)};
      for (float setting : settings) {
        writeGgmlBlockParameter(type, block.data(), p, setting);
        EXPECT_EQ(readGgmlBlockParameter(type, block.data(), p),
                  param.half ? fp16ToFloat(floatToFp16(setting)) : setting);
        decodeGgmlBlockGrid(type, block.data(), after);
        dequantizeRow(type, block.data(), y.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          bool governed = i >= param.first && i < param.first + param.count;
          if (!governed) {
            EXPECT_EQ(after.scale[i], before.scale[i]) << i;
            EXPECT_EQ(after.offset[i], before.offset[i]) << i;
          }
          EXPECT_EQ(after.scale[i] * float(codes[size_t(i)]) + after.offset[i],
                    y[size_t(i)])
              << i;
        }
      }
      // Every other parameter is as it was.
      for (int q = 0; q < count; ++q)
        if (q != p)
          EXPECT_EQ(readGgmlBlockParameter(type, block.data(), q),
                    readGgmlBlockParameter(type, bytes.data(), q))
              << q;
    }
  }
}

// With correlated inputs, GPTQ's error feedback inside the blocks beats
// llama.cpp's imatrix quantization (same block searches, same weights) on
// the layer output, and its bytes decode to what it reports.
TEST(GgmlGptq, BeatsImatrixQuantizationOnCorrelatedInputs) {
  const int64_t samples = 768, k = 256, rows = 32;
  std::vector<float> x = correlatedInputs(samples, k, 50);
  std::vector<float> h = hessianOf(x, samples, k);
  std::vector<float> w = randomMatrix(rows, k, 0.02f, 51);
  std::vector<float> diagonal(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i)
    diagonal[size_t(i)] = h[size_t(i * k + i)];
  for (DType type : kGridTypes)
    for (bool actOrder : {false, true}) {
      SCOPED_TRACE(getDTypeInfo(type).name.str() +
                   (actOrder ? " act-order" : ""));
      GgmlGptqOptions o;
      o.type = type;
      o.actOrder = actOrder;
      auto g = gptqQuantizeGgml(w.data(), rows, k, h, o);
      ASSERT_TRUE(bool(g)) << errorText(g.takeError());
      ASSERT_EQ(g->bytes.size(), size_t(rows * ggmlRowBytes(type, k)));
      std::vector<float> decoded(size_t(rows * k));
      for (int64_t r = 0; r < rows; ++r)
        dequantizeRow(type, &g->bytes[size_t(r * ggmlRowBytes(type, k))],
                      &decoded[size_t(r * k)], k);
      EXPECT_EQ(decoded, g->dequantized);
      double gptq = outputError(x, samples, w, g->dequantized, rows, k);
      double imatrix = outputError(
          x, samples, w, ggmlDequantized(w, rows, k, type, diagonal), rows, k);
      EXPECT_LT(gptq, 0.9 * imatrix) << gptq << " vs " << imatrix;
    }
}

// Coordinate descent after GPTQ lowers the layer-output error for every
// type, with and without act-order and with codes alone, and what it reports
// is what the bytes decode to.
TEST(GgmlGptq, DescentLowersTheLayerError) {
  const int64_t samples = 768, k = 256, rows = 32;
  std::vector<float> x = correlatedInputs(samples, k, 53);
  std::vector<float> h = hessianOf(x, samples, k);
  std::vector<float> w = randomMatrix(rows, k, 0.02f, 54);
  for (DType type : kGridTypes)
    for (bool actOrder : {false, true})
      for (bool parameters : {true, false}) {
        SCOPED_TRACE(getDTypeInfo(type).name.str() +
                     (actOrder ? " act-order" : "") +
                     (parameters ? "" : " codes only"));
        GgmlGptqOptions o;
        o.type = type;
        o.actOrder = actOrder;
        auto plain = gptqQuantizeGgml(w.data(), rows, k, h, o);
        ASSERT_TRUE(bool(plain)) << errorText(plain.takeError());
        o.descentSweeps = 3;
        o.descendParameters = parameters;
        auto g = gptqQuantizeGgml(w.data(), rows, k, h, o);
        ASSERT_TRUE(bool(g)) << errorText(g.takeError());
        std::vector<float> decoded(size_t(rows * k));
        for (int64_t r = 0; r < rows; ++r)
          dequantizeRow(type, &g->bytes[size_t(r * ggmlRowBytes(type, k))],
                        &decoded[size_t(r * k)], k);
        EXPECT_EQ(decoded, g->dequantized);
        // The descent starts where GPTQ ended, and goes down.
        EXPECT_NEAR(g->gptqLoss / plain->loss, 1.0, 1e-3);
        EXPECT_LT(g->loss, 0.995 * g->gptqLoss) << g->loss << " vs " << g->gptqLoss;
        double before = outputError(x, samples, w, plain->dequantized, rows, k);
        double after = outputError(x, samples, w, g->dequantized, rows, k);
        EXPECT_LT(after, before);
      }
}

// An identity Hessian leaves nothing to feed back: the K-quant codes are
// llama.cpp's own (its final codes are the nearest on the stored grid; the
// legacy types round with the scale before its fp16 rounding).
TEST(GgmlGptq, IdentityHessianIsLlamaCppQuantization) {
  const int64_t rows = 8, k = 512;
  std::vector<float> w = randomMatrix(rows, k, 0.05f, 52);
  std::vector<float> h(size_t(k * k), 0.0f), ones(size_t(k), 2.0f);
  for (int64_t i = 0; i < k; ++i)
    h[size_t(i * k + i)] = 2.0f;
  for (DType type : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                     DType::Q6_K}) {
    SCOPED_TRACE(getDTypeInfo(type).name.str());
    GgmlGptqOptions o;
    o.type = type;
    auto g = gptqQuantizeGgml(w.data(), rows, k, h, o);
    ASSERT_TRUE(bool(g)) << errorText(g.takeError());
    EXPECT_EQ(g->dequantized, ggmlDequantized(w, rows, k, type, ones));
  }
}

TEST(GgmlGptq, RejectsBadOptions) {
  std::vector<float> w(64 * 4, 0.1f), h(64 * 64, 0.0f);
  for (int i = 0; i < 64; ++i)
    h[size_t(i * 64 + i)] = 1;
  GgmlGptqOptions o;
  o.type = DType::F16;
  EXPECT_NE(errorText(gptqQuantizeGgml(w.data(), 4, 64, h, o).takeError())
                .find("f16"),
            std::string::npos);
  o.type = DType::Q4_K; // 256-value blocks
  EXPECT_NE(errorText(gptqQuantizeGgml(w.data(), 4, 64, h, o).takeError())
                .find("not a multiple of the q4_k block size 256"),
            std::string::npos);
  o.type = DType::Q4_0;
  o.descentSweeps = -1;
  EXPECT_NE(errorText(gptqQuantizeGgml(w.data(), 4, 64, h, o).takeError())
                .find("descent sweeps must not be negative, not -1"),
            std::string::npos);
  o.descentSweeps = 0;
  w[7] = NAN;
  EXPECT_NE(errorText(gptqQuantizeGgml(w.data(), 4, 64, h, o).takeError())
                .find("not finite"),
            std::string::npos);
}

TEST(Gptq, DISABLED_Timing) {
  for (auto [rows, k] : {std::pair<int64_t, int64_t>{1536, 512}, {512, 1536}}) {
    int64_t samples = 2 * k;
    std::vector<float> x = randomMatrix(samples, k, 1.0f, 50);
    std::vector<float> h(size_t(k * k));
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(k), int(samples),
                2.0f / float(samples), x.data(), int(k), 0.0f, h.data(), int(k));
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < i; ++j)
        h[size_t(i * k + j)] = h[size_t(j * k + i)];
    std::vector<float> w = randomMatrix(rows, k, 0.02f, 51);
    for (bool actOrder : {false, true}) {
      auto start = std::chrono::steady_clock::now();
      auto g = gptqQuantize(w.data(), rows, k, h, optionsFor(4, 128, actOrder));
      double ms = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      ASSERT_TRUE(bool(g)) << errorText(g.takeError());
      std::printf("gptqQuantize %lldx%lld 4-bit g128 act-order %d: %.1f ms\n",
                  (long long)rows, (long long)k, int(actOrder), ms);
    }
  }
}
