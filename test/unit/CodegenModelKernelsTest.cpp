//===- CodegenModelKernelsTest.cpp - Embedding and elementwise kernels ----===//
#include "CodegenKernelsTest.h"

#include "lowbit/Codegen/WeightPacking.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Runtime/ArtifactFormat.h"
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

// kv_store + attention against a direct softmax(q·K/√d)·V over positions
// 0..pos of each token (keys and values rounded through f16 as the cache
// holds them), for a prompt, one decode step and a short batch, with group
// sizes 1, 2 and 8 (the kernel's query tiles differ). The cache starts as
// NaN, so any read of a position not yet written would show.
TEST(CodegenModelKernels, AttentionMatchesSoftmaxReference) {
  struct Shape {
    int64_t heads, kvHeads, headDim;
  };
  for (Shape shape : {Shape{8, 4, 64}, Shape{8, 1, 64}, Shape{4, 4, 32}}) {
    SCOPED_TRACE("heads " + std::to_string(shape.heads) + ", kv heads " +
                 std::to_string(shape.kvHeads) + ", head dim " + std::to_string(shape.headDim));
    for (const char *target : {"x86-64-v3", "x86-64-v4"}) {
      if (std::string(target) == "x86-64-v4" && !hostHasVnni())
        continue;
      SCOPED_TRACE(target);
      KernelHarness h(target);
      int64_t width = shape.heads * shape.headDim, kvWidth = shape.kvHeads * shape.headDim;
      std::string store = h.kb().kvStore(kvWidth);
      std::string attend = h.kb().attention(shape.heads, shape.kvHeads, shape.headDim);
      ASSERT_TRUE(h.compile());
      constexpr int64_t kContext = 40; // not a whole number of key blocks
      int64_t positions = (kContext + kKeyCacheTile - 1) / kKeyCacheTile * kKeyCacheTile;
      std::vector<float> kc(size_t(positions * kvWidth), NAN), vc = kc;
      std::vector<std::vector<float>> keys, values; // f16-rounded, per position
      int64_t next = 0;
      uint32_t seed = 10;
      for (int64_t n : {21, 1, 3}) {
        std::vector<float> q = activationBuffer(n, width), k = activationBuffer(n, kvWidth),
                           v = k, out = q;
        int64_t qStride = activationRowBytes(width) / 4, kStride = activationRowBytes(kvWidth) / 4;
        std::vector<int32_t> pos(static_cast<size_t>(n));
        for (int64_t s = 0; s < n; ++s) {
          pos[size_t(s)] = int32_t(next + s);
          std::vector<float> rq = uniformFloats(size_t(width), seed++),
                             rk = uniformFloats(size_t(kvWidth), seed++),
                             rv = uniformFloats(size_t(kvWidth), seed++);
          std::copy(rq.begin(), rq.end(), q.begin() + s * qStride);
          std::copy(rk.begin(), rk.end(), k.begin() + s * kStride);
          std::copy(rv.begin(), rv.end(), v.begin() + s * kStride);
          for (float &x : rk)
            x = fp16ToFloat(floatToFp16(x));
          for (float &x : rv)
            x = fp16ToFloat(floatToFp16(x));
          keys.push_back(rk);
          values.push_back(rv);
        }
        h.run(store, {k.data(), v.data(), pos.data(), kc.data(), vc.data()}, n);
        h.run(attend, {q.data(), pos.data(), kc.data(), vc.data(), out.data()}, n);
        int64_t bad = 0;
        for (int64_t s = 0; s < n; ++s)
          for (int64_t hd = 0; hd < shape.heads; ++hd) {
            int64_t g = hd / (shape.heads / shape.kvHeads), p = pos[size_t(s)];
            const float *qh = q.data() + s * qStride + hd * shape.headDim;
            std::vector<double> score(size_t(p + 1));
            double top = -INFINITY, sum = 0;
            for (int64_t j = 0; j <= p; ++j) {
              double dot = 0;
              for (int64_t d = 0; d < shape.headDim; ++d)
                dot += double(qh[d]) * keys[size_t(j)][size_t(g * shape.headDim + d)];
              score[size_t(j)] = dot / std::sqrt(double(shape.headDim));
              top = std::max(top, score[size_t(j)]);
            }
            for (double &x : score)
              sum += (x = std::exp(x - top));
            for (int64_t d = 0; d < shape.headDim; ++d) {
              double want = 0;
              for (int64_t j = 0; j <= p; ++j)
                want += score[size_t(j)] / sum * values[size_t(j)][size_t(g * shape.headDim + d)];
              float got = out[size_t(s * qStride + hd * shape.headDim + d)];
              if (!(std::fabs(got - want) <= 2e-5 + 1e-4 * std::fabs(want)) && bad++ < 5)
                ADD_FAILURE() << "batch of " << n << ", token " << s << " (position " << p
                              << "), head " << hd << ", dim " << d << ": kernel " << got
                              << ", reference " << want;
            }
          }
        EXPECT_EQ(bad, 0);
        next += n;
      }
    }
  }
}
