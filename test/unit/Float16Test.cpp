//===- Float16Test.cpp - fp16/bf16 conversions against known encodings ----===//
#include "lowbit/Support/Float16.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace lowbit;

TEST(Float16, KnownEncodings) {
  EXPECT_EQ(floatToFp16(1.0f), 0x3c00);
  EXPECT_EQ(floatToFp16(-2.0f), 0xc000);
  EXPECT_EQ(floatToFp16(65504.0f), 0x7bff);          // largest finite
  EXPECT_EQ(floatToFp16(65520.0f), 0x7c00);          // rounds to +inf
  EXPECT_EQ(floatToFp16(std::ldexp(1.0f, -24)), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToFp16(std::ldexp(1.0f, -14)), 0x0400); // smallest normal
  EXPECT_EQ(floatToFp16(0.0f), 0x0000);
  EXPECT_EQ(floatToFp16(-0.0f), 0x8000);
  EXPECT_EQ(fp16ToFloat(0x3555), 0.333251953125f);
}

TEST(Float16, RoundsHalfToEven) {
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties go to the even 1.0.
  EXPECT_EQ(floatToFp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // 1 + 3*2^-11 lies halfway between 0x3c01 and 0x3c02: even is 0x3c02.
  EXPECT_EQ(floatToFp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
}

TEST(Float16, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
      continue; // NaN payloads need not survive
    EXPECT_EQ(floatToFp16(fp16ToFloat(uint16_t(h))), h) << std::hex << h;
  }
}

TEST(BFloat16, TruncatesWithRounding) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bf16ToFloat(0xc0a0), -5.0f);
  // 1 + 2^-8 is halfway between bf16 1.0 and 1 + 2^-7: ties to even.
  EXPECT_EQ(floatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  for (uint32_t h = 0; h < 0x10000; h += 7) {
    if ((h & 0x7f80) != 0x7f80) {
      EXPECT_EQ(floatToBf16(bf16ToFloat(uint16_t(h))), h);
    }
  }
}
