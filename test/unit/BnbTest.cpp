//===- BnbTest.cpp - bitsandbytes NF4 / FP4 and double quantization -------===//
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Quant/Bnb.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace lowbit;

namespace {
std::vector<uint8_t> bytesOf(const std::vector<float> &v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}
} // namespace

TEST(Bnb, Nf4CodebookIsThePublishedTable) {
  // formats.md §7.2 (bitsandbytes get_4bit_type("nf4")).
  const double expected[16] = {
      -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
      -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
      0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
      0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
      0.7229568362236023, 1.0};
  llvm::ArrayRef<float> code = bnb4BitCodebook(Bnb4BitType::NF4);
  ASSERT_EQ(code.size(), 16u);
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(code[i], float(expected[i])) << "index " << i;
  EXPECT_EQ(code[7], 0.0f);
  EXPECT_FALSE(std::signbit(code[7]));
}

TEST(Bnb, Fp4CodebookIsRawValuesOverTwelve) {
  const float raw[16] = {0, 0.0625f, 8, 12, 4, 6, 2, 3,
                         -0.0f, -0.0625f, -8, -12, -4, -6, -2, -3};
  llvm::ArrayRef<float> code = bnb4BitCodebook(Bnb4BitType::FP4);
  ASSERT_EQ(code.size(), 16u);
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(code[i], raw[i] / 12.0f) << "index " << i;
  // Bits 0-2 select {0, 1/192, 2/3, 1, 1/3, 1/2, 1/6, 1/4}; bit 3 is the sign.
  EXPECT_FLOAT_EQ(code[1], 1.0f / 192.0f);
  EXPECT_FLOAT_EQ(code[2], 2.0f / 3.0f);
  EXPECT_EQ(code[3], 1.0f);
  EXPECT_EQ(code[5], 0.5f);
  EXPECT_EQ(code[7], 0.25f);
  EXPECT_TRUE(std::signbit(code[8]));
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(code[i + 8], -code[i]);
}

TEST(Bnb, DynamicMapKnownValues) {
  llvm::ArrayRef<float> map = bnbDynamicMap();
  ASSERT_EQ(map.size(), 256u);
  EXPECT_EQ(map[0], -0.99296875f);
  EXPECT_EQ(map[127], 0.0f);
  EXPECT_EQ(map[255], 1.0f);
  for (size_t i = 1; i < map.size(); ++i)
    EXPECT_LT(map[i - 1], map[i]) << "index " << i;
  // Signed: every value but 0 and 1 comes with its negation.
  for (int i = 0; i < 127; ++i)
    EXPECT_EQ(map[i], -map[254 - i]) << "index " << i;
  // The finest exponent (10^-6 · mean of 0.1 and 1) sits next to zero; the
  // coarsest is 64 linear steps of 0.9 / 64 up to 0.99296875.
  EXPECT_FLOAT_EQ(map[128], 0.55e-6f);
  EXPECT_NEAR(map[254] - map[253], 0.9 / 64, 1e-6);
}

TEST(Bnb, NearestIndexTiesGoToTheFirstEntry) {
  // torch.argmin keeps the first of equal distances, in codebook order.
  const float halves[] = {0.5f, 0.25f, 0.0f};
  EXPECT_EQ(bnbNearestIndex(0.375f, halves), 0);
  const float reversed[] = {0.0f, 0.25f, 0.5f};
  EXPECT_EQ(bnbNearestIndex(0.375f, reversed), 1);
  // FP4's +0 (index 0) and −0 (index 8) tie for any tiny value: index 0.
  llvm::ArrayRef<float> fp4 = bnb4BitCodebook(Bnb4BitType::FP4);
  EXPECT_EQ(bnbNearestIndex(0.0f, fp4), 0);
  EXPECT_EQ(bnbNearestIndex(-0.0f, fp4), 0);
  EXPECT_EQ(bnbNearestIndex(-0.004f, fp4), 9); // −1/192 is nearer
  EXPECT_EQ(bnbNearestIndex(-1e-9f, fp4), 0);
  llvm::ArrayRef<float> nf4 = bnb4BitCodebook(Bnb4BitType::NF4);
  EXPECT_EQ(bnbNearestIndex(0.0f, nf4), 7);
  EXPECT_EQ(bnbNearestIndex(-1.0f, nf4), 0);
  EXPECT_EQ(bnbNearestIndex(1.0f, nf4), 15);
}

TEST(Bnb, PacksTheFirstElementInTheHighNibble) {
  // absmax 1: 1 -> 15, -1 -> 0, 0 -> 7, 0.5 -> 0.4407 (12, 0.059 away;
  // 0.5626 is 0.063 away).
  float w[] = {1.0f, -1.0f, 0.0f, 0.5f};
  Bnb4BitWeight q = quantizeBnb4Bit(w, 1, 4, Bnb4BitType::NF4, 64, false);
  EXPECT_EQ(q.packed, (std::vector<uint8_t>{0xF0, 0x7C}));
  ASSERT_EQ(q.absmax.size(), 1u);
  EXPECT_EQ(q.absmax[0], 1.0f);
}

TEST(Bnb, Nf4BlockByHand) {
  // One partial block, absmax 2: scaled 0.25, -1, 0.5, 0.05 -> indices 10
  // (0.2461), 0, 12 (0.4407), 8 (0.0796 is nearer than 0).
  float w[] = {0.5f, -2.0f, 1.0f, 0.1f};
  Bnb4BitWeight q = quantizeBnb4Bit(w, 2, 2, Bnb4BitType::NF4, 64, false);
  EXPECT_EQ(q.packed, (std::vector<uint8_t>{0xA0, 0xC8}));
  EXPECT_EQ(q.absmax, (std::vector<float>{2.0f}));
  std::vector<float> back = dequantizeBnb4Bit(q);
  EXPECT_EQ(back, (std::vector<float>{0.24611230194568634f * 2, -2.0f,
                                      0.44070982933044434f * 2,
                                      0.07958029955625534f * 2}));
}

TEST(Bnb, Fp4BlocksByHand) {
  // Two blocks of 64: the first spans [-4, 4], the second is all zero.
  std::vector<float> w(128, 0.0f);
  w[0] = 4.0f;   // 1 -> index 3
  w[1] = 1.8f;   // 0.45 -> 1/2, index 5
  w[2] = -2.0f;  // -1/2 -> index 13
  w[3] = 0.016f; // 0.004: 1/192 (index 1) is nearer than 0
  w[4] = -4.0f;  // index 11
  w[5] = 2.6f;   // 0.65 -> 2/3, index 2
  Bnb4BitWeight q = quantizeBnb4Bit(w.data(), 2, 64, Bnb4BitType::FP4, 64, false);
  ASSERT_EQ(q.packed.size(), 64u);
  EXPECT_EQ(q.packed[0], 0x35);
  EXPECT_EQ(q.packed[1], 0xD1);
  EXPECT_EQ(q.packed[2], 0xB2);
  EXPECT_EQ(q.packed[3], 0x00); // zeros -> index 0
  EXPECT_EQ(q.absmax, (std::vector<float>{4.0f, 0.0f}));
  // An all-zero block: index 0 everywhere, as the reference's argmin over
  // NaN gives; it decodes to 0.
  for (size_t i = 32; i < 64; ++i)
    EXPECT_EQ(q.packed[i], 0x00);
  std::vector<float> back = dequantizeBnb4Bit(q);
  EXPECT_EQ(back[0], 4.0f);
  EXPECT_EQ(back[1], 2.0f);  // 1/2 · 4
  EXPECT_EQ(back[2], -2.0f);
  EXPECT_EQ(back[3], (1.0f / 192.0f) * 4.0f);
  EXPECT_EQ(back[5], (8.0f / 12.0f) * 4.0f);
  for (size_t i = 64; i < 128; ++i)
    EXPECT_EQ(back[i], 0.0f);
}

TEST(Bnb, OddCountPadsWithTheIndexOfZero) {
  float w[] = {1.0f, 1.0f, 1.0f};
  Bnb4BitWeight nf4 = quantizeBnb4Bit(w, 1, 3, Bnb4BitType::NF4, 64, false);
  EXPECT_EQ(nf4.packed, (std::vector<uint8_t>{0xFF, 0xF7}));
  Bnb4BitWeight fp4 = quantizeBnb4Bit(w, 1, 3, Bnb4BitType::FP4, 64, false);
  EXPECT_EQ(fp4.packed, (std::vector<uint8_t>{0x33, 0x30}));
}

TEST(Bnb, RoundTripErrorIsHalfTheWidestGap) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> w(96 * 256);
  for (float &v : w)
    v = dist(rng);
  for (Bnb4BitType type : {Bnb4BitType::NF4, Bnb4BitType::FP4}) {
    Bnb4BitWeight q = quantizeBnb4Bit(w.data(), 96, 256, type, 128, false);
    ASSERT_EQ(q.numBlocks(), 192);
    std::vector<float> back = dequantizeBnb4Bit(q);
    // The widest gaps: NF4 −1 to −0.6962, FP4 2/3 to 1.
    float halfGap = type == Bnb4BitType::NF4 ? 0.1520f : 0.1667f;
    for (size_t i = 0; i < w.size(); ++i)
      ASSERT_LE(std::fabs(back[i] - w[i]), halfGap * q.absmax[i / 128] * 1.0001f)
          << "element " << i;
  }
}

TEST(Bnb, DoubleQuantLayoutAndError) {
  // 600 absmax values: nested blocks of 256 -> 3, offset = their mean.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(0.01f, 0.2f);
  std::vector<float> absmax(600);
  for (float &a : absmax)
    a = dist(rng);
  std::vector<uint8_t> codes;
  std::vector<float> nested;
  float offset = 0;
  doubleQuantizeAbsmax(absmax, codes, nested, offset);
  double sum = 0;
  for (float a : absmax)
    sum += a;
  EXPECT_EQ(offset, float(sum / 600));
  ASSERT_EQ(codes.size(), 600u);
  ASSERT_EQ(nested.size(), 3u);
  for (size_t j = 0; j < 3; ++j) {
    float amax = 0;
    for (size_t b = j * 256; b < std::min<size_t>(600, (j + 1) * 256); ++b)
      amax = std::max(amax, std::fabs(absmax[b] - offset));
    EXPECT_EQ(nested[j], amax) << "nested block " << j;
  }
  // The dynamic map's widest step is 0.9 / 64: every absmax comes back
  // within half of it, times its nested block's scale.
  Bnb4BitWeight w;
  w.blockSize = 64;
  w.rows = 600;
  w.cols = 64;
  w.doubleQuant = true;
  w.absmaxCodes = codes;
  w.nestedAbsmax = nested;
  w.offset = offset;
  std::vector<float> restored = bnbBlockAbsmax(w);
  ASSERT_EQ(restored.size(), 600u);
  for (size_t b = 0; b < 600; ++b)
    EXPECT_LE(std::fabs(restored[b] - absmax[b]),
              0.9f / 64 / 2 * nested[b / 256] * 1.001f)
        << "block " << b;
}

TEST(Bnb, DoubleQuantizedWeightStaysClose) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> w(300 * 128);
  for (float &v : w)
    v = dist(rng);
  Bnb4BitWeight plain = quantizeBnb4Bit(w.data(), 300, 128, Bnb4BitType::NF4, 64, false);
  Bnb4BitWeight nested = quantizeBnb4Bit(w.data(), 300, 128, Bnb4BitType::NF4, 64, true);
  EXPECT_EQ(plain.packed, nested.packed); // codes come from the fp32 absmax
  EXPECT_TRUE(nested.absmax.empty());
  EXPECT_EQ(nested.absmaxCodes.size(), 600u);
  EXPECT_EQ(nested.numNestedBlocks(), 3);
  std::vector<float> a = dequantizeBnb4Bit(plain), b = dequantizeBnb4Bit(nested);
  double err = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err += (a[i] - b[i]) * (a[i] - b[i]);
    ref += a[i] * a[i];
  }
  EXPECT_LT(std::sqrt(err / ref), 0.01);
}

TEST(Bnb, QuantStateJsonMatchesPythonJsonDumps) {
  Bnb4BitWeight w;
  w.type = Bnb4BitType::NF4;
  w.blockSize = 64;
  w.rows = 768;
  w.cols = 256;
  w.doubleQuant = true;
  w.offset = 0.0123f;
  // json.dumps({...}) of the fp32 offset read back as a Python float.
  EXPECT_EQ(bnbQuantStateJson(w, "bfloat16"),
            "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": "
            "\"bfloat16\", \"shape\": [768, 256], \"nested_blocksize\": 256, "
            "\"nested_dtype\": \"float32\", \"nested_offset\": "
            "0.012299999594688416}");
  w.type = Bnb4BitType::FP4;
  w.blockSize = 128;
  w.doubleQuant = false;
  EXPECT_EQ(bnbQuantStateJson(w, "float16"),
            "{\"quant_type\": \"fp4\", \"blocksize\": 128, \"dtype\": "
            "\"float16\", \"shape\": [768, 256]}");
}

TEST(Bnb, PythonFloatRepr) {
  EXPECT_EQ(pythonFloatRepr(0.1), "0.1");
  EXPECT_EQ(pythonFloatRepr(2.0), "2.0");
  EXPECT_EQ(pythonFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(pythonFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(pythonFloatRepr(1e-05), "1e-05");
  EXPECT_EQ(pythonFloatRepr(-2.5e-07), "-2.5e-07");
  EXPECT_EQ(pythonFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(pythonFloatRepr(1e16), "1e+16");
  EXPECT_EQ(pythonFloatRepr(123456789012345678.0), "1.2345678901234568e+17");
  EXPECT_EQ(pythonFloatRepr(double(0.05f)), "0.05000000074505806");
}

TEST(Bnb, BlockSizes) {
  for (int64_t b : {64, 128, 256, 512, 1024, 2048, 4096})
    EXPECT_TRUE(isValidBnbBlockSize(b)) << b;
  for (int64_t b : {0, 32, 96, 8192, -64})
    EXPECT_FALSE(isValidBnbBlockSize(b)) << b;
}

TEST(Bnb, SideFileRoundTrip) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("lowbit-bnb-test", dir));
  std::mt19937 rng(9);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> values(64 * 512);
  for (float &v : values)
    v = dist(rng);
  Bnb4BitWeight q = quantizeBnb4Bit(values.data(), 64, 512, Bnb4BitType::FP4, 128, true);
  SafetensorsWriter writer;
  writer.addTensor("w", DType::U8, {q.packedBytes(), 1}, q.packed);
  writer.addTensor("w.absmax", DType::U8, {q.numBlocks()}, q.absmaxCodes);
  writer.addTensor("w.nested_absmax", DType::F32, {q.numNestedBlocks()},
                   bytesOf(q.nestedAbsmax));
  writer.addTensor("w.nested_offset", DType::F32, {1}, bytesOf({q.offset}));
  llvm::SmallString<128> path(dir);
  llvm::sys::path::append(path, "side.safetensors");
  ASSERT_FALSE(bool(writer.write(path)));
  WeightStore store;
  ASSERT_FALSE(bool(store.addFile(path)));
  llvm::Expected<Bnb4BitWeight> back =
      readBnb4BitWeight(store, "w", Bnb4BitType::FP4, 128, 64, 512);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(dequantizeBnb4Bit(*back), dequantizeBnb4Bit(q));
  // A block size the file does not fit names the tensor and the shapes.
  llvm::Expected<Bnb4BitWeight> wrong =
      readBnb4BitWeight(store, "w", Bnb4BitType::FP4, 64, 64, 512);
  ASSERT_FALSE(bool(wrong));
  EXPECT_EQ(llvm::toString(wrong.takeError()),
            "fp4 weight 'w' needs a u8 [512] tensor 'w.absmax' in the weight "
            "store, found u8 [256]");
  llvm::sys::fs::remove_directories(dir);
}
