//===- AwqTest.cpp - AWQ grid, scale search and clip search ---------------===//
#include "lowbit/Quant/Awq.h"
#include "lowbit/Support/Float16.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

using namespace lowbit;

namespace {

float fp16(float v) { return fp16ToFloat(floatToFp16(v)); }

std::vector<float> randomMatrix(int64_t rows, int64_t cols, float sigma,
                                unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> m(size_t(rows * cols));
  for (float &v : m)
    v = dist(rng);
  return m;
}

std::vector<float> meanAbs(const std::vector<float> &x, int64_t k) {
  int64_t n = int64_t(x.size()) / k;
  std::vector<double> sum(static_cast<size_t>(k));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t c = 0; c < k; ++c)
      sum[c] += std::fabs(x[size_t(t * k + c)]);
  std::vector<float> m(static_cast<size_t>(k));
  for (int64_t c = 0; c < k; ++c)
    m[c] = float(sum[c] / n);
  return m;
}

/// Σ over tokens and rows of (x · (a − b)ᵀ)², in double.
double outputError(const std::vector<float> &x, int64_t k,
                   const std::vector<float> &a, const std::vector<float> &b) {
  int64_t n = int64_t(x.size()) / k, rows = int64_t(a.size()) / k;
  double sum = 0;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double dot = 0;
      for (int64_t c = 0; c < k; ++c)
        dot += double(x[size_t(t * k + c)]) *
               (double(a[size_t(r * k + c)]) - b[size_t(r * k + c)]);
      sum += dot * dot;
    }
  return sum;
}

/// The fake-quantized weight seen by the unscaled input: Q(W·s)/s.
std::vector<float> scaledFake(const std::vector<float> &w, int64_t k,
                              const std::vector<float> &s, const AwqGrid &grid) {
  int64_t rows = int64_t(w.size()) / k;
  std::vector<float> ws(w.size()), fake(w.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; ++c)
      ws[size_t(r * k + c)] = w[size_t(r * k + c)] * s[c];
  EXPECT_FALSE(bool(fakeQuantizeAwq(ws.data(), rows, k, grid, nullptr,
                                    fake.data())));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; ++c)
      fake[size_t(r * k + c)] /= s[c];
  return fake;
}

std::string errorText(llvm::Error e) { return llvm::toString(std::move(e)); }

} // namespace

TEST(Awq, ZeroPointGridKnownValues) {
  // 2 bits, range [-0.5, 1]: scale 1.5 / 3 = 0.5, zero -round(-1) = 1.
  float w[] = {-0.5f, 0.1f, 0.7f, 1.0f};
  auto q = quantizeAwq(w, 1, 4, {2, 4, true});
  ASSERT_TRUE(bool(q)) << errorText(q.takeError());
  EXPECT_EQ(q->scales[0], 0.5f);
  EXPECT_EQ(q->zeros[0], 1.0f);
  EXPECT_EQ(q->codes, (std::vector<uint8_t>{0, 1, 2, 3}));

  // The scale is stored as fp16; the zero and codes follow the rounded one.
  float v[] = {0.0f, 0.1f, 0.2f, 0.3f};
  q = quantizeAwq(v, 1, 4, {4, -1, true});
  ASSERT_TRUE(bool(q));
  EXPECT_EQ(q->scales[0], fp16(0.3f / 15));
  EXPECT_NE(q->scales[0], 0.3f / 15);
  EXPECT_EQ(q->zeros[0], 0.0f);
  EXPECT_EQ(q->codes, (std::vector<uint8_t>{0, 5, 10, 15}));

  // Unlike GPTQ's grid, AWQ's need not contain 0: [1, 3] over 3 steps, the
  // zero -round(1 / s) = -2 clamps to 0, so large codes saturate.
  float p[] = {1.0f, 2.0f, 3.0f, 3.0f};
  q = quantizeAwq(p, 1, 4, {2, 4, true});
  ASSERT_TRUE(bool(q));
  EXPECT_EQ(q->scales[0], fp16(2.0f / 3));
  EXPECT_EQ(q->zeros[0], 0.0f);
  EXPECT_EQ(q->codes, (std::vector<uint8_t>{2, 3, 3, 3}));
}

TEST(Awq, SymmetricGridKnownValues) {
  // 3 bits: max |w| = 3 over 2^2 - 1 = 3 steps, zero 4, codes q + 4.
  float w[] = {-3.0f, 1.0f, 2.0f, 0.0f};
  auto q = quantizeAwq(w, 1, 4, {3, 4, false});
  ASSERT_TRUE(bool(q));
  EXPECT_EQ(q->scales[0], 1.0f);
  EXPECT_EQ(q->zeros[0], 4.0f);
  EXPECT_EQ(q->codes, (std::vector<uint8_t>{1, 5, 6, 4}));
}

TEST(Awq, ClipClampsBeforeTheGrid) {
  float w[] = {-0.5f, 0.1f, 0.7f, 1.0f, 0.2f, 0.3f, -0.1f, 0.0f};
  float clip[] = {0.6f, 10.0f};
  auto q = quantizeAwq(w, 1, 8, {2, 4, true}, clip);
  ASSERT_TRUE(bool(q));
  // Group 0 spans [-0.5, 0.6] after clamping; group 1 is untouched.
  EXPECT_EQ(q->scales[0], fp16(1.1f / 3));
  EXPECT_EQ(q->codes[3], 3);
  float clamped[] = {-0.5f, 0.1f, 0.6f, 0.6f, 0.2f, 0.3f, -0.1f, 0.0f};
  auto ref = quantizeAwq(clamped, 1, 8, {2, 4, true});
  ASSERT_TRUE(bool(ref));
  EXPECT_EQ(q->codes, ref->codes);
  EXPECT_EQ(q->scales, ref->scales);
  EXPECT_EQ(q->zeros, ref->zeros);

  // fakeQuantizeAwq is quantize then dequantize.
  std::vector<float> fake(8), deq(8);
  ASSERT_FALSE(bool(fakeQuantizeAwq(w, 1, 8, {2, 4, true}, clip, fake.data())));
  dequantizeAffine(q->codes.data(), q->scales.data(), q->zeros.data(), 1, 8, 4,
                   deq.data());
  EXPECT_EQ(fake, deq);
}

TEST(Awq, AlphaZeroIsPlainRounding) {
  const int64_t k = 256, n = 64, samples = 128;
  AwqGrid grid{4, 64, true};
  std::vector<float> x = randomMatrix(samples, k, 1.0f, 1);
  std::vector<float> w = randomMatrix(n, k, 0.02f, 2);
  std::vector<float> m = meanAbs(x, k);
  std::vector<float> rtn(w.size());
  ASSERT_FALSE(bool(fakeQuantizeAwq(w.data(), n, k, grid, nullptr, rtn.data())));

  auto r = searchAwqScales(x.data(), samples, k, {w.data()}, {n}, m.data(),
                           grid, /*gridSize=*/1);
  ASSERT_TRUE(bool(r)) << errorText(r.takeError());
  EXPECT_EQ(r->alpha, 0.0f);
  EXPECT_EQ(r->scales, std::vector<float>(size_t(k), 1.0f));
  EXPECT_EQ(r->bestLoss, r->baseLoss);
  double expected = outputError(x, k, w, rtn) / double(samples * n);
  EXPECT_NEAR(r->baseLoss, expected, 1e-4 * expected);

  // The callback sees exactly the RTN weights at alpha 0.
  bool first = true;
  auto c = searchAwqScales(
      x.data(), samples, k, {w.data()}, {n}, m.data(), grid, 20,
      [&](llvm::ArrayRef<std::vector<float>> fakes) {
        if (first) {
          EXPECT_EQ(fakes[0], rtn);
        }
        first = false;
        return double(fakes.size());
      });
  ASSERT_TRUE(bool(c));
  EXPECT_EQ(c->alpha, 0.0f); // constant loss: the first alpha wins
  EXPECT_EQ(c->losses.size(), 20u);
}

TEST(Awq, LossMatchesDirectComputation) {
  // Both evaluation paths: Gram matrix (k <= samples) and direct outputs.
  AwqGrid grid{3, 32, true};
  for (int64_t samples : {200, 40}) {
    const int64_t k = 128;
    std::vector<float> x = randomMatrix(samples, k, 1.0f, 3);
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t t = 0; t < samples; ++t)
        x[size_t(t * k + c * 7)] *= 10;
    std::vector<float> w1 = randomMatrix(48, k, 0.05f, 4);
    std::vector<float> w2 = randomMatrix(16, k, 0.05f, 5);
    std::vector<float> m = meanAbs(x, k);
    auto r = searchAwqScales(x.data(), samples, k, {w1.data(), w2.data()},
                             {48, 16}, m.data(), grid, 10);
    ASSERT_TRUE(bool(r));
    double direct = (outputError(x, k, w1, scaledFake(w1, k, r->scales, grid)) +
                     outputError(x, k, w2, scaledFake(w2, k, r->scales, grid))) /
                    double(samples * 64);
    EXPECT_NEAR(r->bestLoss, direct, 1e-4 * direct) << "samples " << samples;
    EXPECT_EQ(r->bestLoss, *std::min_element(r->losses.begin(), r->losses.end()));
  }
}

TEST(Awq, GramLossEqualsSampleLoss) {
  // Given XᵀX of the same tokens, the search scores every alpha as on x
  // itself, up to the per-token normalisation.
  const int64_t k = 128, samples = 300;
  AwqGrid grid{4, 64, true};
  std::vector<float> x = randomMatrix(samples, k, 1.0f, 11);
  for (int64_t t = 0; t < samples; ++t)
    x[size_t(t * k + 5)] *= 15;
  std::vector<float> w = randomMatrix(32, k, 0.05f, 12);
  std::vector<float> m = meanAbs(x, k);
  std::vector<float> gram(size_t(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double sum = 0;
      for (int64_t t = 0; t < samples; ++t)
        sum += double(x[size_t(t * k + i)]) * x[size_t(t * k + j)];
      gram[size_t(i * k + j)] = float(sum);
    }
  auto onX = searchAwqScales(x.data(), samples, k, {w.data()}, {32}, m.data(), grid, 10);
  auto onGram = searchAwqScales(nullptr, 0, k, {w.data()}, {32}, m.data(), grid,
                                10, {}, gram.data());
  ASSERT_TRUE(bool(onX));
  ASSERT_TRUE(bool(onGram)) << errorText(onGram.takeError());
  EXPECT_EQ(onX->alpha, onGram->alpha);
  EXPECT_EQ(onX->scales, onGram->scales);
  for (size_t i = 0; i < onX->losses.size(); ++i)
    EXPECT_NEAR(onGram->losses[i], onX->losses[i] * samples,
                1e-3 * onX->losses[i] * samples);
  // Neither x nor XᵀX: an error, not a crash.
  auto none = searchAwqScales(nullptr, 0, k, {w.data()}, {32}, m.data(), grid);
  EXPECT_FALSE(bool(none));
  llvm::consumeError(none.takeError());
}

TEST(Awq, OutlierChannelsGetScaled) {
  const int64_t k = 256, samples = 512;
  AwqGrid grid{4, 128, true};
  std::vector<float> x = randomMatrix(samples, k, 1.0f, 6);
  for (int64_t c : {3, 40, 77, 130, 200, 251})
    for (int64_t t = 0; t < samples; ++t)
      x[size_t(t * k + c)] *= 20;
  std::vector<float> q = randomMatrix(128, k, 0.02f, 7);
  std::vector<float> v = randomMatrix(64, k, 0.02f, 8);
  std::vector<float> m = meanAbs(x, k);
  auto r = searchAwqScales(x.data(), samples, k, {q.data(), v.data()},
                           {128, 64}, m.data(), grid);
  ASSERT_TRUE(bool(r));
  std::printf("alpha %.2f, loss %.4g vs RTN %.4g\n", r->alpha, r->bestLoss,
              r->baseLoss);
  EXPECT_GT(r->alpha, 0.0f);
  EXPECT_LT(r->bestLoss, 0.7 * r->baseLoss);
  // The salient channels get the largest scales; max(s) · min(s) = 1.
  auto [lo, hi] = std::minmax_element(r->scales.begin(), r->scales.end());
  EXPECT_NEAR(double(*lo) * *hi, 1.0, 1e-5);
  // s ∝ mean|x|^alpha: the ×20 channels get about 20^alpha times the rest.
  std::vector<int64_t> salient = {3, 40, 77, 130, 200, 251};
  float others = 0;
  for (int64_t c = 0; c < k; ++c)
    if (std::find(salient.begin(), salient.end(), c) == salient.end())
      others = std::max(others, r->scales[c]);
  for (int64_t c : salient)
    EXPECT_GT(r->scales[c], 0.7f * std::pow(20.0f, r->alpha) * others);
  // Independent check of the gain, on the output.
  std::vector<float> ones(size_t(k), 1.0f);
  double scaled = outputError(x, k, q, scaledFake(q, k, r->scales, grid));
  double plain = outputError(x, k, q, scaledFake(q, k, ones, grid));
  EXPECT_LT(scaled, 0.8 * plain);
}

TEST(Awq, ClipNeverIncreasesErrorAndShrinksOutliers) {
  const int64_t k = 256, rows = 16, samples = 300;
  AwqGrid grid{4, 64, true};
  std::vector<float> x = randomMatrix(samples, k, 1.0f, 9);
  std::vector<float> w = randomMatrix(rows, k, 0.02f, 10);
  // One outlier weight in row 3, group 0, on an input channel that is
  // nearly silent: clipping it costs little and refines the other 63.
  w[size_t(3 * k + 10)] = 0.5f;
  for (int64_t t = 0; t < samples; ++t)
    x[size_t(t * k + 10)] *= 0.05f;
  auto clip = searchAwqClip(x.data(), samples, k, w.data(), rows, grid);
  ASSERT_TRUE(bool(clip)) << errorText(clip.takeError());
  int64_t groups = k / 64;
  ASSERT_EQ(clip->size(), size_t(rows * groups));

  int shrunk = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < groups; ++j) {
      std::vector<float> g(w.begin() + r * k + j * 64,
                           w.begin() + r * k + (j + 1) * 64);
      std::vector<float> xg;
      for (int64_t t = 0; t < samples; ++t)
        xg.insert(xg.end(), x.begin() + t * k + j * 64,
                  x.begin() + t * k + (j + 1) * 64);
      float absMax = 0;
      for (float v : g)
        absMax = std::max(absMax, std::fabs(v));
      float c = (*clip)[size_t(r * groups + j)];
      EXPECT_LE(c, absMax);
      EXPECT_GE(c, 0.5f * absMax);
      shrunk += c < absMax;
      std::vector<float> none(64), clipped(64);
      ASSERT_FALSE(bool(fakeQuantizeAwq(g.data(), 1, 64, grid, nullptr,
                                        none.data())));
      ASSERT_FALSE(bool(fakeQuantizeAwq(g.data(), 1, 64, grid, &c,
                                        clipped.data())));
      double before = outputError(xg, 64, g, none);
      double after = outputError(xg, 64, g, clipped);
      EXPECT_LE(after, before * (1 + 1e-5)) << "row " << r << " group " << j;
    }
  EXPECT_LE((*clip)[size_t(3 * groups)], 0.5f * 0.8f);
  std::printf("%d of %lld groups clipped; outlier group clipped to %.3f\n", shrunk,
              (long long)(rows * groups), (*clip)[size_t(3 * groups)]);
}

TEST(Awq, ClipSubsamplesEvenlySpacedTokens) {
  const int64_t k = 128, rows = 8;
  AwqGrid grid{4, 32, true};
  std::vector<float> x = randomMatrix(64, k, 1.0f, 11);
  std::vector<float> w = randomMatrix(rows, k, 0.02f, 12);
  // 64 tokens with maxTokens 16: step 4, tokens 0, 4, ..., 60. Spoil the others.
  std::vector<float> even;
  std::vector<float> spoiled = x;
  for (int64_t t = 0; t < 64; ++t)
    if (t % 4 == 0)
      even.insert(even.end(), x.begin() + t * k, x.begin() + (t + 1) * k);
    else
      for (int64_t c = 0; c < k; ++c)
        spoiled[size_t(t * k + c)] = c % 2 ? 1000.0f : -1000.0f;
  auto a = searchAwqClip(spoiled.data(), 64, k, w.data(), rows, grid, 20, 0.5, 16);
  auto b = searchAwqClip(even.data(), 16, k, w.data(), rows, grid, 20, 0.5, 16);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
}

TEST(Awq, BadOptionsAreErrors) {
  std::vector<float> w(4 * 256, 0.1f), x(8 * 256, 1.0f), m(256, 1.0f);
  for (int bits : {1, 9}) {
    auto q = quantizeAwq(w.data(), 4, 256, {bits, 128, true});
    ASSERT_FALSE(bool(q));
    EXPECT_NE(errorText(q.takeError()).find("bits must be 2..8"),
              std::string::npos);
  }
  auto q = quantizeAwq(w.data(), 4, 256, {4, 96, true});
  ASSERT_FALSE(bool(q));
  EXPECT_EQ(errorText(q.takeError()),
            "AWQ group size 96 does not divide input width 256");
  q = quantizeAwq(w.data(), 4, 256, {4, 0, true});
  ASSERT_FALSE(bool(q));
  llvm::consumeError(q.takeError());
  float negative[] = {1, -1, 1, 1, 1, 1, 1, 1};
  auto c = quantizeAwq(w.data(), 4, 256, {4, 128, true}, negative);
  ASSERT_FALSE(bool(c));
  llvm::consumeError(c.takeError());

  auto s = searchAwqScales(x.data(), 8, 256, {w.data()}, {4}, m.data(),
                           {4, 96, true});
  ASSERT_FALSE(bool(s));
  EXPECT_NE(errorText(s.takeError()).find("group size 96"), std::string::npos);
  s = searchAwqScales(x.data(), 8, 256, {w.data()}, {4, 4}, m.data(), {});
  ASSERT_FALSE(bool(s));
  llvm::consumeError(s.takeError());
  s = searchAwqScales(x.data(), 8, 256, {w.data()}, {4}, m.data(), {9, 128});
  ASSERT_FALSE(bool(s));
  llvm::consumeError(s.takeError());
  m[5] = -1;
  s = searchAwqScales(x.data(), 8, 256, {w.data()}, {4}, m.data(), {});
  ASSERT_FALSE(bool(s));
  llvm::consumeError(s.takeError());

  auto clip = searchAwqClip(x.data(), 8, 256, w.data(), 4, {4, 100, true});
  ASSERT_FALSE(bool(clip));
  llvm::consumeError(clip.takeError());
  clip = searchAwqClip(x.data(), 8, 256, w.data(), 4, {}, 20, 1.0);
  ASSERT_FALSE(bool(clip));
  EXPECT_NE(errorText(clip.takeError()).find("max shrink"), std::string::npos);
}

// Timing on the shapes of a small model's layer; prints, asserts nothing.
TEST(Awq, Timing) {
  using Clock = std::chrono::steady_clock;
  AwqGrid grid;
  const int64_t k = 512, samples = 4096;
  std::vector<float> x = randomMatrix(samples, k, 1.0f, 13);
  std::vector<float> m = meanAbs(x, k);
  std::vector<float> q = randomMatrix(512, k, 0.02f, 14);
  std::vector<float> kw = randomMatrix(256, k, 0.02f, 15);
  std::vector<float> v = randomMatrix(256, k, 0.02f, 16);
  auto t0 = Clock::now();
  auto r = searchAwqScales(x.data(), samples, k, {q.data(), kw.data(), v.data()},
                           {512, 256, 256}, m.data(), grid);
  double scaleSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(bool(r));

  const int64_t wide = 1536;
  std::vector<float> xw = randomMatrix(samples, wide, 1.0f, 17);
  std::vector<float> w = randomMatrix(512, wide, 0.02f, 18);
  t0 = Clock::now();
  auto clip = searchAwqClip(xw.data(), samples, wide, w.data(), 512, grid);
  double clipSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(bool(clip));
  std::printf("searchAwqScales x 4096x512, weights 512+256+256 rows: %.3f s\n"
              "searchAwqClip x 4096x1536, weight 512x1536: %.3f s\n",
              scaleSeconds, clipSeconds);
}
