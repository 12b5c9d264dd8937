//===- LlmInt8Test.cpp - LLM.int8() numerics and their execution ----------===//
//
// The vector-wise int8 quantizer (Quant/Int8Row.h) against hand-worked
// values, and the interpreter running the --lowbit-llm-int8 decomposition
// (split_columns, int8_row linear, f16 outlier linear, add) against the
// int8 × int8 product computed exactly in int32.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Interpreter/Interpreter.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Quant/Int8Row.h"
#include "lowbit/Support/Float16.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace lowbit;

namespace {

TEST(Int8Row, WeightCodesAndScales) {
  // Row 0: SCB = 4, codes 127/4 · w = 31.75, -63.5, 15.875, 127 (the tie
  // -63.5 rounds to even). Row 1: all zero.
  const float w[] = {1, -2, 0.5f, 4, 0, 0, 0, 0};
  Int8RowTensor t = quantizeInt8Rows(w, 2, 4);
  EXPECT_EQ(t.scales, (std::vector<float>{4, 0}));
  EXPECT_EQ(t.codes, (std::vector<int8_t>{32, -64, 16, 127, 0, 0, 0, 0}));

  std::vector<float> back(8);
  dequantizeInt8Rows(t.codes.data(), t.scales.data(), 2, 4, back.data());
  EXPECT_FLOAT_EQ(back[0], 32 * 4 / 127.0f);
  EXPECT_FLOAT_EQ(back[1], -64 * 4 / 127.0f);
  EXPECT_FLOAT_EQ(back[3], 4.0f);
  EXPECT_EQ(back[4], 0.0f);
}

TEST(Int8Row, TiesRoundToEven) {
  // absmax 127: the codes are the values rounded, ties to even.
  const float w[] = {127, 62.5f, -0.5f, 1.5f, -2.5f};
  Int8RowTensor t = quantizeInt8Rows(w, 1, 5);
  EXPECT_EQ(t.codes, (std::vector<int8_t>{127, 62, 0, 2, -2}));
}

TEST(Int8Row, ActivationRowsOnTheirOwnGrid) {
  std::vector<float> x = {127, 62.5f, 0.5f, -3, // absmax 127: round
                          0, 0, 0, 0,           // zero row stays zero
                          2, 1, -0.5f, 0.25f};  // absmax 2: step 2/127
  fakeQuantizeInt8Rows(x.data(), 3, 4);
  EXPECT_EQ(x[0], 127);
  EXPECT_EQ(x[1], 62);
  EXPECT_EQ(x[2], 0);
  EXPECT_EQ(x[3], -3);
  for (int i = 4; i < 8; ++i)
    EXPECT_EQ(x[size_t(i)], 0.0f);
  float step = 2.0f / 127;
  EXPECT_FLOAT_EQ(x[8], 2);
  EXPECT_FLOAT_EQ(x[9], 64 * step);  // 63.5 → 64
  EXPECT_FLOAT_EQ(x[10], -32 * step); // -31.75 → -32
  EXPECT_FLOAT_EQ(x[11], 16 * step);  // 15.875 → 16
}

TEST(Int8Row, FakeQuantizedProductIsTheInt8Product) {
  // Dequantized weights times fake-quantized rows (what the interpreter
  // computes) equal the int32 product rescaled by absmax · SCB / 127².
  const int64_t rows = 5, k = 96, n = 7;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> x(size_t(rows * k)), w(size_t(n * k));
  for (float &v : x)
    v = normal(rng);
  for (float &v : w)
    v = 0.1f * normal(rng);
  Int8RowTensor q = quantizeInt8Rows(w.data(), n, k);
  std::vector<float> exact(size_t(rows * n));
  int8RowMatmulReference(x.data(), rows, k, q, n, exact.data());

  std::vector<float> wd(size_t(n * k)), xq = x;
  dequantizeInt8Rows(q.codes.data(), q.scales.data(), n, k, wd.data());
  fakeQuantizeInt8Rows(xq.data(), rows, k);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      double sum = 0;
      for (int64_t c = 0; c < k; ++c)
        sum += double(xq[size_t(r * k + c)]) * wd[size_t(o * k + c)];
      EXPECT_NEAR(sum, exact[size_t(r * n + o)], 1e-5);
    }
}

class TempDir {
public:
  TempDir() {
    std::error_code ec = llvm::sys::fs::createUniqueDirectory("lowbit-int8", dir);
    EXPECT_FALSE(ec) << ec.message();
  }
  ~TempDir() { llvm::sys::fs::remove_directories(dir); }
  std::string path(llvm::StringRef name) const {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }

private:
  llvm::SmallString<256> dir;
};

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

/// The IR --lowbit-llm-int8 emits, on a [4, 16] embedding table whose rows
/// are the activations, with outlier columns 2 and 9 (and, for comparison,
/// the plain int8 linear).
constexpr const char *kDecomposed = R"mlir(
module {
  func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x6xf32> {
    %table = lowbit.weight "x" : tensor<4x16xf32>
    %x = lowbit.embedding %tokens, %table : (tensor<?xi32>, tensor<4x16xf32>) -> tensor<?x16xf32>
    %w8 = lowbit.weight "w" : !lowbit.qweight<6x16, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1, symmetric = true, act_order = false>>
    %w16 = lowbit.weight "w.outliers" : tensor<6x2xf16>
    %inl, %out = lowbit.split_columns %x {columns = array<i64: 2, 9>} : (tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x2xf32>)
    %a = lowbit.linear %inl, %w8 : (tensor<?x16xf32>, !lowbit.qweight<6x16, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1, symmetric = true, act_order = false>>) -> tensor<?x6xf32>
    %b = lowbit.linear %out, %w16 : (tensor<?x2xf32>, tensor<6x2xf16>) -> tensor<?x6xf32>
    %y = lowbit.add %a, %b : (tensor<?x6xf32>, tensor<?x6xf32>) -> tensor<?x6xf32>
    return %y : tensor<?x6xf32>
  }
}
)mlir";

constexpr const char *kPlain = R"mlir(
module {
  func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x6xf32> {
    %table = lowbit.weight "x" : tensor<4x16xf32>
    %x = lowbit.embedding %tokens, %table : (tensor<?xi32>, tensor<4x16xf32>) -> tensor<?x16xf32>
    %w8 = lowbit.weight "w" : !lowbit.qweight<6x16, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1, symmetric = true, act_order = false>>
    %y = lowbit.linear %x, %w8 : (tensor<?x16xf32>, !lowbit.qweight<6x16, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1, symmetric = true, act_order = false>>) -> tensor<?x6xf32>
    return %y : tensor<?x6xf32>
  }
}
)mlir";

struct Int8Fixture {
  static constexpr int64_t kRows = 4, kK = 16, kN = 6;
  const std::vector<int64_t> outlierColumns = {2, 9};
  std::vector<float> x, w;
  Int8RowTensor q;
  std::vector<uint16_t> outlierHalf; // [N, 2]

  Int8Fixture() {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0, 1);
    x.resize(size_t(kRows * kK));
    w.resize(size_t(kN * kK));
    for (float &v : x)
      v = normal(rng);
    for (float &v : w)
      v = 0.2f * normal(rng);
    // Systematic outliers in the two columns, as LLM.int8() finds them.
    for (int64_t r = 0; r < kRows; ++r) {
      x[size_t(r * kK + 2)] = 20.0f + float(r);
      x[size_t(r * kK + 9)] = -35.0f + float(r);
    }
    q = quantizeInt8Rows(w.data(), kN, kK);
    for (int64_t o = 0; o < kN; ++o)
      for (int64_t c : outlierColumns)
        outlierHalf.push_back(floatToFp16(float(q.codes[size_t(o * kK + c)]) *
                                          (q.scales[size_t(o)] / 127.0f)));
  }

  llvm::Error write(const std::string &path) const {
    SafetensorsWriter writer;
    writer.addTensor("x", DType::F32, {kRows, kK}, bytesOf(x));
    writer.addTensor("w", DType::I8, {kN, kK}, bytesOf(q.codes));
    writer.addTensor("w.scb", DType::F32, {kN}, bytesOf(q.scales));
    writer.addTensor("w.outliers", DType::F16, {kN, 2}, bytesOf(outlierHalf));
    return writer.write(path);
  }
};

/// Runs @forward of `source` on tokens 0..3 with the fixture's weights.
llvm::Expected<Activation> runModule(const char *source, const std::string &weightsPath) {
  mlir::DialectRegistry registry;
  registerModelDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  if (!module)
    return llvm::createStringError("cannot parse the test module");
  WeightStore weights;
  if (llvm::Error e = weights.addFile(weightsPath))
    return std::move(e);
  auto interp = Interpreter::create(*module, weights);
  if (!interp)
    return interp.takeError();
  std::vector<int32_t> tokens = {0, 1, 2, 3}, positions = {0, 1, 2, 3};
  return (*interp)->forward(tokens, positions);
}

TEST(LlmInt8Execution, DecompositionMatchesInt8PlusOutliers) {
  Int8Fixture f;
  TempDir dir;
  ASSERT_FALSE(bool(f.write(dir.path("w.safetensors"))));
  llvm::Expected<Activation> y = runModule(kDecomposed, dir.path("w.safetensors"));
  ASSERT_TRUE(bool(y)) << llvm::toString(y.takeError());
  ASSERT_EQ(y->rows, Int8Fixture::kRows);
  ASSERT_EQ(y->cols, Int8Fixture::kN);

  // int8 part: the rows without the outlier columns, quantized on their own
  // (small) absmax; 16-bit part: the outlier columns times the f16 weights.
  const int64_t k = Int8Fixture::kK, n = Int8Fixture::kN;
  std::vector<float> inliers = f.x;
  for (int64_t r = 0; r < Int8Fixture::kRows; ++r)
    for (int64_t c : f.outlierColumns)
      inliers[size_t(r * k + c)] = 0;
  std::vector<float> expected(size_t(Int8Fixture::kRows * n));
  int8RowMatmulReference(inliers.data(), Int8Fixture::kRows, k, f.q, n,
                         expected.data());
  for (int64_t r = 0; r < Int8Fixture::kRows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      double outlierPart = 0;
      for (size_t i = 0; i < f.outlierColumns.size(); ++i)
        outlierPart += double(f.x[size_t(r * k + f.outlierColumns[i])]) *
                       fp16ToFloat(f.outlierHalf[size_t(o * 2) + i]);
      EXPECT_NEAR(y->row(r)[o], expected[size_t(r * n + o)] + outlierPart, 1e-4)
          << "row " << r << ", output " << o;
    }
}

TEST(LlmInt8Execution, PlainInt8LinearQuantizesActivations) {
  Int8Fixture f;
  TempDir dir;
  ASSERT_FALSE(bool(f.write(dir.path("w.safetensors"))));
  llvm::Expected<Activation> y = runModule(kPlain, dir.path("w.safetensors"));
  ASSERT_TRUE(bool(y)) << llvm::toString(y.takeError());
  const int64_t k = Int8Fixture::kK, n = Int8Fixture::kN;
  std::vector<float> exact(size_t(Int8Fixture::kRows * n));
  int8RowMatmulReference(f.x.data(), Int8Fixture::kRows, k, f.q, n, exact.data());
  std::vector<float> wd(size_t(n * k));
  dequantizeInt8Rows(f.q.codes.data(), f.q.scales.data(), n, k, wd.data());
  double maxFromFloat = 0;
  for (int64_t r = 0; r < Int8Fixture::kRows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      EXPECT_NEAR(y->row(r)[o], exact[size_t(r * n + o)], 1e-4);
      double floatActivations = 0;
      for (int64_t c = 0; c < k; ++c)
        floatActivations += double(f.x[size_t(r * k + c)]) * wd[size_t(o * k + c)];
      maxFromFloat = std::max(maxFromFloat,
                              std::fabs(floatActivations - y->row(r)[o]));
    }
  // With outliers of 20-35 in every row, the other inputs lose most of
  // their precision on the int8 grid: visibly not the fp32 product.
  EXPECT_GT(maxFromFloat, 1e-2);
}

TEST(LlmInt8Execution, MissingScalesAreAnError) {
  Int8Fixture f;
  TempDir dir;
  SafetensorsWriter writer;
  writer.addTensor("x", DType::F32, {Int8Fixture::kRows, Int8Fixture::kK},
                   bytesOf(f.x));
  writer.addTensor("w", DType::I8, {Int8Fixture::kN, Int8Fixture::kK},
                   bytesOf(f.q.codes));
  ASSERT_FALSE(bool(writer.write(dir.path("w.safetensors"))));
  llvm::Expected<Activation> y = runModule(kPlain, dir.path("w.safetensors"));
  ASSERT_FALSE(bool(y));
  EXPECT_EQ(llvm::toString(y.takeError()),
            "int8_row weight 'w' needs an f32 tensor 'w.scb' of shape [6] in "
            "the weight store");
}

} // namespace
