//===- CodegenModelKernelsTest.cpp - Embedding and elementwise kernels ----===//
#include "CodegenKernelsTest.h"

#include "lowbit/Codegen/WeightPacking.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Support/Float16.h"

#include <cmath>
#include <random>

using namespace lowbit;
using namespace lowbit::test;

namespace {
std::vector<float> uniformFloats(size_t n, uint32_t seed, float lo = -2, float hi = 2) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}
} // namespace

TEST(CodegenModelKernels, EmbeddingDecodesRows) {
  constexpr int64_t kRows = 11, kCols = 96, kTokens = 5;
  std::vector<PackedWeight> tables;
  for (FloatEncoding e : {FloatEncoding::F32, FloatEncoding::F16, FloatEncoding::BF16}) {
    std::vector<float> v = uniformFloats(size_t(kRows * kCols), 7 + int(e));
    tables.push_back(packFloatMatrix(v.data(), kRows, kCols, e));
  }
  KernelHarness h("x86-64-v3");
  std::vector<std::string> names;
  for (const PackedWeight &t : tables)
    names.push_back(h.kb().embedding(t.layout));
  ASSERT_TRUE(h.compile());
  std::vector<int32_t> ids = {3, 0, 10, 3, 7};
  int64_t stride = activationRowBytes(kCols) / 4;
  std::vector<float> want(static_cast<size_t>(kCols));
  for (size_t i = 0; i < tables.size(); ++i) {
    SCOPED_TRACE(tables[i].layout.key());
    std::vector<float> out = activationBuffer(kTokens, kCols);
    h.run(names[i], {ids.data(), const_cast<uint8_t *>(tables[i].bytes.data()), out.data()},
          kTokens);
    for (int64_t s = 0; s < kTokens; ++s) {
      unpackRow(tables[i], ids[size_t(s)], want.data());
      for (int64_t c = 0; c < kCols; ++c)
        ASSERT_EQ(out[size_t(s * stride + c)], want[size_t(c)]) << "token " << s << " column " << c;
    }
  }
}

TEST(CodegenModelKernels, RmsNormAddSwiglu) {
  constexpr int64_t kWidth = 96, kTokens = 3;
  constexpr float kEps = 1e-5f;
  KernelHarness h("x86-64-v3");
  std::string norm = h.kb().rmsNorm(kWidth, kEps), add = h.kb().add(kWidth),
              swiglu = h.kb().swiglu(kWidth);
  ASSERT_TRUE(h.compile());
  int64_t stride = activationRowBytes(kWidth) / 4;
  std::vector<float> a = activationBuffer(kTokens, kWidth), b = a, out = a;
  std::vector<float> ra = uniformFloats(a.size(), 1), rb = uniformFloats(a.size(), 2);
  for (int64_t s = 0; s < kTokens; ++s)
    for (int64_t c = 0; c < kWidth; ++c) {
      a[size_t(s * stride + c)] = ra[size_t(s * stride + c)];
      b[size_t(s * stride + c)] = rb[size_t(s * stride + c)];
    }
  std::vector<float> weight = uniformFloats(size_t(stride), 3, 0.5f, 1.5f);

  h.run(norm, {a.data(), weight.data(), out.data()}, kTokens);
  for (int64_t s = 0; s < kTokens; ++s) {
    double ss = 0;
    for (int64_t c = 0; c < kWidth; ++c)
      ss += double(a[size_t(s * stride + c)]) * a[size_t(s * stride + c)];
    double scale = 1.0 / std::sqrt(ss / kWidth + kEps);
    for (int64_t c = 0; c < kWidth; ++c) {
      double want = a[size_t(s * stride + c)] * scale * weight[size_t(c)];
      EXPECT_NEAR(out[size_t(s * stride + c)], want, 1e-5 * std::fabs(want) + 1e-6)
          << "rms_norm token " << s << " column " << c;
    }
  }

  std::fill(out.begin(), out.end(), 0.0f);
  h.run(add, {a.data(), b.data(), out.data()}, kTokens);
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_EQ(out[i], a[i] + b[i]) << "add at " << i;

  std::fill(out.begin(), out.end(), 0.0f);
  h.run(swiglu, {a.data(), b.data(), out.data()}, kTokens);
  for (size_t i = 0; i < out.size(); ++i) {
    double g = a[i], want = g / (1.0 + std::exp(-g)) * b[i];
    EXPECT_NEAR(out[i], want, 1e-5 * std::fabs(want) + 1e-6) << "swiglu at " << i;
  }
}
