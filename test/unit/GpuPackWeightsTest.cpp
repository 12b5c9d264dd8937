//===- GpuPackWeightsTest.cpp - ggml blocks in the GPU layouts ------------===//
//
// Every ggml type a GPU artifact takes, packed by packGgmlForGpu and read
// back through the driver stand-in's reading of docs/gpu.md's layouts
// (gpu_kernel_emulation.h), gives the values ggml's own dequantizer gives.
//
//===----------------------------------------------------------------------===//
#include "GpuPackWeights.h"
#include "gpu_kernel_emulation.h"

#include "lowbit/Quant/GgmlQuants.h"

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
