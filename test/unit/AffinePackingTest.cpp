//===- AffinePackingTest.cpp - GPTQ and AWQ bit layouts -------------------===//
//
// Pack/unpack round trips, words whose values formats.md states, and a
// dequantizer written from formats.md §5/§6 (not calling our unpackers)
// that must read our encoded tensors as the weights they came from.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Formats/AffinePacking.h"
#include "lowbit/Quant/Affine.h"
#include "lowbit/Support/Float16.h"

#include <gtest/gtest.h>

#include <random>

using namespace llvm;
using namespace lowbit;

namespace {

/// A random affine weight whose scales are fp16 values, so every encoding
/// is exact.
AffineWeight randomWeight(int64_t rows, int64_t cols, int bits,
                          int64_t groupSize, bool symmetric, bool actOrder,
                          uint32_t seed) {
  std::mt19937 rng(seed);
  AffineWeight w;
  w.rows = rows;
  w.cols = cols;
  w.bits = bits;
  w.groupSize = groupSize;
  int maxq = (1 << bits) - 1;
  std::uniform_int_distribution<int> code(0, maxq), zero(1, maxq);
  std::uniform_real_distribution<float> scale(1e-4f, 0.05f);
  w.codes.resize(size_t(rows * cols));
  for (uint8_t &c : w.codes)
    c = uint8_t(code(rng));
  int64_t groups = w.groups();
  for (int64_t i = 0; i < rows * groups; ++i) {
    w.scales.push_back(fp16ToFloat(floatToFp16(scale(rng))));
    w.zeros.push_back(symmetric ? float(1 << (bits - 1)) : float(zero(rng)));
  }
  if (actOrder) {
    // GPTQ act-order: groups in a permuted processing order.
    std::vector<int32_t> perm(static_cast<size_t>(cols));
    for (int64_t k = 0; k < cols; ++k)
      perm[k] = int32_t(k);
    std::shuffle(perm.begin(), perm.end(), rng);
    w.gIdx.resize(size_t(cols));
    for (int64_t pos = 0; pos < cols; ++pos)
      w.gIdx[perm[pos]] = int32_t(groupSize < 0 ? 0 : pos / groupSize);
  }
  return w;
}

std::vector<float> dequantizeReference(const AffineWeight &w) {
  std::vector<float> out(size_t(w.rows * w.cols));
  int64_t groups = w.groups();
  for (int64_t n = 0; n < w.rows; ++n)
    for (int64_t k = 0; k < w.cols; ++k) {
      int64_t j = n * groups + w.groupOf(k);
      out[n * w.cols + k] = w.scales[j] * (float(w.codes[n * w.cols + k]) - w.zeros[j]);
    }
  return out;
}

/// Reads `bits` bits at bit offset `pos` of a little-endian string of words.
uint32_t bitField(const uint32_t *words, int64_t pos, int bits) {
  uint64_t lo = words[pos / 32];
  uint64_t hi = (pos % 32 + bits > 32) ? uint64_t(words[pos / 32 + 1]) << 32 : 0;
  return uint32_t(((lo | hi) >> (pos % 32)) & ((1u << bits) - 1));
}

/// formats.md §5: W[n, k] = scales[g, n] · (q[k, n] − zero[g, n]),
/// g = g_idx[k]; v1 stores zero − 1.
std::vector<float> dequantizeGptqFromSpec(const GptqTensors &t, int64_t n,
                                          int64_t k, int bits, bool v1) {
  int64_t packedN = n / 32 * bits;
  std::vector<float> out(size_t(n * k));
  for (int64_t col = 0; col < n; ++col)
    for (int64_t row = 0; row < k; ++row) {
      uint32_t q, z;
      int64_t g = t.gIdx[row];
      if (bits == 3) {
        // Rows 3m..3m+2 of one column: a 96-bit string holding k = 32m + t
        // at bits 3t.
        int64_t m = row / 32, i = row % 32;
        uint32_t words[3] = {uint32_t(t.qweight[(3 * m) * n + col]),
                             uint32_t(t.qweight[(3 * m + 1) * n + col]),
                             uint32_t(t.qweight[(3 * m + 2) * n + col])};
        q = bitField(words, 3 * i, 3);
        int64_t mz = col / 32, iz = col % 32;
        uint32_t zw[3] = {uint32_t(t.qzeros[g * packedN + 3 * mz]),
                          uint32_t(t.qzeros[g * packedN + 3 * mz + 1]),
                          uint32_t(t.qzeros[g * packedN + 3 * mz + 2])};
        z = bitField(zw, 3 * iz, 3);
      } else {
        // Word [r, col] holds k = r·(32/bits) + i at bit offset bits·i.
        int per = 32 / bits;
        uint32_t word = uint32_t(t.qweight[(row / per) * n + col]);
        q = (word >> (bits * (row % per))) & ((1u << bits) - 1);
        uint32_t zword = uint32_t(t.qzeros[g * packedN + col / per]);
        z = (zword >> (bits * (col % per))) & ((1u << bits) - 1);
      }
      float zero = float(z) + (v1 ? 1.0f : 0.0f);
      float scale = fp16ToFloat(t.scales[g * n + col]);
      out[col * k + row] = scale * (float(q) - zero);
    }
  return out;
}

/// formats.md §6: column 8c + j sits in nibble REV[j] of word [k, c].
std::vector<float> dequantizeAwqFromSpec(const AwqTensors &t, int64_t n,
                                         int64_t k, int64_t groupSize) {
  static const int kRev[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  std::vector<float> out(size_t(n * k));
  for (int64_t row = 0; row < k; ++row)
    for (int64_t col = 0; col < n; ++col) {
      int64_t g = groupSize < 0 ? 0 : row / groupSize;
      int shift = 4 * kRev[col % 8];
      uint32_t q = (uint32_t(t.qweight[row * (n / 8) + col / 8]) >> shift) & 15;
      uint32_t z = (uint32_t(t.qzeros[g * (n / 8) + col / 8]) >> shift) & 15;
      out[col * k + row] = fp16ToFloat(t.scales[g * n + col]) * (float(q) - float(z));
    }
  return out;
}

} // namespace

TEST(AffinePacking, GptqBlockRoundTrip) {
  std::mt19937 rng(3);
  for (int bits : {2, 3, 4, 8}) {
    std::uniform_int_distribution<int> code(0, (1 << bits) - 1);
    for (int trial = 0; trial < 50; ++trial) {
      uint8_t codes[32], back[32];
      uint32_t words[8];
      for (uint8_t &c : codes)
        c = uint8_t(code(rng));
      packGptqBlock(codes, bits, words);
      unpackGptqBlock(words, bits, back);
      ASSERT_EQ(std::vector<uint8_t>(codes, codes + 32),
                std::vector<uint8_t>(back, back + 32))
          << bits << " bits";
    }
  }
}

TEST(AffinePacking, GptqMatrixRoundTrip) {
  std::mt19937 rng(5);
  for (int bits : {2, 3, 4, 8}) {
    const int64_t rows = 64, cols = 96, groups = 3;
    std::uniform_int_distribution<int> code(0, (1 << bits) - 1);
    std::vector<uint8_t> codes(rows * cols), fields(groups * rows);
    for (uint8_t &c : codes)
      c = uint8_t(code(rng));
    for (uint8_t &f : fields)
      f = uint8_t(code(rng));
    std::vector<int32_t> qweight = packGptqWeight(codes, rows, cols, bits);
    ASSERT_EQ(int64_t(qweight.size()), cols / 32 * bits * rows);
    EXPECT_EQ(unpackGptqWeight(qweight, rows, cols, bits), codes);
    std::vector<int32_t> qzeros = packGptqZeros(fields, groups, rows, bits);
    ASSERT_EQ(int64_t(qzeros.size()), groups * rows / 32 * bits);
    EXPECT_EQ(unpackGptqZeros(qzeros, groups, rows, bits), fields);
  }
}

TEST(AffinePacking, AwqRoundTripAndOrder) {
  // Column 8c + j holds value j: nibbles in ORDER [0, 2, 4, 6, 1, 3, 5, 7].
  std::vector<uint8_t> values(16);
  for (int i = 0; i < 16; ++i)
    values[i] = uint8_t(i % 8);
  std::vector<int32_t> words = packAwq(values, 1, 16);
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(uint32_t(words[0]), 0x75316420u);
  EXPECT_EQ(uint32_t(words[1]), 0x75316420u);
  EXPECT_EQ(unpackAwq(words, 1, 16), values);

  std::mt19937 rng(9);
  std::uniform_int_distribution<int> nibble(0, 15);
  std::vector<uint8_t> random(5 * 64);
  for (uint8_t &v : random)
    v = uint8_t(nibble(rng));
  EXPECT_EQ(unpackAwq(packAwq(random, 5, 64), 5, 64), random);
}

TEST(AffinePacking, SymmetricZeroWords) {
  // formats.md §5.4: symmetric zero 2^(bits-1) stored as v1 = zero - 1 or
  // v2 = zero, every field of the word alike.
  struct Case {
    int bits;
    uint32_t v1, v2;
  } cases[] = {{2, 0x55555555u, 0xAAAAAAAAu},
               {4, 0x77777777u, 0x88888888u},
               {8, 0x7F7F7F7Fu, 0x80808080u}};
  for (const Case &c : cases) {
    AffineWeight w = randomWeight(32, 64, c.bits, 32, /*symmetric=*/true,
                                  /*actOrder=*/false, 1);
    Expected<GptqTensors> v1 = encodeGptq(w, GptqZeroFormat::V1);
    Expected<GptqTensors> v2 = encodeGptq(w, GptqZeroFormat::V2);
    ASSERT_TRUE(bool(v1)) << toString(v1.takeError());
    ASSERT_TRUE(bool(v2)) << toString(v2.takeError());
    for (int32_t word : v1->qzeros)
      EXPECT_EQ(uint32_t(word), c.v1) << c.bits << " bits";
    for (int32_t word : v2->qzeros)
      EXPECT_EQ(uint32_t(word), c.v2) << c.bits << " bits";
  }
}

TEST(AffinePacking, ThreeBitCodesStraddleWords) {
  // Code 10: bits 30-31 of word 0 and bit 0 of word 1; code 21: bit 31 of
  // word 1 and bits 0-1 of word 2.
  uint8_t codes[32] = {};
  uint32_t words[3];
  codes[10] = 7;
  packGptqBlock(codes, 3, words);
  EXPECT_EQ(words[0], 0xC0000000u);
  EXPECT_EQ(words[1], 0x00000001u);
  EXPECT_EQ(words[2], 0u);
  codes[10] = 0;
  codes[21] = 7;
  packGptqBlock(codes, 3, words);
  EXPECT_EQ(words[0], 0u);
  EXPECT_EQ(words[1], 0x80000000u);
  EXPECT_EQ(words[2], 0x00000003u);
  // Field starts: word 0 {0, 3, ..., 30}, word 1 {1, 4, ..., 31}, word 2
  // {2, 5, ..., 29}: code 11 starts at bit 1 of word 1, code 22 at bit 2 of
  // word 2, code 31 at bit 29 of word 2.
  codes[21] = 0;
  codes[11] = 1;
  codes[22] = 1;
  codes[31] = 1;
  packGptqBlock(codes, 3, words);
  EXPECT_EQ(words[0], 0u);
  EXPECT_EQ(words[1], 1u << 1);
  EXPECT_EQ(words[2], (1u << 2) | (1u << 29));
}

TEST(AffinePacking, GptqMatchesSpecDequantizer) {
  for (int bits : {2, 3, 4, 8})
    for (bool symmetric : {false, true})
      for (bool actOrder : {false, true})
        for (GptqZeroFormat format : {GptqZeroFormat::V1, GptqZeroFormat::V2}) {
          AffineWeight w = randomWeight(64, 128, bits, 32, symmetric, actOrder,
                                        uint32_t(bits * 8 + symmetric * 4 + actOrder * 2));
          Expected<GptqTensors> t = encodeGptq(w, format);
          ASSERT_TRUE(bool(t)) << toString(t.takeError());
          EXPECT_EQ(t->roundedScales, 0);
          std::vector<float> spec = dequantizeGptqFromSpec(
              *t, w.rows, w.cols, bits, format == GptqZeroFormat::V1);
          EXPECT_EQ(spec, dequantizeReference(w))
              << bits << " bits, sym " << symmetric << ", act-order " << actOrder;

          // Decoding gives back the very codes, scales, zeros and g_idx.
          std::vector<float> scales(t->scales.size());
          for (size_t i = 0; i < scales.size(); ++i)
            scales[i] = fp16ToFloat(t->scales[i]);
          Expected<AffineWeight> back =
              decodeGptq(t->qweight, t->qzeros, scales, t->gIdx, w.rows, w.cols,
                         bits, w.groupSize, format);
          ASSERT_TRUE(bool(back)) << toString(back.takeError());
          EXPECT_EQ(back->codes, w.codes);
          EXPECT_EQ(back->scales, w.scales);
          EXPECT_EQ(back->zeros, w.zeros);
          EXPECT_EQ(back->gIdx, w.gIdx); // empty when contiguous

          // And lowbit's own dequantizer agrees.
          std::vector<float> ours(size_t(w.rows * w.cols));
          dequantizeAffine(back->codes.data(), back->scales.data(),
                           back->zeros.data(), w.rows, w.cols, w.groupSize,
                           ours.data(),
                           back->gIdx.empty() ? nullptr : back->gIdx.data());
          EXPECT_EQ(ours, spec);
        }
}

TEST(AffinePacking, GptqPerChannelGroup) {
  AffineWeight w = randomWeight(32, 64, 4, -1, false, false, 11);
  Expected<GptqTensors> t = encodeGptq(w, GptqZeroFormat::V2);
  ASSERT_TRUE(bool(t)) << toString(t.takeError());
  EXPECT_EQ(t->scales.size(), 32u);
  EXPECT_EQ(t->gIdx, std::vector<int32_t>(64, 0));
  EXPECT_EQ(dequantizeGptqFromSpec(*t, 32, 64, 4, false), dequantizeReference(w));
}

TEST(AffinePacking, AwqMatchesSpecDequantizer) {
  for (bool symmetric : {false, true}) {
    AffineWeight w = randomWeight(48, 128, 4, 64, symmetric, false, 21);
    w.zeros[3] = 0; // AWQ stores zeros as they are: 0 is fine
    Expected<AwqTensors> t = encodeAwq(w);
    ASSERT_TRUE(bool(t)) << toString(t.takeError());
    EXPECT_EQ(dequantizeAwqFromSpec(*t, w.rows, w.cols, w.groupSize),
              dequantizeReference(w));
    std::vector<float> scales(t->scales.size());
    for (size_t i = 0; i < scales.size(); ++i)
      scales[i] = fp16ToFloat(t->scales[i]);
    Expected<AffineWeight> back =
        decodeAwq(t->qweight, t->qzeros, scales, w.rows, w.cols, w.groupSize);
    ASSERT_TRUE(bool(back)) << toString(back.takeError());
    EXPECT_EQ(back->codes, w.codes);
    EXPECT_EQ(back->scales, w.scales);
    EXPECT_EQ(back->zeros, w.zeros);
  }
}

TEST(AffinePacking, RefusesWhatTheFormatsCannotHold) {
  AffineWeight w = randomWeight(32, 64, 4, 32, false, false, 2);
  w.zeros[5] = 0;
  Expected<GptqTensors> v1 = encodeGptq(w, GptqZeroFormat::V1);
  ASSERT_FALSE(bool(v1));
  EXPECT_NE(toString(v1.takeError()).find("zero point 0"), std::string::npos);
  EXPECT_TRUE(bool(encodeGptq(w, GptqZeroFormat::V2)));

  AffineWeight three = randomWeight(32, 64, 3, 32, false, false, 2);
  Expected<AwqTensors> awq3 = encodeAwq(three);
  ASSERT_FALSE(bool(awq3));
  EXPECT_NE(toString(awq3.takeError()).find("4-bit"), std::string::npos);

  AffineWeight act = randomWeight(32, 64, 4, 32, false, true, 2);
  Expected<AwqTensors> awqAct = encodeAwq(act);
  ASSERT_FALSE(bool(awqAct));
  EXPECT_NE(toString(awqAct.takeError()).find("g_idx"), std::string::npos);

  AffineWeight narrow = randomWeight(24, 64, 4, 32, false, false, 2);
  Expected<GptqTensors> g = encodeGptq(narrow, GptqZeroFormat::V2);
  ASSERT_FALSE(bool(g));
  EXPECT_NE(toString(g.takeError()).find("multiples of 32"), std::string::npos);

  AffineWeight big = randomWeight(32, 64, 2, 32, false, false, 2);
  big.codes[7] = 4;
  Expected<GptqTensors> b = encodeGptq(big, GptqZeroFormat::V2);
  ASSERT_FALSE(bool(b));
  EXPECT_NE(toString(b.takeError()).find("does not fit 2 bits"), std::string::npos);

  AffineWeight half = randomWeight(32, 64, 4, 32, false, false, 2);
  half.zeros[0] = 2.5f;
  Expected<AwqTensors> h = encodeAwq(half);
  ASSERT_FALSE(bool(h));
  EXPECT_NE(toString(h.takeError()).find("not an integer"), std::string::npos);
}

TEST(AffinePacking, CountsScalesRoundedToFp16) {
  AffineWeight w = randomWeight(32, 64, 4, 32, false, false, 4);
  w.scales[0] = 0.1f; // not an fp16 value
  Expected<GptqTensors> t = encodeGptq(w, GptqZeroFormat::V2);
  ASSERT_TRUE(bool(t));
  EXPECT_EQ(t->roundedScales, 1);
}

TEST(AffinePacking, DecodeRejectsBadGIdx) {
  AffineWeight w = randomWeight(32, 64, 4, 32, false, false, 6);
  Expected<GptqTensors> t = encodeGptq(w, GptqZeroFormat::V2);
  ASSERT_TRUE(bool(t));
  t->gIdx[3] = 2; // only groups 0 and 1 exist
  std::vector<float> scales(t->scales.size(), 1.0f);
  Expected<AffineWeight> back = decodeGptq(t->qweight, t->qzeros, scales, t->gIdx,
                                           32, 64, 4, 32, GptqZeroFormat::V2);
  ASSERT_FALSE(bool(back));
  EXPECT_NE(toString(back.takeError()).find("g_idx[3] = 2"), std::string::npos);
}
