//===- AffineTest.cpp - RTN grid of the reference GPTQ quantizer ----------===//
#include "lowbit/Quant/Affine.h"

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
  EXPECT_FLOAT_EQ(q->zeros[0], 4.0f);        // (7 + 1) / 2
  EXPECT_FLOAT_EQ(q->scales[0], 6.0f / 7.0f); // [-3, 3] over 7 steps
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
    for (int64_t i = 0; i < rows * cols; ++i)
      EXPECT_LE(std::fabs(back[i] - w[i]), 0.5f * q->scales[i / 64] + 1e-7f);
  }
}

TEST(Affine, RejectsBadSchemes) {
  float w[8] = {};
  EXPECT_FALSE(bool(quantizeAffineRtn(w, 1, 8, {9, -1, false})));
  auto e = quantizeAffineRtn(w, 1, 8, {4, 3, false});
  ASSERT_FALSE(bool(e));
  EXPECT_EQ(llvm::toString(e.takeError()), "group size 3 does not divide input width 8");
}
