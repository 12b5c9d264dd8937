//===- AffinePacking.cpp - GPTQ and AWQ checkpoint bit layouts ------------===//
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Formats/AffinePacking.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstring>

using namespace llvm;
using namespace lowbit;

static constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

static bool isGptqBits(int bits) {
  return bits == 2 || bits == 3 || bits == 4 || bits == 8;
}

void lowbit::packGptqBlock(const uint8_t *codes, int bits, uint32_t *words) {
  uint32_t mask = (1u << bits) - 1;
  std::memset(words, 0, sizeof(uint32_t) * bits);
  for (int t = 0; t < 32; ++t) {
    int pos = bits * t, word = pos / 32, offset = pos % 32;
    uint32_t v = codes[t] & mask;
    words[word] |= v << offset;
    if (offset + bits > 32) // 3-bit codes 10 and 21 continue in the next word
      words[word + 1] |= v >> (32 - offset);
  }
}

void lowbit::unpackGptqBlock(const uint32_t *words, int bits, uint8_t *codes) {
  uint32_t mask = (1u << bits) - 1;
  for (int t = 0; t < 32; ++t) {
    int pos = bits * t, word = pos / 32, offset = pos % 32;
    uint32_t v = words[word] >> offset;
    if (offset + bits > 32)
      v |= words[word + 1] << (32 - offset);
    codes[t] = uint8_t(v & mask);
  }
}

std::vector<int32_t> lowbit::packGptqWeight(ArrayRef<uint8_t> codes,
                                            int64_t rows, int64_t cols,
                                            int bits) {
  // Codes run along K (the qweight rows): column n of qweight is row n of
  // the [N, K] code matrix, 32 codes per `bits` words.
  int64_t packedRows = cols / 32 * bits;
  std::vector<int32_t> out(size_t(packedRows * rows));
  uint32_t words[8];
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t m = 0; m < cols / 32; ++m) {
      packGptqBlock(codes.data() + n * cols + m * 32, bits, words);
      for (int i = 0; i < bits; ++i)
        out[(m * bits + i) * rows + n] = int32_t(words[i]);
    }
  return out;
}

std::vector<uint8_t> lowbit::unpackGptqWeight(ArrayRef<int32_t> qweight,
                                              int64_t rows, int64_t cols,
                                              int bits) {
  std::vector<uint8_t> codes(size_t(rows * cols));
  uint32_t words[8];
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t m = 0; m < cols / 32; ++m) {
      for (int i = 0; i < bits; ++i)
        words[i] = uint32_t(qweight[(m * bits + i) * rows + n]);
      unpackGptqBlock(words, bits, codes.data() + n * cols + m * 32);
    }
  return codes;
}

std::vector<int32_t> lowbit::packGptqZeros(ArrayRef<uint8_t> fields,
                                           int64_t groups, int64_t rows,
                                           int bits) {
  // Zero points run along N (the qzeros columns).
  int64_t packedCols = rows / 32 * bits;
  std::vector<int32_t> out(size_t(groups * packedCols));
  uint32_t words[8];
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t m = 0; m < rows / 32; ++m) {
      packGptqBlock(fields.data() + g * rows + m * 32, bits, words);
      for (int i = 0; i < bits; ++i)
        out[g * packedCols + m * bits + i] = int32_t(words[i]);
    }
  return out;
}

std::vector<uint8_t> lowbit::unpackGptqZeros(ArrayRef<int32_t> qzeros,
                                             int64_t groups, int64_t rows,
                                             int bits) {
  int64_t packedCols = rows / 32 * bits;
  std::vector<uint8_t> fields(size_t(groups * rows));
  uint32_t words[8];
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t m = 0; m < rows / 32; ++m) {
      for (int i = 0; i < bits; ++i)
        words[i] = uint32_t(qzeros[g * packedCols + m * bits + i]);
      unpackGptqBlock(words, bits, fields.data() + g * rows + m * 32);
    }
  return fields;
}

std::vector<int32_t> lowbit::packAwq(ArrayRef<uint8_t> values, int64_t r,
                                     int64_t n) {
  std::vector<int32_t> out(size_t(r * (n / 8)));
  for (int64_t i = 0; i < r; ++i)
    for (int64_t c = 0; c < n / 8; ++c) {
      uint32_t word = 0;
      for (int t = 0; t < 8; ++t)
        word |= uint32_t(values[i * n + 8 * c + kAwqOrder[t]] & 15u) << (4 * t);
      out[i * (n / 8) + c] = int32_t(word);
    }
  return out;
}

std::vector<uint8_t> lowbit::unpackAwq(ArrayRef<int32_t> words, int64_t r,
                                       int64_t n) {
  std::vector<uint8_t> values(size_t(r * n));
  for (int64_t i = 0; i < r; ++i)
    for (int64_t c = 0; c < n / 8; ++c) {
      uint32_t word = uint32_t(words[i * (n / 8) + c]);
      for (int t = 0; t < 8; ++t)
        values[i * n + 8 * c + kAwqOrder[t]] = uint8_t((word >> (4 * t)) & 15u);
    }
  return values;
}

namespace {
/// Checks shared by both encoders: array sizes, code and zero ranges.
Error checkAffineWeight(const AffineWeight &w, int maxZero) {
  int64_t groups = w.groups();
  if (w.groupSize == 0 || w.groupSize < -1 ||
      (w.groupSize > 0 && w.cols % w.groupSize))
    return createStringError(formatv("group size {0} does not divide the "
                                     "input width {1}", w.groupSize, w.cols));
  if (int64_t(w.codes.size()) != w.rows * w.cols ||
      int64_t(w.scales.size()) != w.rows * groups ||
      int64_t(w.zeros.size()) != w.rows * groups ||
      (!w.gIdx.empty() && int64_t(w.gIdx.size()) != w.cols))
    return createStringError("codes, scales, zeros or g_idx do not match the "
                             "weight's shape");
  int maxq = (1 << w.bits) - 1;
  for (size_t i = 0; i < w.codes.size(); ++i)
    if (w.codes[i] > maxq)
      return createStringError(formatv("code {0} at [{1}, {2}] does not fit "
                                       "{3} bits", int(w.codes[i]),
                                       int64_t(i) / w.cols, int64_t(i) % w.cols,
                                       w.bits));
  for (size_t i = 0; i < w.zeros.size(); ++i) {
    float z = w.zeros[i];
    if (!(z >= 0 && z <= float(maxZero) && z == std::nearbyint(z)))
      return createStringError(formatv("zero point {0} of row {1}, group {2} "
                                       "is not an integer in [0, {3}]", z,
                                       int64_t(i) / groups, int64_t(i) % groups,
                                       maxZero));
  }
  for (int32_t g : w.gIdx)
    if (g < 0 || g >= groups)
      return createStringError(formatv("g_idx value {0} is outside [0, {1})",
                                       g, groups));
  return Error::success();
}

/// [N, groups] f32 -> [groups, N] fp16, counting the values that change.
Expected<std::vector<uint16_t>> transposeScalesToFp16(const AffineWeight &w,
                                                      int64_t &rounded) {
  int64_t groups = w.groups();
  std::vector<uint16_t> out(size_t(groups * w.rows));
  rounded = 0;
  for (int64_t n = 0; n < w.rows; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      float s = w.scales[n * groups + g];
      uint16_t h = floatToFp16(s);
      float back = fp16ToFloat(h);
      if (!std::isfinite(back))
        return createStringError(formatv("scale {0} of row {1}, group {2} does "
                                         "not fit fp16", s, n, g));
      rounded += back != s;
      out[g * w.rows + n] = h;
    }
  return out;
}

/// [groups, N] -> [N, groups].
std::vector<float> transposeScales(ArrayRef<float> scales, int64_t groups,
                                   int64_t rows) {
  std::vector<float> out(size_t(groups * rows));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t n = 0; n < rows; ++n)
      out[n * groups + g] = scales[g * rows + n];
  return out;
}
} // namespace

Expected<GptqTensors> lowbit::encodeGptq(const AffineWeight &w,
                                         GptqZeroFormat format) {
  if (!isGptqBits(w.bits))
    return createStringError(formatv("GPTQ stores 2, 3, 4 or 8-bit codes, "
                                     "not {0}-bit", w.bits));
  if (w.cols % 32 || w.rows % 32)
    return createStringError(formatv("GPTQ packing needs both dimensions to "
                                     "be multiples of 32, but the weight is "
                                     "[{0}, {1}] (out, in)", w.rows, w.cols));
  // v1 fields hold zero - 1, so they reach one step further up (a v1
  // checkpoint may mean a zero of 2^bits) and cannot hold 0.
  int maxq = (1 << w.bits) - 1;
  if (Error e = checkAffineWeight(w, format == GptqZeroFormat::V1 ? maxq + 1 : maxq))
    return std::move(e);
  int64_t groups = w.groups();
  GptqTensors t;
  t.qweight = packGptqWeight(w.codes, w.rows, w.cols, w.bits);
  std::vector<uint8_t> fields(size_t(groups * w.rows));
  for (int64_t n = 0; n < w.rows; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      int zero = int(w.zeros[n * groups + g]);
      if (format == GptqZeroFormat::V1 && zero == 0)
        return createStringError(formatv(
            "row {0}, group {1} has zero point 0, which the v1 checkpoint "
            "format (checkpoint_format \"gptq\", fields hold zero - 1) cannot "
            "store; use the \"gptq_v2\" format", n, g));
      fields[g * w.rows + n] = uint8_t(format == GptqZeroFormat::V1 ? zero - 1 : zero);
    }
  t.qzeros = packGptqZeros(fields, groups, w.rows, w.bits);
  Expected<std::vector<uint16_t>> scales = transposeScalesToFp16(w, t.roundedScales);
  if (!scales)
    return scales.takeError();
  t.scales = std::move(*scales);
  t.gIdx.resize(size_t(w.cols));
  for (int64_t k = 0; k < w.cols; ++k)
    t.gIdx[k] = int32_t(w.groupOf(k));
  return t;
}

Expected<AffineWeight>
lowbit::decodeGptq(ArrayRef<int32_t> qweight, ArrayRef<int32_t> qzeros,
                   ArrayRef<float> scales, ArrayRef<int32_t> gIdx, int64_t rows,
                   int64_t cols, int bits, int64_t groupSize,
                   GptqZeroFormat format) {
  if (!isGptqBits(bits))
    return createStringError(formatv("GPTQ bits must be 2, 3, 4 or 8, not {0}",
                                     bits));
  if (cols % 32 || rows % 32)
    return createStringError(formatv("GPTQ weight [{0}, {1}] (out, in) is not "
                                     "a multiple of 32 in both dimensions",
                                     rows, cols));
  AffineWeight w;
  w.rows = rows;
  w.cols = cols;
  w.bits = bits;
  w.groupSize = groupSize;
  if (groupSize == 0 || groupSize < -1 || (groupSize > 0 && cols % groupSize))
    return createStringError(formatv("group size {0} does not divide the input "
                                     "width {1}", groupSize, cols));
  int64_t groups = w.groups();
  if (int64_t(qweight.size()) != cols / 32 * bits * rows ||
      int64_t(qzeros.size()) != groups * (rows / 32 * bits) ||
      int64_t(scales.size()) != groups * rows ||
      (!gIdx.empty() && int64_t(gIdx.size()) != cols))
    return createStringError("qweight, qzeros, scales or g_idx sizes do not "
                             "match the weight's shape");
  w.codes = unpackGptqWeight(qweight, rows, cols, bits);
  std::vector<uint8_t> fields = unpackGptqZeros(qzeros, groups, rows, bits);
  w.zeros.resize(size_t(rows * groups));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t n = 0; n < rows; ++n)
      w.zeros[n * groups + g] =
          float(fields[g * rows + n]) + (format == GptqZeroFormat::V1 ? 1.0f : 0.0f);
  w.scales = transposeScales(scales, groups, rows);
  bool contiguous = true;
  for (int64_t k = 0; k < int64_t(gIdx.size()); ++k) {
    if (gIdx[k] < 0 || gIdx[k] >= groups)
      return createStringError(formatv("g_idx[{0}] = {1} is outside [0, {2})",
                                       k, gIdx[k], groups));
    contiguous &= gIdx[k] == (groupSize < 0 ? 0 : k / groupSize);
  }
  if (!contiguous)
    w.gIdx.assign(gIdx.begin(), gIdx.end());
  return w;
}

Expected<AwqTensors> lowbit::encodeAwq(const AffineWeight &w) {
  if (w.bits != 4)
    return createStringError(formatv("AWQ GEMM stores 4-bit codes only, not "
                                     "{0}-bit", w.bits));
  if (!w.gIdx.empty())
    return createStringError("AWQ GEMM has no g_idx: act-order weights (GPTQ "
                             "desc_act) cannot be stored");
  if (w.rows % 8)
    return createStringError(formatv("AWQ GEMM packs 8 output channels per "
                                     "word, but the weight has {0}", w.rows));
  if (Error e = checkAffineWeight(w, 15))
    return std::move(e);
  int64_t groups = w.groups();
  // AWQ is [K, N] (inputs outer): transpose the codes, then pack along N.
  std::vector<uint8_t> transposed(size_t(w.rows * w.cols));
  for (int64_t n = 0; n < w.rows; ++n)
    for (int64_t k = 0; k < w.cols; ++k)
      transposed[k * w.rows + n] = w.codes[n * w.cols + k];
  AwqTensors t;
  t.qweight = packAwq(transposed, w.cols, w.rows);
  std::vector<uint8_t> zeros(size_t(groups * w.rows));
  for (int64_t n = 0; n < w.rows; ++n)
    for (int64_t g = 0; g < groups; ++g)
      zeros[g * w.rows + n] = uint8_t(w.zeros[n * groups + g]);
  t.qzeros = packAwq(zeros, groups, w.rows);
  Expected<std::vector<uint16_t>> scales = transposeScalesToFp16(w, t.roundedScales);
  if (!scales)
    return scales.takeError();
  t.scales = std::move(*scales);
  return t;
}

Expected<AffineWeight> lowbit::decodeAwq(ArrayRef<int32_t> qweight,
                                         ArrayRef<int32_t> qzeros,
                                         ArrayRef<float> scales, int64_t rows,
                                         int64_t cols, int64_t groupSize) {
  AffineWeight w;
  w.rows = rows;
  w.cols = cols;
  w.bits = 4;
  w.groupSize = groupSize;
  if (rows % 8)
    return createStringError(formatv("AWQ weight has {0} output channels, not "
                                     "a multiple of 8", rows));
  if (groupSize == 0 || groupSize < -1 || (groupSize > 0 && cols % groupSize))
    return createStringError(formatv("group size {0} does not divide the input "
                                     "width {1}", groupSize, cols));
  int64_t groups = w.groups();
  if (int64_t(qweight.size()) != cols * (rows / 8) ||
      int64_t(qzeros.size()) != groups * (rows / 8) ||
      int64_t(scales.size()) != groups * rows)
    return createStringError("qweight, qzeros or scales sizes do not match "
                             "the weight's shape");
  std::vector<uint8_t> transposed = unpackAwq(qweight, cols, rows);
  w.codes.resize(size_t(rows * cols));
  for (int64_t k = 0; k < cols; ++k)
    for (int64_t n = 0; n < rows; ++n)
      w.codes[n * cols + k] = transposed[k * rows + n];
  std::vector<uint8_t> zeros = unpackAwq(qzeros, groups, rows);
  w.zeros.resize(size_t(rows * groups));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t n = 0; n < rows; ++n)
      w.zeros[n * groups + g] = float(zeros[g * rows + n]);
  w.scales = transposeScales(scales, groups, rows);
  return w;
}

Expected<AffineWeight> lowbit::readAffineWeight(const WeightStore &store,
                                                StringRef name, int bits,
                                                int64_t groupSize,
                                                bool actOrder) {
  auto bad = [&](const Twine &what) {
    StringRef file = store.fileOf(name);
    return createStringError(
        (file.empty() ? Twine() : file + ": ") + "affine weight '" + name +
        "': " + what);
  };
  const TensorRef *codes = store.find(name);
  if (!codes)
    return bad("no such tensor in the weight store");
  if (codes->dtype != DType::U8 || codes->shape.size() != 2)
    return bad("codes must be a u8 matrix [N, K]");
  AffineWeight w;
  w.rows = codes->shape[0];
  w.cols = codes->shape[1];
  w.bits = bits;
  w.groupSize = groupSize;
  if (groupSize == 0 || groupSize < -1 || (groupSize > 0 && w.cols % groupSize))
    return bad(formatv("group size {0} does not divide the input width {1}",
                       groupSize, w.cols).str());
  int64_t groups = w.groups();
  w.codes.assign(codes->data, codes->data + codes->bytes);
  for (auto [suffix, out] : {std::pair<const char *, std::vector<float> *>{
                                 ".scales", &w.scales},
                             {".zeros", &w.zeros}}) {
    const TensorRef *t = store.find((name + suffix).str());
    if (!t || t->dtype != DType::F32 ||
        t->shape != std::vector<int64_t>{w.rows, groups})
      return bad(formatv("needs an f32 tensor '{0}{1}' of shape [{2}, {3}] "
                         "(the group size of its type)", name, suffix, w.rows,
                         groups).str());
    out->resize(size_t(w.rows * groups));
    std::memcpy(out->data(), t->data, out->size() * sizeof(float));
  }
  if (actOrder) {
    const TensorRef *g = store.find(companionName(name, Companion::GroupIndex));
    if (!g || g->dtype != DType::I32 || g->shape != std::vector<int64_t>{w.cols})
      return bad(formatv("act-order weight needs an i32 tensor '{0}.g_idx' of "
                         "shape [{1}]", name, w.cols).str());
    w.gIdx.resize(size_t(w.cols));
    std::memcpy(w.gIdx.data(), g->data, w.gIdx.size() * sizeof(int32_t));
    for (int32_t v : w.gIdx)
      if (v < 0 || v >= groups)
        return bad(formatv("g_idx value {0} is outside [0, {1})", v, groups).str());
  }
  return w;
}
