//===- AffineTest.cpp - RTN grid of the reference GPTQ quantizer ----------===//
#include "lowbit/Quant/Affine.h"
#include "lowbit/Support/Float16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace lowbit;

TEST(Affine, AsymmetricGridContainsZero) {
  // 2 bits, range [-1, 2]: scale 1, zero round(1/1) = 1.
  float w[] = {-1.0f, 0.0f, 0.5f, 2.0f};
  auto q = quantizeAffineRtn(w, 1, 4, {2, -1, false});
  ASSERT_TRUE(bool(q));
  EXPECT_FLOAT_EQ(q->scales[0], 1.0f);
  EXPECT_FLOAT_EQ(q->zeros[0], 1.0f);
  // round(0.5) is 0 (half to even, as torch.round), so 0.5 -> code 1.
  EXPECT_EQ(std::vector<uint8_t>(q->codes.begin(), q->codes.end()),
            (std::vector<uint8_t>{0, 1, 1, 3}));
  // All-positive groups still include 0: range [0, 3], zero 0.
  float p[] = {1.0f, 2.0f, 3.0f, 3.0f};
  q = quantizeAffineRtn(p, 1, 4, {2, -1, false});
  EXPECT_FLOAT_EQ(q->zeros[0], 0.0f);
  EXPECT_FLOAT_EQ(q->scales[0], 1.0f);
}

TEST(Affine, SymmetricZeroIsMidpoint) {
  float w[] = {-3.0f, 1.0f, 2.0f, 0.0f};
  auto q = quantizeAffineRtn(w, 1, 4, {3, -1, true});
  ASSERT_TRUE(bool(q));
  EXPECT_FLOAT_EQ(q->zeros[0], 4.0f); // (7 + 1) / 2
  // [-3, 3] over 7 steps, as fp16 stores it.
  EXPECT_EQ(q->scales[0], fp16ToFloat(floatToFp16(6.0f / 7.0f)));
}

TEST(Affine, RoundTripErrorIsHalfAStep) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  const int64_t rows = 8, cols = 256;
  std::vector<float> w(rows * cols), back(rows * cols);
  for (float &v : w)
    v = dist(rng);
  for (int bits : {2, 3, 4, 8}) {
    AffineScheme s{bits, 64, false};
    auto q = quantizeAffineRtn(w.data(), rows, cols, s);
    ASSERT_TRUE(bool(q));
    dequantizeAffine(q->codes.data(), q->scales.data(), q->zeros.data(), rows,
                     cols, 64, back.data());
    // Half a step, plus what the fp16 scale (relative error <= 2^-11) can
    // add at the far end of the range.
    float slack = 0.5f + float((1 << bits) - 1) / 2048;
    for (int64_t i = 0; i < rows * cols; ++i)
      EXPECT_LE(std::fabs(back[i] - w[i]), slack * q->scales[i / 64] + 1e-7f);
  }
}

TEST(Affine, ScalesAreFp16) {
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  const int64_t rows = 4, cols = 128;
  std::vector<float> w(rows * cols);
  for (float &v : w)
    v = dist(rng);
  // Ranges far below the fp16 normal range still get a positive scale that
  // covers the group.
  for (int64_t i = 0; i < cols; ++i)
    w[cols + i] *= 1e-4f;
  for (int64_t i = 0; i < cols; ++i)
    w[2 * cols + i] *= 1e-9f;
  for (bool symmetric : {false, true})
    for (bool mse : {false, true}) {
      AffineScheme s{4, 32, symmetric, mse};
      auto q = quantizeAffineRtn(w.data(), rows, cols, s);
      ASSERT_TRUE(bool(q));
      for (float scale : q->scales) {
        EXPECT_GT(scale, 0.0f);
        EXPECT_EQ(scale, fp16ToFloat(floatToFp16(scale)));
      }
      if (mse)
        continue;
      std::vector<float> back(rows * cols);
      dequantizeAffine(q->codes.data(), q->scales.data(), q->zeros.data(), rows,
                       cols, 32, back.data());
      for (int64_t i = cols; i < 3 * cols; ++i)
        EXPECT_LE(std::fabs(back[i] - w[i]), 0.51f * q->scales[i / 32]) << i;
    }
}

TEST(Affine, MseGridNeverWorse) {
  std::mt19937 rng(3);
  std::student_t_distribution<float> dist(4.0f); // heavy tails: clipping pays
  const int64_t rows = 32, cols = 256, group = 64;
  std::vector<float> w(rows * cols);
  for (float &v : w)
    v = 0.01f * dist(rng);
  for (int bits : {2, 3, 4})
    for (bool symmetric : {false, true}) {
      AffineScheme plain{bits, group, symmetric, false};
      AffineScheme mse{bits, group, symmetric, true};
      auto p = quantizeAffineRtn(w.data(), rows, cols, plain);
      auto m = quantizeAffineRtn(w.data(), rows, cols, mse);
      ASSERT_TRUE(p && m);
      std::vector<float> pb(rows * cols), mb(rows * cols);
      dequantizeAffine(p->codes.data(), p->scales.data(), p->zeros.data(), rows,
                       cols, group, pb.data());
      dequantizeAffine(m->codes.data(), m->scales.data(), m->zeros.data(), rows,
                       cols, group, mb.data());
      double plainSq = 0, mseSq = 0;
      for (int64_t j = 0; j < rows * cols / group; ++j) {
        // The search minimizes Σ|q − w|^2.4 per group, so it never loses there.
        double plainNorm = 0, mseNorm = 0;
        for (int64_t i = j * group; i < (j + 1) * group; ++i) {
          plainNorm += std::pow(std::fabs(double(pb[i]) - w[i]), 2.4);
          mseNorm += std::pow(std::fabs(double(mb[i]) - w[i]), 2.4);
          plainSq += (double(pb[i]) - w[i]) * (double(pb[i]) - w[i]);
          mseSq += (double(mb[i]) - w[i]) * (double(mb[i]) - w[i]);
        }
        EXPECT_LE(mseNorm, plainNorm * (1 + 1e-4));
        EXPECT_LE(m->scales[j], p->scales[j]);
      }
      EXPECT_LT(mseSq, plainSq) << "bits " << bits << " symmetric " << symmetric;
    }
}

TEST(Affine, GroupIndexPicksTheGroup) {
  // Two groups of two columns; gIdx sends columns 0 and 3 to group 1.
  uint8_t codes[] = {1, 2, 3, 0};
  float scales[] = {0.5f, 2.0f}, zeros[] = {1.0f, 0.0f};
  int32_t gIdx[] = {1, 0, 0, 1};
  float out[4];
  dequantizeAffine(codes, scales, zeros, 1, 4, 2, out, gIdx);
  EXPECT_EQ(out[0], 2.0f);
  EXPECT_EQ(out[1], 0.5f);
  EXPECT_EQ(out[2], 1.0f);
  EXPECT_EQ(out[3], 0.0f);
  dequantizeAffine(codes, scales, zeros, 1, 4, 2, out);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[3], 0.0f);
}

TEST(Affine, RejectsBadSchemes) {
  float w[8] = {};
  EXPECT_FALSE(bool(quantizeAffineRtn(w, 1, 8, {9, -1, false})));
  auto e = quantizeAffineRtn(w, 1, 8, {4, 3, false});
  ASSERT_FALSE(bool(e));
  EXPECT_EQ(llvm::toString(e.takeError()), "group size 3 does not divide input width 8");
}
