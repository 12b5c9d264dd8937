//===- CodegenKernelsTest.cpp - Generated linear kernels vs dequantize+dot ===//
//
// Every weight format is packed into its kernel layout, the packing is
// checked against the project's dequantizers, and the generated linear kernel
// (with int8 activations for Integer layouts) is compared with "unpack the
// row, then dot".
//
//===----------------------------------------------------------------------===//
#include "CodegenKernelsTest.h"

#include "lowbit/Codegen/WeightPacking.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Quant/Affine.h"
#include "lowbit/Quant/Bnb.h"
#include "lowbit/Quant/Int8Row.h"
#include "lowbit/Support/Float16.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace lowbit;
using namespace lowbit::test;
using mlir::lowbit::QuantFormat;

namespace {

/// One weight to test: its packing and the project's dequantization of the
/// stored tensor ([rows, cols], in the stored column order).
struct Case {
  std::string label;
  PackedWeight w;
  std::vector<float> dequantized;
  bool bias = false, residual = false;
};

std::vector<float> randomFloats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

template <typename T> std::vector<uint8_t> toBytes(const std::vector<T> &v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

/// Writes tensors to files, loads them into a WeightStore and packs them.
class CaseBuilder {
public:
  std::vector<Case> cases;

  void addGgml(DType type, int64_t rows, int64_t cols, uint32_t seed) {
    std::vector<float> f = randomFloats(size_t(rows * cols), seed);
    const DTypeInfo &info = getDTypeInfo(type);
    size_t rowBytes = size_t(cols) / info.blockElems * info.blockBytes;
    std::vector<uint8_t> bytes(rowBytes * size_t(rows));
    for (int64_t r = 0; r < rows; ++r)
      if (llvm::Error e = quantizeRow(type, f.data() + r * cols,
                                      bytes.data() + r * rowBytes, cols))
        ADD_FAILURE() << llvm::toString(std::move(e));
    Pending p{"w" + std::to_string(pending.size()), info.name.str(), rows, cols, {}, {}};
    p.enc.quantized = true;
    p.dequantized.resize(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      dequantizeRow(type, bytes.data() + r * rowBytes, p.dequantized.data() + r * cols, cols);
    gguf.addTensor(p.name, type, {rows, cols}, std::move(bytes));
    pending.push_back(std::move(p));
  }

  void addFloat(FloatEncoding e, int64_t rows, int64_t cols, uint32_t seed) {
    std::vector<float> f = randomFloats(size_t(rows * cols), seed);
    static const char *kNames[] = {"f32", "f16", "bf16"};
    Pending p{"w" + std::to_string(pending.size()),
              std::string(kNames[int(e)]) + " cols=" + std::to_string(cols), rows, cols,
              {}, {}};
    p.enc.floatEncoding = e;
    // The stored f32 values; the packer rounds them to the encoding.
    for (float &v : f)
      v = e == FloatEncoding::F16   ? fp16ToFloat(floatToFp16(v))
          : e == FloatEncoding::BF16 ? bf16ToFloat(floatToBf16(v))
                                     : v;
    p.dequantized = f;
    st.addTensor(p.name, DType::F32, {rows, cols}, toBytes(f));
    pending.push_back(std::move(p));
  }

  void addAffine(int bits, int64_t group, bool actOrder, int64_t rows, int64_t cols,
                 uint32_t seed) {
    std::vector<float> f = randomFloats(size_t(rows * cols), seed);
    AffineScheme scheme;
    scheme.bits = bits;
    scheme.groupSize = group;
    llvm::Expected<AffineTensor> t = quantizeAffineRtn(f.data(), rows, cols, scheme);
    ASSERT_TRUE(bool(t)) << llvm::toString(t.takeError());
    Pending p{"w" + std::to_string(pending.size()),
              "affine" + std::to_string(bits) + " g" + std::to_string(group) +
                  (actOrder ? " act-order" : ""),
              rows, cols, {}, {}};
    p.enc.quantized = true;
    p.enc.format = QuantFormat::Affine;
    p.enc.bits = bits;
    p.enc.groupSize = group;
    p.enc.actOrder = actOrder;
    std::vector<int32_t> gIdx(static_cast<size_t>(cols));
    if (actOrder) {
      std::vector<int32_t> perm(static_cast<size_t>(cols));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), std::mt19937(seed + 1));
      for (int64_t c = 0; c < cols; ++c)
        gIdx[size_t(c)] = int32_t(perm[size_t(c)] / group);
      st.addTensor(p.name + ".g_idx", DType::I32, {cols}, toBytes(gIdx));
    }
    p.dequantized.resize(size_t(rows * cols));
    dequantizeAffine(t->codes.data(), t->scales.data(), t->zeros.data(), rows, cols,
                     group, p.dequantized.data(), actOrder ? gIdx.data() : nullptr);
    int64_t groups = cols / group;
    st.addTensor(p.name, DType::U8, {rows, cols}, t->codes);
    st.addTensor(p.name + ".scales", DType::F32, {rows, groups}, toBytes(t->scales));
    st.addTensor(p.name + ".zeros", DType::F32, {rows, groups}, toBytes(t->zeros));
    pending.push_back(std::move(p));
  }

  void addInt8Row(int64_t rows, int64_t cols, uint32_t seed) {
    std::vector<float> f = randomFloats(size_t(rows * cols), seed);
    Int8RowTensor t = quantizeInt8Rows(f.data(), rows, cols);
    Pending p{"w" + std::to_string(pending.size()), "int8_row", rows, cols, {}, {}};
    p.enc.quantized = true;
    p.enc.format = QuantFormat::Int8Row;
    p.enc.bits = 8;
    p.enc.groupSize = -1;
    p.dequantized.resize(size_t(rows * cols));
    dequantizeInt8Rows(t.codes.data(), t.scales.data(), rows, cols, p.dequantized.data());
    st.addTensor(p.name, DType::I8, {rows, cols}, toBytes(t.codes));
    st.addTensor(p.name + ".scb", DType::F32, {rows}, toBytes(t.scales));
    pending.push_back(std::move(p));
  }

  void addBnb(Bnb4BitType type, bool doubleQuant, int64_t rows, int64_t cols,
              uint32_t seed) {
    std::vector<float> f = randomFloats(size_t(rows * cols), seed);
    Bnb4BitWeight b = quantizeBnb4Bit(f.data(), rows, cols, type, 64, doubleQuant);
    Pending p{"w" + std::to_string(pending.size()),
              bnb4BitTypeName(type).str() + (doubleQuant ? " double-quant" : ""), rows,
              cols, {}, {}};
    p.enc.quantized = true;
    p.enc.format = type == Bnb4BitType::FP4 ? QuantFormat::FP4 : QuantFormat::NF4;
    p.enc.bits = 4;
    p.enc.groupSize = 64;
    p.dequantized = dequantizeBnb4Bit(b);
    st.addTensor(p.name, DType::U8, {b.packedBytes(), 1}, b.packed);
    if (doubleQuant) {
      st.addTensor(p.name + ".absmax", DType::U8, {b.numBlocks()}, b.absmaxCodes);
      st.addTensor(p.name + ".nested_absmax", DType::F32, {b.numNestedBlocks()},
                   toBytes(b.nestedAbsmax));
      st.addTensor(p.name + ".nested_offset", DType::F32, {1},
                   toBytes(std::vector<float>{b.offset}));
    } else {
      st.addTensor(p.name + ".absmax", DType::F32, {b.numBlocks()}, toBytes(b.absmax));
    }
    pending.push_back(std::move(p));
  }

  /// Writes the files and packs every weight; returns false on failure.
  bool pack() {
    if (!dir.ok())
      return false;
    WeightStore store;
    std::string stPath = dir.file("w.safetensors"), ggufPath = dir.file("w.gguf");
    if (llvm::Error e = st.write(stPath))
      return ADD_FAILURE() << llvm::toString(std::move(e)), false;
    if (llvm::Error e = gguf.write(ggufPath))
      return ADD_FAILURE() << llvm::toString(std::move(e)), false;
    for (const std::string &path : {stPath, ggufPath})
      if (llvm::Error e = store.addFile(path))
        return ADD_FAILURE() << llvm::toString(std::move(e)), false;
    for (size_t i = 0; i < pending.size(); ++i) {
      Pending &p = pending[i];
      llvm::Expected<PackedWeight> w = packWeight(store, p.name, p.enc, p.rows, p.cols);
      if (!w)
        return ADD_FAILURE() << p.label << ": " << llvm::toString(w.takeError()), false;
      Case c{p.label, std::move(*w), std::move(p.dequantized), i % 3 == 1, i % 4 == 2};
      cases.push_back(std::move(c));
    }
    return true;
  }

private:
  struct Pending {
    std::string name, label;
    int64_t rows, cols;
    WeightEncoding enc;
    std::vector<float> dequantized;
  };
  std::vector<Pending> pending;
  SafetensorsWriter st;
  GgufWriter gguf;
  ScratchDir dir;
};

/// The stored column that packed column j holds.
int64_t storedColumn(const PackedWeight &w, int64_t j) {
  return w.layout.permutedColumns ? w.columnOrder[size_t(j)] : j;
}

/// The int8 activations an Integer kernel expects, computed here: codes and
/// the f32 scale of every 32-value block.
void quantizeReference(const float *x, int64_t width, ActivationQuant mode,
                       std::vector<int8_t> &q, std::vector<float> &d) {
  int64_t super = mode == ActivationQuant::Q8_K ? 256
                  : mode == ActivationQuant::Row ? width
                                                 : 32;
  q.assign(size_t(width), 0);
  d.assign(size_t(width / 32), 0.0f);
  for (int64_t s0 = 0; s0 < width; s0 += super) {
    float vmax = -INFINITY, vmin = INFINITY;
    for (int64_t i = s0; i < s0 + super; ++i) {
      vmax = std::max(vmax, x[i]);
      vmin = std::min(vmin, x[i]);
    }
    float amax = std::max(vmax, -vmin), inv, scale;
    if (mode == ActivationQuant::Q8_K) {
      float mx = -vmin > vmax ? vmin : vmax;
      float iscale = -127.0f / mx;
      inv = amax == 0 ? 0 : iscale;
      scale = amax == 0 ? 0 : 1.0f / iscale;
    } else {
      float dv = amax / 127.0f;
      inv = amax == 0 ? 0 : 1.0f / dv;
      scale = mode == ActivationQuant::Q8_0 || mode == ActivationQuant::Q8_1
                  ? fp16ToFloat(floatToFp16(dv))
                  : dv;
    }
    for (int64_t i = s0; i < s0 + super; ++i) {
      float r = std::nearbyint(x[i] * inv);
      q[size_t(i)] = int8_t(std::clamp(r, -128.0f, 127.0f));
    }
    for (int64_t b = s0 / 32; b < (s0 + super) / 32; ++b)
      d[size_t(b)] = scale;
  }
}

/// unpackRow against the project's dequantizer of the stored tensor.
void checkPacking(const Case &c) {
  const PackedLayout &l = c.w.layout;
  std::vector<float> row(size_t(l.cols));
  int64_t bad = 0;
  for (int64_t r = 0; r < l.rows; ++r) {
    unpackRow(c.w, r, row.data());
    for (int64_t j = 0; j < l.cols; ++j) {
      float want = c.dequantized[size_t(r * l.cols + storedColumn(c.w, j))];
      float got = row[size_t(j)];
      float tol = 1e-6f * std::fabs(want) + 1e-30f;
      if (l.int8Codebook) {
        // The int8 codebook rounds book·scale: half a step of the absmax,
        // which is the largest |value| of the block.
        int64_t span = 32 * l.paramBlocks, first = j / span * span;
        float absmax = 0;
        for (int64_t i = first; i < first + span; ++i)
          absmax = std::max(absmax, std::fabs(c.dequantized[size_t(r * l.cols + i)]));
        tol += 0.5f / int8Codebook(l.fp4Codebook).scale * absmax * 1.0001f;
      }
      if (std::fabs(got - want) > tol && bad++ < 5)
        ADD_FAILURE() << c.label << " (" << l.key() << "): row " << r << " column " << j
                      << ": unpacked " << got << ", dequantized " << want;
    }
  }
  EXPECT_EQ(bad, 0) << c.label << ": " << bad << " values differ";
}

/// Builds every case's kernels for `targetName`, runs them and compares.
void runLinearCases(const std::vector<Case> &cases, llvm::StringRef targetName) {
  constexpr int64_t kTokens = 6; // one tile of 4 tokens and 2 single ones
  KernelHarness h(targetName);
  std::vector<std::string> linearNames, quantNames;
  for (const Case &c : cases) {
    const PackedLayout &l = c.w.layout;
    linearNames.push_back(h.kb().linear(l, c.bias, c.residual));
    quantNames.push_back(l.family == KernelFamily::Integer
                             ? h.kb().quantizeActivations(l.cols, l.activationQuant)
                             : std::string());
  }
  ASSERT_TRUE(h.compile());

  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const Case &c = cases[ci];
    const PackedLayout &l = c.w.layout;
    SCOPED_TRACE(c.label + " (" + l.key() + ", " + targetName.str() + ")");
    int64_t n = l.rows, k = l.cols, xStride = activationRowBytes(k) / 4,
            outStride = activationRowBytes(n) / 4;
    // Activations in packed column order (the runtime permutes them first).
    std::vector<float> x = activationBuffer(kTokens, k);
    std::vector<float> raw = randomFloats(size_t(kTokens * k), uint32_t(1000 + ci));
    for (int64_t s = 0; s < kTokens; ++s)
      for (int64_t j = 0; j < k; ++j)
        x[size_t(s * xStride + j)] = raw[size_t(s * k + storedColumn(c.w, j))];
    std::vector<float> bias = randomFloats(size_t(n), uint32_t(2000 + ci));
    std::vector<float> res = activationBuffer(kTokens, n);
    for (float &v : res)
      v = 0.25f;
    std::vector<float> out = activationBuffer(kTokens, n);
    bool integer = l.family == KernelFamily::Integer;
    std::vector<uint8_t> xq(size_t(kTokens * quantizedRowBytes(k)));
    if (integer)
      h.run(quantNames[ci], {x.data(), xq.data()}, kTokens);
    std::vector<void *> args = {integer ? (void *)xq.data() : (void *)x.data(),
                                const_cast<uint8_t *>(c.w.bytes.data())};
    if (c.bias)
      args.push_back(bias.data());
    if (c.residual)
      args.push_back(res.data());
    args.push_back(out.data());
    h.run(linearNames[ci], args, kTokens);

    std::vector<float> w(static_cast<size_t>(k));
    std::vector<int8_t> q;
    std::vector<float> d;
    int64_t badLoose = 0, badTight = 0, badCodes = 0;
    for (int64_t s = 0; s < kTokens; ++s) {
      const float *xs = x.data() + s * xStride;
      if (integer) {
        quantizeReference(xs, k, l.activationQuant, q, d);
        const uint8_t *row = xq.data() + s * quantizedRowBytes(k);
        for (int64_t j = 0; j < k; ++j)
          badCodes += int8_t(row[j]) != q[size_t(j)];
        for (int64_t b = 0; b < k / 32; ++b) {
          float kd;
          std::memcpy(&kd, row + k + 4 * b, 4);
          badCodes += kd != d[size_t(b)];
        }
      }
      for (int64_t r = 0; r < n; ++r) {
        unpackRow(c.w, r, w.data());
        double dot = 0, mag = 0, dotQ = 0, magQ = 0;
        for (int64_t j = 0; j < k; ++j) {
          dot += double(w[j]) * xs[j];
          mag += std::fabs(double(w[j]) * xs[j]);
          if (integer) {
            double xd = double(d[size_t(j / 32)]) * q[size_t(j)];
            dotQ += double(w[j]) * xd;
            magQ += std::fabs(double(w[j]) * xd);
          }
        }
        double extra = (c.bias ? bias[size_t(r)] : 0.0) + (c.residual ? 0.25 : 0.0);
        double got = out[size_t(s * outStride + r)];
        double looseTol = integer ? 0.02 * mag + 1e-4 : 2e-5 * mag + 1e-5;
        if (std::fabs(got - extra - dot) > looseTol && badLoose++ < 5)
          ADD_FAILURE() << "token " << s << " row " << r << ": kernel " << got
                        << ", dequantize+dot " << dot + extra;
        if (integer && std::fabs(got - extra - dotQ) > 1e-3 * magQ + 1e-5 && badTight++ < 5)
          ADD_FAILURE() << "token " << s << " row " << r << ": kernel " << got
                        << ", int8 reference " << dotQ + extra;
      }
    }
    EXPECT_EQ(badCodes, 0) << "quantized activations differ from the reference rounding";
    EXPECT_EQ(badLoose, 0);
    EXPECT_EQ(badTight, 0);
  }
}

/// Every format the kernels read, in one store.
const std::vector<Case> &allCases() {
  static std::vector<Case> cases = [] {
    CaseBuilder b;
    uint32_t seed = 1;
    for (FloatEncoding e : {FloatEncoding::F32, FloatEncoding::F16, FloatEncoding::BF16}) {
      b.addFloat(e, 37, 96, seed++);
      b.addFloat(e, 37, 70, seed++); // ragged: rows padded to 96
    }
    for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                    DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K})
      b.addGgml(t, 37, 512, seed++);
    for (int bits : {2, 3, 4, 8})
      for (int64_t g : {32, 64, 128})
        b.addAffine(bits, g, false, 37, 256, seed++);
    for (int bits : {3, 4, 8})
      b.addAffine(bits, bits == 4 ? 32 : 64, true, 37, 256, seed++);
    b.addAffine(4, 128, true, 37, 256, seed++);
    b.addInt8Row(37, 160, seed++);
    b.addBnb(Bnb4BitType::NF4, false, 37, 128, seed++);
    b.addBnb(Bnb4BitType::FP4, false, 37, 128, seed++);
    b.addBnb(Bnb4BitType::NF4, true, 37, 128, seed++);
    if (!b.pack())
      b.cases.clear();
    return std::move(b.cases);
  }();
  return cases;
}

/// Every integer format again with 5 row groups of `R` rows (so the threads
/// split them unevenly), rows interleaved as the compiler packs weights only
/// linears read: R = 8 for 256-bit kernels, 16 for 512-bit ones.
std::vector<Case> makeInterleavedCases(int R) {
  CaseBuilder b;
  uint32_t seed = 100;
  int64_t rows = 5 * R;
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                  DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K})
    b.addGgml(t, rows, 512, seed++);
  for (int bits : {2, 3, 4, 8})
    b.addAffine(bits, 64, false, rows, 256, seed++);
  b.addAffine(4, 128, true, rows, 256, seed++);
  b.addInt8Row(rows, 160, seed++);
  b.addBnb(Bnb4BitType::NF4, false, rows, 128, seed++);
  b.addBnb(Bnb4BitType::FP4, false, rows, 128, seed++);
  b.addBnb(Bnb4BitType::NF4, true, rows, 128, seed++);
  if (!b.pack())
    b.cases.clear();
  for (Case &c : b.cases) {
    // NF4/FP4 run through their int8 codebook, as the compiler packs them.
    if (c.w.layout.family == KernelFamily::Lut)
      useInt8Codebook(c.w);
    EXPECT_EQ(c.w.layout.family, KernelFamily::Integer) << c.label;
    interleaveRows(c.w, R);
    c.label += " interleaved by " + std::to_string(R);
  }
  return std::move(b.cases);
}

const std::vector<Case> &interleavedCases() {
  static std::vector<Case> cases = makeInterleavedCases(kInterleavedRows);
  return cases;
}

const std::vector<Case> &wideInterleavedCases() {
  static std::vector<Case> cases = makeInterleavedCases(kMaxInterleavedRows);
  return cases;
}

/// Runs `cases` on x86-64-v4, or skips where the CPU cannot run it.
void runOnV4(const std::vector<Case> &cases) {
  if (!hostHasVnni())
    GTEST_SKIP() << "this CPU lacks AVX-512 VNNI, so x86-64-v4 kernels cannot run here";
  ASSERT_FALSE(cases.empty());
  runLinearCases(cases, "x86-64-v4");
}

} // namespace

TEST(CodegenKernels, PackingMatchesDequantizers) {
  const std::vector<Case> &cases = allCases();
  ASSERT_FALSE(cases.empty());
  for (const Case &c : cases)
    checkPacking(c);
}

TEST(CodegenKernels, InterleavedPackingMatchesDequantizers) {
  for (const std::vector<Case> *cases : {&interleavedCases(), &wideInterleavedCases()}) {
    ASSERT_EQ(cases->size(), 19u);
    for (const Case &c : *cases)
      checkPacking(c);
  }
}

TEST(CodegenKernels, InterleavedLinearX86_64_v3) {
  const std::vector<Case> &cases = interleavedCases();
  ASSERT_FALSE(cases.empty());
  runLinearCases(cases, "x86-64-v3");
}

TEST(CodegenKernels, InterleavedLinearX86_64_v4) { runOnV4(interleavedCases()); }

// 16-row groups: the 512-bit kernels the compiler picks for AVX-512 VNNI.
TEST(CodegenKernels, WideInterleavedLinearX86_64_v4) { runOnV4(wideInterleavedCases()); }

// The int8 codebooks against bitsandbytes' values: every entry within half a
// step, the extremes exact, and FP4 exact but for its two smallest entries.
TEST(CodegenKernels, Int8CodebooksMatchBnb) {
  for (bool fp4 : {false, true}) {
    const Int8Codebook &book = int8Codebook(fp4);
    llvm::ArrayRef<float> ref = bnb4BitCodebook(fp4 ? Bnb4BitType::FP4 : Bnb4BitType::NF4);
    int inexact = 0;
    for (int i = 0; i < 16; ++i) {
      float v = float(book.values[i]) / book.scale;
      EXPECT_LE(std::fabs(v - ref[size_t(i)]), 0.5f / book.scale + 1e-7f) << i;
      inexact += std::fabs(v - ref[size_t(i)]) > 1e-6f;
      if (std::fabs(ref[size_t(i)]) == 1.0f)
        EXPECT_FLOAT_EQ(v, ref[size_t(i)]);
    }
    if (fp4) {
      EXPECT_FLOAT_EQ(book.scale, 120.0f); // 10 per twelfth
      EXPECT_EQ(inexact, 2);
    } else {
      EXPECT_FLOAT_EQ(book.scale, 112.0f);
      EXPECT_EQ(book.values[0], -112);
      EXPECT_EQ(book.values[7], 0);
    }
  }
}

TEST(CodegenKernels, LayoutsCoverEveryFamily) {
  const std::vector<Case> &cases = allCases();
  int families[3] = {0, 0, 0}, permuted = 0;
  for (const Case &c : cases) {
    ++families[int(c.w.layout.family)];
    permuted += c.w.layout.permutedColumns;
  }
  EXPECT_EQ(families[int(KernelFamily::Float)], 6);
  EXPECT_EQ(families[int(KernelFamily::Integer)], 10 + 12 + 4 + 1);
  EXPECT_EQ(families[int(KernelFamily::Lut)], 3);
  EXPECT_EQ(permuted, 4);
}

TEST(CodegenKernels, LinearX86_64_v3) {
  const std::vector<Case> &cases = allCases();
  ASSERT_FALSE(cases.empty());
  runLinearCases(cases, "x86-64-v3");
}

TEST(CodegenKernels, LinearX86_64_v4) {
  if (!hostHasVnni())
    GTEST_SKIP() << "this CPU lacks AVX-512 VNNI, so x86-64-v4 kernels cannot run here";
  const std::vector<Case> &cases = allCases();
  ASSERT_FALSE(cases.empty());
  runLinearCases(cases, "x86-64-v4");
}

TEST(CodegenKernels, EmbeddingOfQuantizedTables) {
  const std::vector<Case> &cases = allCases();
  ASSERT_FALSE(cases.empty());
  KernelHarness h("x86-64-v3");
  std::vector<std::string> names;
  for (const Case &c : cases)
    names.push_back(c.w.layout.cols % 32 ? std::string() : h.kb().embedding(c.w.layout));
  ASSERT_TRUE(h.compile());
  constexpr int64_t kTokens = 4;
  std::vector<int32_t> ids = {36, 0, 17, 36};
  for (size_t i = 0; i < cases.size(); ++i) {
    if (names[i].empty())
      continue;
    const PackedWeight &w = cases[i].w;
    SCOPED_TRACE(cases[i].label + " (" + w.layout.key() + ")");
    int64_t cols = w.layout.cols, stride = activationRowBytes(cols) / 4;
    std::vector<float> out = activationBuffer(kTokens, cols);
    std::vector<float> want(static_cast<size_t>(cols));
    h.run(names[i], {ids.data(), const_cast<uint8_t *>(w.bytes.data()), out.data()}, kTokens);
    int64_t bad = 0;
    for (int64_t s = 0; s < kTokens; ++s) {
      unpackRow(w, ids[size_t(s)], want.data());
      for (int64_t c = 0; c < cols; ++c) {
        float got = out[size_t(s * stride + c)], ref = want[size_t(c)];
        if (std::fabs(got - ref) > 1e-6f * std::fabs(ref) + 1e-7f && bad++ < 5)
          ADD_FAILURE() << "token " << s << " column " << c << ": " << got << " vs " << ref;
      }
    }
    EXPECT_EQ(bad, 0);
  }
}
