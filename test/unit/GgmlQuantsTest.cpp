//===- GgmlQuantsTest.cpp - ggml block format tests -----------------------===//
//
// Expected values come from hand-built blocks decoded with the element maps
// of formats.md §3, written independently of the loops in GgmlQuants.cpp.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Support/Float16.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <random>

using namespace lowbit;

namespace {

constexpr uint16_t kHalfOne = 0x3c00, kHalfHalf = 0x3800,
                   kHalfQuarter = 0x3400, kHalfTwo = 0x4000;

void putHalf(uint8_t *p, uint16_t h) {
  p[0] = uint8_t(h);
  p[1] = uint8_t(h >> 8);
}

std::vector<float> dequant(DType type, const std::vector<uint8_t> &block) {
  int64_t n = getDTypeInfo(type).blockElems;
  std::vector<float> out(n);
  dequantizeRow(type, block.data(), out.data(), n);
  return out;
}

/// Packs 8 six-bit scales and mins the Q4_K/Q5_K way (formats.md table).
void packScaleMin(uint8_t *b, const int sc[8], const int mn[8]) {
  for (int j = 0; j < 4; ++j) {
    b[j] = uint8_t(sc[j] | ((sc[j + 4] >> 4) << 6));
    b[j + 4] = uint8_t(mn[j] | ((mn[j + 4] >> 4) << 6));
    b[j + 8] = uint8_t((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// Q8_0 quantizer
//===----------------------------------------------------------------------===//

TEST(GgmlQuants, Q8_0ExactBlock) {
  // amax = 127 * 0.5 gives d = 0.5 exactly; every x = k/2 encodes as k.
  float x[32];
  for (int j = 0; j < 32; ++j)
    x[j] = 0.5f * float(j * 8 - 127); // -63.5 ... 56.5
  x[31] = 63.5f;
  uint8_t block[34];
  quantizeRowQ8_0(x, block, 32);
  EXPECT_EQ(block[0] | block[1] << 8, kHalfHalf);
  for (int j = 0; j < 31; ++j)
    EXPECT_EQ(int8_t(block[2 + j]), j * 8 - 127) << j;
  EXPECT_EQ(int8_t(block[33]), 127);
  float y[32];
  dequantizeRow(DType::Q8_0, block, y, 32);
  for (int j = 0; j < 32; ++j)
    EXPECT_EQ(y[j], x[j]);
}

TEST(GgmlQuants, Q8_0RoundsHalfAwayFromZero) {
  // d = 1: roundf, not round-to-even, so 2.5 -> 3 and -0.5 -> -1.
  float x[32] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.49f, -126.5f};
  uint8_t block[34];
  quantizeRowQ8_0(x, block, 32);
  EXPECT_EQ(block[0] | block[1] << 8, kHalfOne);
  int expected[] = {127, 3, -3, 1, -1, 1, -127, 0};
  for (int j = 0; j < 8; ++j)
    EXPECT_EQ(int8_t(block[2 + j]), expected[j]) << j;
}

TEST(GgmlQuants, Q8_0ZeroBlockAndFp16Scale) {
  float zeros[32] = {};
  uint8_t block[34];
  std::memset(block, 0xff, sizeof(block));
  quantizeRowQ8_0(zeros, block, 32);
  for (uint8_t b : block)
    EXPECT_EQ(b, 0);

  // d = 100/127 is not an fp16 value: the stored scale is the rounded one,
  // while the codes use the unrounded reciprocal (so x = 100 -> 127).
  float x[32] = {100.0f, -40.0f, 0.2f};
  quantizeRowQ8_0(x, block, 32);
  float d = 100.0f / 127;
  uint16_t h = block[0] | block[1] << 8;
  EXPECT_EQ(h, floatToFp16(d));
  EXPECT_NE(fp16ToFloat(h), d);
  EXPECT_EQ(int8_t(block[2]), 127);
  EXPECT_EQ(int8_t(block[3]), -51); // -50.8
  EXPECT_EQ(int8_t(block[4]), 0);   // 0.254
}

TEST(GgmlQuants, Q8_0ErrorBound) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int n = 32 * 64;
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i)
    x[i] = dist(rng) * float(1 + i / 32); // a different scale per block
  std::vector<uint8_t> q(n / 32 * 34);
  ASSERT_FALSE(bool(quantizeRow(DType::Q8_0, x.data(), q.data(), n)));
  dequantizeRow(DType::Q8_0, q.data(), y.data(), n);
  for (int b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j)
      amax = std::max(amax, std::fabs(x[b * 32 + j]));
    float d = amax / 127;
    // Half a step from rounding plus up to 127 * (fp16 error of d <= d/2048).
    float bound = d * (0.5f + 127.0f / 2048) * 1.0001f;
    for (int j = 0; j < 32; ++j)
      EXPECT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), bound)
          << "block " << b << " element " << j;
  }
}

TEST(GgmlQuants, QuantizeRowScalarTypes) {
  float x[4] = {1.0f, -2.5f, 65504.0f, 1e-8f};
  uint8_t buf[16];
  float y[4];
  ASSERT_FALSE(bool(quantizeRow(DType::F32, x, buf, 4)));
  dequantizeRow(DType::F32, buf, y, 4);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(y[i], x[i]);
  ASSERT_FALSE(bool(quantizeRow(DType::F16, x, buf, 4)));
  EXPECT_EQ(buf[0] | buf[1] << 8, kHalfOne);
  dequantizeRow(DType::F16, buf, y, 4);
  EXPECT_EQ(y[1], -2.5f);
  EXPECT_EQ(y[2], 65504.0f);
  EXPECT_EQ(y[3], fp16ToFloat(floatToFp16(1e-8f)));
  ASSERT_FALSE(bool(quantizeRow(DType::BF16, x, buf, 4)));
  EXPECT_EQ(buf[0] | buf[1] << 8, 0x3f80);
  dequantizeRow(DType::BF16, buf, y, 4);
  EXPECT_EQ(y[1], -2.5f);
  EXPECT_EQ(y[2], 65536.0f); // bf16 has 8 mantissa bits

  llvm::Error e = quantizeRow(DType::I8, x, buf, 4);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("cannot encode values as i8"),
            std::string::npos);
  e = quantizeRow(DType::Q8_0, x, buf, 4);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("not a multiple of the q8_0"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// Dequantizers on hand-built blocks
//===----------------------------------------------------------------------===//

TEST(GgmlQuants, Q4_0) {
  std::vector<uint8_t> b(18);
  putHalf(&b[0], kHalfQuarter);
  for (int j = 0; j < 16; ++j)
    b[2 + j] = uint8_t(j | (15 - j) << 4);
  std::vector<float> y = dequant(DType::Q4_0, b);
  // e < 16: low nibble j -> (j - 8) / 4; e >= 16: high nibble 15 - (e - 16).
  EXPECT_EQ(y[0], -2.0f);
  EXPECT_EQ(y[8], 0.0f);
  EXPECT_EQ(y[15], 1.75f);
  EXPECT_EQ(y[16], 1.75f);
  EXPECT_EQ(y[31], -2.0f);
  for (int e = 0; e < 32; ++e)
    EXPECT_EQ(y[e], ((e < 16 ? e : 31 - e) - 8) * 0.25f) << e;
}

TEST(GgmlQuants, Q4_1AndQ5) {
  std::vector<uint8_t> b(20);
  putHalf(&b[0], kHalfTwo);
  putHalf(&b[2], 0xbc00); // m = -1
  for (int j = 0; j < 16; ++j)
    b[4 + j] = uint8_t(j << 4 | 3);
  std::vector<float> y = dequant(DType::Q4_1, b);
  EXPECT_EQ(y[0], 5.0f);     // 3 * 2 - 1
  EXPECT_EQ(y[16 + 7], 13.0f); // 7 * 2 - 1

  // Q5_0: bit 4 of element e is bit e of qh (u32 LE).
  std::vector<uint8_t> c(22);
  putHalf(&c[0], kHalfOne);
  uint32_t qh = 0x80000001u | 1u << 17;
  for (int i = 0; i < 4; ++i)
    c[2 + i] = uint8_t(qh >> (8 * i));
  for (int j = 0; j < 16; ++j)
    c[6 + j] = uint8_t(0x5a);
  y = dequant(DType::Q5_0, c);
  EXPECT_EQ(y[0], float((0xa | 16) - 16));  // 10
  EXPECT_EQ(y[1], float(0xa - 16));         // -6
  EXPECT_EQ(y[17], float((0x5 | 16) - 16)); // 5
  EXPECT_EQ(y[31], float((0x5 | 16) - 16));
  EXPECT_EQ(y[30], float(0x5 - 16));

  std::vector<uint8_t> d(24);
  putHalf(&d[0], kHalfHalf);
  putHalf(&d[2], kHalfOne);
  std::copy(c.begin() + 2, c.end(), d.begin() + 4);
  y = dequant(DType::Q5_1, d);
  EXPECT_EQ(y[0], 26 * 0.5f + 1);
  EXPECT_EQ(y[1], 10 * 0.5f + 1);
  EXPECT_EQ(y[31], 21 * 0.5f + 1);
}

TEST(GgmlQuants, Q4_K) {
  std::vector<uint8_t> b(144);
  putHalf(&b[0], kHalfOne);
  putHalf(&b[2], kHalfHalf);
  int sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = 10 + 7 * j; // 10..59: j >= 4 uses the high bits
    mn[j] = 3 + 8 * j;  // 3..59
  }
  packScaleMin(&b[4], sc, mn);
  for (int i = 0; i < 128; ++i)
    b[16 + i] = uint8_t(i * 37 + 11);
  std::vector<float> y = dequant(DType::Q4_K, b);
  for (int e = 0; e < 256; ++e) {
    int c = e / 64, r = e % 64;
    uint8_t byte = b[16 + 32 * c + (r < 32 ? r : r - 32)];
    int q = r < 32 ? byte & 15 : byte >> 4;
    int j = e / 32;
    EXPECT_EQ(y[e], 1.0f * sc[j] * q - 0.5f * mn[j]) << e;
  }
  // Spot values: e = 0: qs[0] = 11 -> q = 11, 10*11 - 1.5.
  EXPECT_EQ(y[0], 108.5f);
  // e = 224: c = 3, r = 32 -> high nibble of qs[96] = (96*37+11) & 255 = 235
  // -> q = 14; j = 7: sc = 59, mn = 59 -> 59*14 - 29.5.
  EXPECT_EQ(y[224], 796.5f);
}

TEST(GgmlQuants, Q5_K) {
  std::vector<uint8_t> b(176);
  putHalf(&b[0], kHalfHalf);
  putHalf(&b[2], kHalfOne);
  int sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = 63 - 5 * j;
    mn[j] = 17 + 6 * j;
  }
  packScaleMin(&b[4], sc, mn);
  for (int i = 0; i < 32; ++i)
    b[16 + i] = uint8_t(i * 53 + 5);
  for (int i = 0; i < 128; ++i)
    b[48 + i] = uint8_t(i * 29 + 3);
  std::vector<float> y = dequant(DType::Q5_K, b);
  for (int e = 0; e < 256; ++e) {
    int c = e / 64, r = e % 64;
    uint8_t byte = b[48 + 32 * c + (r < 32 ? r : r - 32)];
    int q = (r < 32 ? byte & 15 : byte >> 4) +
            16 * ((b[16 + e % 32] >> (e / 32)) & 1);
    int j = e / 32;
    EXPECT_EQ(y[e], 0.5f * sc[j] * q - 1.0f * mn[j]) << e;
  }
}

TEST(GgmlQuants, Q6_K) {
  std::vector<uint8_t> b(210);
  for (int i = 0; i < 128; ++i)
    b[i] = uint8_t(i * 13 + 7);
  for (int i = 0; i < 64; ++i)
    b[128 + i] = uint8_t(i * 29 + 1);
  for (int i = 0; i < 16; ++i)
    b[192 + i] = uint8_t(int8_t(i - 8)); // signed scales
  putHalf(&b[208], kHalfHalf);
  std::vector<float> y = dequant(DType::Q6_K, b);
  for (int e = 0; e < 256; ++e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    uint8_t lo = b[64 * h + 32 * (k & 1) + l];
    int low4 = k < 2 ? lo & 15 : lo >> 4;
    int hi2 = (b[128 + 32 * h + l] >> (2 * k)) & 3;
    int q = (low4 | hi2 << 4) - 32;
    EXPECT_EQ(y[e], 0.5f * float(int8_t(b[192 + e / 16])) * q) << e;
  }
  // e = 0: ql[0] = 7, qh[0] = 1 -> q = (7 | 16) - 32 = -9; scale -8 -> 36.
  EXPECT_EQ(y[0], 36.0f);
  // e = 200: h = 1, k = 2, l = 8: ql[72] = 175 -> high nibble 10;
  // qh[40] = 137 -> bits 4-5 = 0 -> q = -22; scale[12] = 4 -> -44.
  EXPECT_EQ(y[200], -44.0f);
}

TEST(GgmlQuants, Q2_K) {
  std::vector<uint8_t> b(84);
  for (int s = 0; s < 16; ++s)
    b[s] = uint8_t((s + 1) | (15 - s) << 4);
  for (int i = 0; i < 64; ++i)
    b[16 + i] = uint8_t(i * 71 + 9);
  putHalf(&b[80], kHalfHalf);
  putHalf(&b[82], kHalfQuarter);
  std::vector<float> y = dequant(DType::Q2_K, b);
  for (int e = 0; e < 256; ++e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32, s = e / 16;
    int q = (b[16 + 32 * h + l] >> (2 * k)) & 3;
    EXPECT_EQ(y[e], 0.5f * (b[s] & 15) * q - 0.25f * (b[s] >> 4)) << e;
  }
}

TEST(GgmlQuants, Q3_K) {
  std::vector<uint8_t> b(110);
  for (int i = 0; i < 32; ++i)
    b[i] = uint8_t(i * 97 + 5); // hmask
  for (int i = 0; i < 64; ++i)
    b[32 + i] = uint8_t(i * 71 + 9);
  int codes[16];
  for (int s = 0; s < 16; ++s)
    codes[s] = (s * 23 + 4) & 63;
  for (int s = 0; s < 16; ++s) {
    uint8_t *lowByte = &b[96 + (s < 8 ? s : s - 8)];
    *lowByte |= uint8_t((codes[s] & 15) << (s < 8 ? 0 : 4));
    b[96 + 8 + s % 4] |= uint8_t((codes[s] >> 4) << (2 * (s / 4)));
  }
  putHalf(&b[108], kHalfQuarter);
  std::vector<float> y = dequant(DType::Q3_K, b);
  for (int e = 0; e < 256; ++e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    int low2 = (b[32 + 32 * h + l] >> (2 * k)) & 3;
    int hb = (b[e % 32] >> (e / 32)) & 1;
    int q = low2 - (hb ? 0 : 4);
    EXPECT_EQ(y[e], 0.25f * (codes[e / 16] - 32) * q) << e;
  }
}

TEST(GgmlQuants, DequantizeTensor) {
  std::vector<uint8_t> bytes(2 * 18);
  putHalf(&bytes[0], kHalfOne);
  putHalf(&bytes[18], kHalfTwo);
  for (int j = 0; j < 16; ++j)
    bytes[2 + j] = bytes[20 + j] = 0x99; // q = 9 -> value d
  TensorRef t{"w", DType::Q4_0, {2, 32}, bytes.data(), bytes.size()};
  std::vector<float> out;
  ASSERT_FALSE(bool(dequantize(t, out)));
  ASSERT_EQ(out.size(), 64u);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[63], 2.0f);

  t.bytes = 35;
  llvm::Error e = dequantize(t, out);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("tensor 'w': 35 bytes"),
            std::string::npos);
  TensorRef u{"u", DType::U8, {4}, bytes.data(), 4};
  e = dequantize(u, out);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("cannot dequantize type u8"),
            std::string::npos);
  EXPECT_FALSE(canDequantize(DType::I32));
  EXPECT_TRUE(canDequantize(DType::Q6_K));
}

TEST(GgmlQuants, CheckFiniteNamesThePlace) {
  std::vector<float> v(12, 1.0f);
  EXPECT_EQ(findNonFinite(v.data(), 12), -1);
  EXPECT_FALSE(bool(checkFinite("w", v.data(), 12, 4)));
  v[9] = -std::numeric_limits<float>::infinity();
  v[10] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(findNonFinite(v.data(), 12), 9);
  llvm::Error e = checkFinite("w", v.data(), 12, 4, /*firstRow=*/5);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e))
                .find("tensor 'w' has a non-finite value (-inf) at row 7, "
                      "column 1"),
            std::string::npos);
}

TEST(GgmlQuants, F64) {
  double v[2] = {0.1, -3.0};
  uint8_t buf[16];
  std::memcpy(buf, v, 16);
  float y[2];
  dequantizeRow(DType::F64, buf, y, 2);
  EXPECT_EQ(y[0], 0.1f);
  EXPECT_EQ(y[1], -3.0f);
}
