//===- GgufBudgetTest.cpp - Size-budgeted GGUF mixes ----------------------===//
#include "lowbit/Quant/GgufBudget.h"
#include "lowbit/Quant/GgmlQuantize.h"
#include "lowbit/Quant/GgmlQuants.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace lowbit;

namespace {

std::string errorOf(llvm::Error e) { return llvm::toString(std::move(e)); }

TEST(GgufBudget, ParsesTheThreeSpellings) {
  llvm::Expected<GgufBudget> bpw = parseGgufBudget("4.85");
  ASSERT_TRUE(bool(bpw));
  EXPECT_EQ(bpw->kind, GgufBudget::Kind::BitsPerWeight);
  EXPECT_DOUBLE_EQ(bpw->bitsPerWeight, 4.85);
  llvm::Expected<GgufBudget> bytes = parseGgufBudget("17104192B");
  ASSERT_TRUE(bool(bytes));
  EXPECT_EQ(bytes->kind, GgufBudget::Kind::Bytes);
  EXPECT_EQ(bytes->bytes, 17104192u);
  llvm::Expected<GgufBudget> mix = parseGgufBudget("Q4_K_M");
  ASSERT_TRUE(bool(mix));
  EXPECT_EQ(mix->kind, GgufBudget::Kind::FileType);
  EXPECT_EQ(mix->fileType, "q4_k_m");

  for (const char *bad : {"", "abc", "0B", "12xB", "1.5", "9", "nan"}) {
    llvm::Expected<GgufBudget> b = parseGgufBudget(bad);
    ASSERT_FALSE(bool(b)) << bad;
    std::string e = errorOf(b.takeError());
    EXPECT_EQ(e.find("budget '" + std::string(bad) + "': "), 0u) << e;
  }
}

TEST(GgufBudget, CandidatesAndPaddedBytes) {
  EXPECT_EQ(budgetCandidateTypes(512),
            (std::vector<DType>{DType::Q2_K, DType::Q3_K, DType::Q4_K,
                                DType::Q5_K, DType::Q6_K, DType::Q8_0}));
  EXPECT_EQ(budgetCandidateTypes(96), std::vector<DType>{DType::Q8_0});
  EXPECT_TRUE(budgetCandidateTypes(100).empty());
  // 3 rows of one 144-byte Q4_K block, padded to 32 bytes.
  EXPECT_EQ(paddedGgufTensorBytes(DType::Q4_K, {3, 256}), 448u);
  EXPECT_EQ(paddedGgufTensorBytes(DType::Q6_K, {512, 512}), 512u * 420u);
}

/// The exact optimum by enumeration.
double bruteForce(const std::vector<BudgetTensor> &tensors, uint64_t budget,
                  size_t i = 0, uint64_t used = 0) {
  if (used > budget)
    return INFINITY;
  if (i == tensors.size())
    return 0;
  double best = INFINITY;
  for (size_t k = 0; k < tensors[i].types.size(); ++k)
    best = std::min(best, tensors[i].loss[k] +
                              bruteForce(tensors, budget, i + 1,
                                         used + tensors[i].bytes[k]));
  return best;
}

TEST(GgufBudget, KnapsackMatchesEnumeration) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<BudgetTensor> tensors(5);
    uint64_t smallest = 0, largest = 0;
    for (BudgetTensor &t : tensors) {
      t.name = "t";
      uint64_t bytes = 100 + rng() % 400;
      double loss = 1 + double(rng() % 1000);
      for (int k = 0; k < 4; ++k) {
        t.types.push_back(DType(int(DType::Q2_K) + k));
        t.bytes.push_back(bytes);
        t.loss.push_back(loss);
        bytes += 1 + rng() % 300;
        loss *= 0.2 + 0.6 * double(rng() % 100) / 100;
      }
      smallest += t.bytes.front();
      largest += t.bytes.back();
    }
    uint64_t budget = smallest + rng() % (largest - smallest + 1);
    llvm::Expected<std::vector<size_t>> picked =
        chooseTypesWithinBudget(tensors, budget);
    ASSERT_TRUE(bool(picked)) << errorOf(picked.takeError());
    double loss = 0;
    uint64_t used = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      loss += tensors[i].loss[(*picked)[i]];
      used += tensors[i].bytes[(*picked)[i]];
    }
    EXPECT_LE(used, budget);
    EXPECT_NEAR(loss, bruteForce(tensors, budget), 1e-9 * loss) << trial;
  }
}

TEST(GgufBudget, LargeBudgetsStayWithinTheirBytes) {
  // Byte counts above the grid's resolution are rounded up per tensor.
  std::vector<BudgetTensor> tensors(30);
  for (size_t i = 0; i < tensors.size(); ++i) {
    BudgetTensor &t = tensors[i];
    t.name = "t" + std::to_string(i);
    for (int k = 0; k < 6; ++k) {
      t.types.push_back(DType::Q4_K);
      t.bytes.push_back(1000003 * uint64_t(k + 2) + 7 * i);
      t.loss.push_back(std::pow(0.25, k) * double(i + 1));
    }
  }
  uint64_t budget = 30 * 1000003 * 4 + 12345;
  llvm::Expected<std::vector<size_t>> picked =
      chooseTypesWithinBudget(tensors, budget);
  ASSERT_TRUE(bool(picked));
  uint64_t used = 0;
  for (size_t i = 0; i < tensors.size(); ++i)
    used += tensors[i].bytes[(*picked)[i]];
  EXPECT_LE(used, budget);
  EXPECT_GT(used, budget - budget / 100); // and uses nearly all of it
  // The most sensitive tensors get the most bytes.
  EXPECT_GE((*picked).back(), (*picked).front());
}

TEST(GgufBudget, BudgetBelowTheSmallestMixIsAnError) {
  std::vector<BudgetTensor> tensors(2);
  for (BudgetTensor &t : tensors) {
    t.name = "w";
    t.types = {DType::Q2_K, DType::Q8_0};
    t.bytes = {100, 400};
    t.loss = {2, 1};
  }
  EXPECT_EQ(errorOf(chooseTypesWithinBudget(tensors, 199).takeError()),
            "a budget of 199 bytes is below the smallest mix these types "
            "reach (200 bytes)");
  tensors[1].types.clear();
  EXPECT_EQ(errorOf(chooseTypesWithinBudget(tensors, 1000).takeError()),
            "tensor 'w' has no candidate types");
}

TEST(GgufBudget, WeightedErrorIsTheEncodedRowsError) {
  const int64_t rows = 4, cols = 512;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> w(rows * cols), columns(cols);
  for (float &v : w)
    v = normal(rng);
  for (float &v : columns)
    v = 0.1f + std::fabs(normal(rng));
  std::vector<float> rowWeight = {2, 0, 1, 0.5};
  double previous = INFINITY;
  for (DType type : budgetCandidateTypes(cols)) {
    // Independent: encode and decode each row with the ggml quantizer.
    double expected = 0;
    std::vector<uint8_t> block(*tensorBytes(type, {cols}));
    std::vector<float> back(cols);
    for (int64_t r = 0; r < rows; ++r) {
      ASSERT_FALSE(bool(quantizeRowGgml(type, &w[r * cols], block.data(), cols,
                                        columns.data())));
      dequantizeRow(type, block.data(), back.data(), cols);
      double row = 0;
      for (int64_t c = 0; c < cols; ++c)
        row += columns[c] * double(w[r * cols + c] - back[c]) *
               double(w[r * cols + c] - back[c]);
      expected += rowWeight[r] * row;
    }
    llvm::Expected<double> got = weightedQuantizationError(
        w.data(), rows, cols, type, columns.data(), rowWeight.data(), true);
    ASSERT_TRUE(bool(got));
    EXPECT_NEAR(*got, expected, 1e-6 * expected) << getDTypeInfo(type).name.str();
    EXPECT_LT(*got, previous) << getDTypeInfo(type).name.str();
    previous = *got;
  }
  EXPECT_EQ(errorOf(weightedQuantizationError(w.data(), 2, 500, DType::Q4_K,
                                              nullptr, nullptr, false)
                        .takeError()),
            "cannot encode rows of 500 values as q4_k");
}

} // namespace
