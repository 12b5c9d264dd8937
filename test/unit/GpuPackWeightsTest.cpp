//===- GpuPackWeightsTest.cpp - ggml blocks in the GPU layouts ------------===//
//
// Every ggml type a GPU artifact takes, packed by packGgmlForGpu and read
// back through the driver stand-in's reading of docs/gpu.md's layouts
// (gpu_kernel_emulation.h), gives the values ggml's own dequantizer gives;
// bitsandbytes' NF4 and FP4 packed as lut4 give theirs within the int8
// codebook's rounding; lut4's byte-permute look-up is the table look-up.
//
//===----------------------------------------------------------------------===//
#include "GpuPackWeights.h"
#include "gpu/GpuBlockFormats.h"
#include "gpu_kernel_emulation.h"

#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Quant/Bnb.h"
#include "lowbit/Quant/GgmlQuants.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace lowbit;
using mlir::lowbit::QuantFormat;

namespace {

struct Case {
  DType type;
  QuantFormat format;
  const char *layout;
};

class GpuPackWeights : public ::testing::TestWithParam<Case> {};

TEST_P(GpuPackWeights, ReadsBackGgmlsValues) {
  const Case c = GetParam();
  const int64_t rows = 8, cols = 512;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (float &v : values)
    v = normal(rng);
  values[3] = 0.3f; // an outlier, as real rows have
  const DTypeInfo &info = getDTypeInfo(c.type);
  const size_t rowBytes = size_t(cols / info.blockElems) * info.blockBytes;
  std::vector<uint8_t> blocks(rowBytes * rows);
  for (int64_t r = 0; r < rows; ++r)
    ASSERT_FALSE(bool(quantizeRow(c.type, values.data() + r * cols, blocks.data() + r * rowBytes, cols)));

  WeightEncoding enc;
  enc.quantized = true;
  enc.format = c.format;
  std::optional<GpuWeightFormat> format = gpuWeightFormatOf(enc);
  ASSERT_TRUE(format);
  EXPECT_EQ(gpuWeightFormatName(*format), c.layout);

  TensorRef t;
  t.name = "w";
  t.dtype = c.type;
  t.shape = {rows, cols};
  t.data = blocks.data();
  t.bytes = blocks.size();
  std::vector<uint8_t> packed;
  llvm::Error err = packGgmlForGpu(*format, t, rows, cols, "w.gguf", packed);
  ASSERT_FALSE(bool(err)) << llvm::toString(std::move(err));

  std::vector<float> want(static_cast<size_t>(cols));
  gpu_emulation::IntBlock blk;
  for (int64_t r = 0; r < rows; ++r) {
    dequantizeRow(c.type, blocks.data() + r * rowBytes, want.data(), cols);
    float scale = 0;
    for (float v : want)
      scale = std::max(scale, std::fabs(v));
    for (int64_t i = 0; i < cols; ++i) {
      gpu_emulation::readBlock(c.layout, packed.data(), rows, cols, r, i / 32, blk);
      float got = float(blk.q[i % 32]) * (i % 32 < 16 ? blk.s0 : blk.s1) +
                  (i % 32 < 16 ? blk.m : blk.m1);
      // One rounding apart at most: d·(q − 8) against d·q − 8d.
      ASSERT_NEAR(got, want[size_t(i)], 2e-7f * scale) << "row " << r << " value " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    GgmlTypes, GpuPackWeights,
    ::testing::Values(Case{DType::Q2_K, QuantFormat::Q2_K, "q2k"},
                      Case{DType::Q4_0, QuantFormat::Q4_0, "q4g32"},
                      Case{DType::Q4_1, QuantFormat::Q4_1, "q4g32"},
                      Case{DType::Q5_0, QuantFormat::Q5_0, "q5g32"},
                      Case{DType::Q5_1, QuantFormat::Q5_1, "q5g32"},
                      Case{DType::Q8_0, QuantFormat::Q8_0, "q8g32"},
                      Case{DType::Q3_K, QuantFormat::Q3_K, "q6k"},
                      Case{DType::Q4_K, QuantFormat::Q4_K, "q4k"},
                      Case{DType::Q5_K, QuantFormat::Q5_K, "q5k"},
                      Case{DType::Q6_K, QuantFormat::Q6_K, "q6k"}),
    [](const ::testing::TestParamInfo<Case> &info) {
      return std::string(getDTypeInfo(info.param.type).name);
    });

TEST(GpuPackWeights, RefusesAMismatchedOrShortTensor) {
  std::vector<uint8_t> blocks(34 * 4, 0);
  TensorRef t;
  t.name = "w";
  t.dtype = DType::Q8_0;
  t.shape = {1, 128};
  t.data = blocks.data();
  t.bytes = blocks.size();
  std::vector<uint8_t> out;
  llvm::Error wrong = packGgmlForGpu(GpuWeightFormat::Q4K, t, 1, 128, "m.gguf", out);
  ASSERT_TRUE(bool(wrong));
  EXPECT_NE(llvm::toString(std::move(wrong)).find("m.gguf: weight 'w' is stored as q8_0"),
            std::string::npos);
  t.bytes = 34 * 3;
  llvm::Error shortened = packGgmlForGpu(GpuWeightFormat::Q8G32, t, 1, 128, "m.gguf", out);
  ASSERT_TRUE(bool(shortened));
  EXPECT_NE(llvm::toString(std::move(shortened)).find("shorter than its shape needs"),
            std::string::npos);
}

} // namespace

namespace {

class GpuPackBnb : public ::testing::TestWithParam<Bnb4BitType> {};

TEST_P(GpuPackBnb, ReadsBackTheCodebookValues) {
  const Bnb4BitType type = GetParam();
  const int64_t rows = 8, cols = 256, blockSize = 64;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (float &v : values)
    v = normal(rng);
  values[5] = 0.4f;
  Bnb4BitWeight q = quantizeBnb4Bit(values.data(), rows, cols, type, blockSize, false);
  SafetensorsWriter writer;
  writer.addTensor("w", DType::U8, {q.packedBytes(), 1}, q.packed);
  std::vector<uint8_t> absmax(q.absmax.size() * 4);
  std::memcpy(absmax.data(), q.absmax.data(), absmax.size());
  writer.addTensor("w.absmax", DType::F32, {q.numBlocks()}, absmax);
  llvm::SmallString<128> dir, path;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("lowbit-gpu-bnb-test", dir));
  path = dir;
  llvm::sys::path::append(path, "side.safetensors");
  ASSERT_FALSE(bool(writer.write(path)));
  WeightStore store;
  ASSERT_FALSE(bool(store.addFile(path)));

  WeightEncoding enc;
  enc.quantized = true;
  enc.format = type == Bnb4BitType::FP4 ? QuantFormat::FP4 : QuantFormat::NF4;
  enc.bits = 4;
  enc.groupSize = blockSize;
  ASSERT_EQ(gpuWeightFormatOf(enc), GpuWeightFormat::Lut4);
  std::vector<uint8_t> packed;
  llvm::Error err = packBnb4BitForGpu(store, "w", enc, rows, cols, packed);
  ASSERT_FALSE(bool(err)) << llvm::toString(std::move(err));

  // Each value: d·table[code], the codebook value rounded to int8 at the
  // table's scale, so within half a step (absmax/scale/2) of bitsandbytes'
  // own value; a code or a scale out of place misses by far more.
  const std::vector<float> expected = dequantizeBnb4Bit(q);
  const float scale = int8Codebook(type == Bnb4BitType::FP4).scale;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < cols / 32; ++b) {
      gpu_emulation::IntBlock blk;
      gpu_emulation::readBlock("lut4", packed.data(), rows, cols, r, b, blk);
      for (int i = 0; i < 32; ++i) {
        const int64_t e = r * cols + b * 32 + i;
        const float step = q.absmax[size_t(e / blockSize)] / scale;
        EXPECT_NEAR(blk.s0 * float(blk.q[i]), expected[size_t(e)], 0.5f * step + 1e-9f)
            << "row " << r << " value " << b * 32 + i;
      }
    }
  llvm::sys::fs::remove_directories(dir);
}

INSTANTIATE_TEST_SUITE_P(Types, GpuPackBnb,
                         ::testing::Values(Bnb4BitType::NF4, Bnb4BitType::FP4),
                         [](const ::testing::TestParamInfo<Bnb4BitType> &info) {
                           return info.param == Bnb4BitType::FP4 ? std::string("FP4")
                                                                 : std::string("NF4");
                         });

/// PTX prmt.b32 without a mode, as the PTX ISA defines it.
uint32_t prmt(uint32_t a, uint32_t b, uint32_t c) {
  const uint64_t bytes = uint64_t(b) << 32 | a;
  uint32_t d = 0;
  for (int i = 0; i < 4; ++i) {
    const uint32_t sel = (c >> (4 * i)) & 15;
    uint32_t byte = uint32_t(bytes >> (8 * (sel & 7))) & 0xFF;
    if (sel & 8)
      byte = byte & 0x80 ? 0xFF : 0;
    d |= byte << (8 * i);
  }
  return d;
}

TEST(GpuLut4, BytePermutesLookUpTheTable) {
  // A table with distinct bytes, both signs, every 4 codes a word holds.
  uint8_t table[16];
  for (int i = 0; i < 16; ++i)
    table[i] = uint8_t(int8_t(i * 17 - 128 + (i & 1)));
  uint32_t t[4];
  std::memcpy(t, table, 16);
  for (uint32_t codes = 0; codes < (1u << 16); ++codes) {
    const uint32_t low = prmt(t[0], t[1], codes & kLut4Entry);
    const uint32_t high = prmt(t[2], t[3], codes & kLut4Entry);
    const uint32_t got = prmt(low, high, ((codes >> 1) & kLut4Half) | kLut4Bytes);
    uint32_t want = 0;
    for (int i = 0; i < 4; ++i)
      want |= uint32_t(table[(codes >> (4 * i)) & 15]) << (8 * i);
    ASSERT_EQ(got, want) << "codes 0x" << std::hex << codes;
  }
}

} // namespace
