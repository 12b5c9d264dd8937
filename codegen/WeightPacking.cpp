//===- WeightPacking.cpp - Weights in the layouts the kernels read --------===//
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Codegen/WeightPacking.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Quant/Bnb.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/Endian.h"

#include <algorithm>
#include <cmath>
#include <cassert>
#include <cstring>
#include <numeric>

using namespace ::lowbit;
using mlir::lowbit::QuantFormat;

int64_t PackedLayout::codeBytesPerBlock() const {
  switch (family) {
  case KernelFamily::Float:
    return floatEncoding == FloatEncoding::F32 ? 128 : 64;
  case KernelFamily::Lut:
    return 16;
  case KernelFamily::Integer:
    if (signedCodes || bits == 8)
      return 32;
    if (bits <= 2)
      return 8;
    if (bits <= 4)
      return 16;
    return 24;
  }
  return 0;
}

int64_t PackedLayout::paramBytesPerBlock() const {
  switch (family) {
  case KernelFamily::Float:
    return 0;
  case KernelFamily::Lut:
    return 4;
  case KernelFamily::Integer:
    if (superBlock == 256)
      return 8 + subBlocksPerSuperBlock() * (codeOffset ? 1 : 2);
    return (32 / subBlock) * (storesMins() ? 2 : 1) * (halfParams ? 2 : 4);
  }
  return 0;
}

/// Blocks (or super-blocks) of a row that have a parameter record.
static int64_t paramRecordsPerRow(const PackedLayout &l) {
  if (l.family == KernelFamily::Float)
    return 0;
  if (l.family == KernelFamily::Integer)
    return l.superBlock == 256 ? l.cols / 256 : l.blocksPerRow() / l.paramBlocks;
  return l.blocksPerRow();
}

static int64_t alignTo64(int64_t v) { return (v + 63) / 64 * 64; }

int64_t PackedLayout::paramsOffset() const {
  int64_t blocks = family == KernelFamily::Float ? paddedCols() / 32 : blocksPerRow();
  return alignTo64(rows * blocks * codeBytesPerBlock());
}

int64_t PackedLayout::totalBytes() const {
  return paramsOffset() + alignTo64(rows * paramRecordsPerRow(*this) * paramBytesPerBlock());
}

std::string PackedLayout::key() const {
  switch (family) {
  case KernelFamily::Float:
    return floatEncoding == FloatEncoding::F32   ? "f32"
           : floatEncoding == FloatEncoding::F16 ? "f16"
                                                 : "bf16";
  case KernelFamily::Lut:
    return fp4Codebook ? "fp4" : "nf4";
  case KernelFamily::Integer: {
    std::string k = signedCodes ? "s8" : "u" + std::to_string(bits);
    k += "b" + std::to_string(subBlock);
    k += halfParams ? "h" : "f";
    if (hasMin)
      k += "m";
    if (superBlock == 256)
      k += "k256";
    if (codeOffset)
      k += "o" + std::to_string(codeOffset);
    if (paramBlocks > 1)
      k += "p" + std::to_string(paramBlocks);
    if (int8Codebook)
      k += fp4Codebook ? "cfp4" : "cnf4";
    if (interleave > 1)
      k += "r" + std::to_string(interleave);
    static const char *kAct[] = {"q80", "q8k", "b32", "row", "q81"};
    return k + "_" + kAct[int(activationQuant)];
  }
  }
  return "?";
}

namespace {
/// One row's codes and the d, m of each 16-value sub-block, before layout.
struct RowCodes {
  std::vector<uint8_t> u;   // cols codes (two's complement when signed)
  std::vector<float> d, m;  // cols / 16 each
  // Two-level layouts: d and dmin per super-block, sc and mn per sub-block.
  std::vector<float> superD, superDmin;
  std::vector<int8_t> sc, mn;
};
} // namespace

static float halfAt(const uint8_t *p) {
  return fp16ToFloat(llvm::support::endian::read16le(p));
}

void lowbit::decodeGgmlBlock(DType type, const uint8_t *b, uint8_t *u, float *d,
                            float *m) {
  auto setPair = [&](int sub32, float dv, float mv) {
    d[2 * sub32] = d[2 * sub32 + 1] = dv;
    m[2 * sub32] = m[2 * sub32 + 1] = mv;
  };
  switch (type) {
  case DType::Q4_0: {
    float dv = halfAt(b);
    for (int j = 0; j < 16; ++j) {
      u[j] = b[2 + j] & 15;
      u[j + 16] = b[2 + j] >> 4;
    }
    setPair(0, dv, -8 * dv);
    return;
  }
  case DType::Q4_1:
    for (int j = 0; j < 16; ++j) {
      u[j] = b[4 + j] & 15;
      u[j + 16] = b[4 + j] >> 4;
    }
    setPair(0, halfAt(b), halfAt(b + 2));
    return;
  case DType::Q5_0:
  case DType::Q5_1: {
    bool one = type == DType::Q5_1;
    uint32_t qh = llvm::support::endian::read32le(b + (one ? 4 : 2));
    const uint8_t *qs = b + (one ? 8 : 6);
    for (int j = 0; j < 16; ++j) {
      u[j] = (qs[j] & 15) | (((qh >> j) << 4) & 16);
      u[j + 16] = (qs[j] >> 4) | ((qh >> (j + 12)) & 16);
    }
    float dv = halfAt(b);
    setPair(0, dv, one ? halfAt(b + 2) : -16 * dv);
    return;
  }
  case DType::Q8_0:
    std::memcpy(u, b + 2, 32);
    setPair(0, halfAt(b), 0.0f);
    return;
  case DType::Q2_K: {
    const uint8_t *scales = b, *q = b + 16;
    float dAll = halfAt(b + 80), dmin = halfAt(b + 82);
    int is = 0, y = 0;
    for (int n = 0; n < 256; n += 128, q += 32)
      for (int shift = 0; shift < 8; shift += 2)
        for (int half = 0; half < 2; ++half, ++is) {
          d[is] = dAll * (scales[is] & 15);
          m[is] = -dmin * (scales[is] >> 4);
          for (int l = 0; l < 16; ++l)
            u[y++] = (q[l + 16 * half] >> shift) & 3;
        }
    return;
  }
  case DType::Q3_K: {
    const uint8_t *hm = b, *q = b + 32, *sb = b + 96;
    float dAll = halfAt(b + 108);
    int is = 0, y = 0;
    uint8_t mask = 1;
    for (int n = 0; n < 256; n += 128, q += 32)
      for (int shift = 0; shift < 8; shift += 2, mask <<= 1)
        for (int half = 0; half < 2; ++half, ++is) {
          int low = is < 8 ? sb[is] & 15 : sb[is - 8] >> 4;
          int high = (sb[8 + is % 4] >> (2 * (is / 4))) & 3;
          d[is] = dAll * float((low | (high << 4)) - 32);
          m[is] = -4 * d[is];
          for (int l = 16 * half; l < 16 * half + 16; ++l)
            u[y++] = ((q[l] >> shift) & 3) | ((hm[l] & mask) ? 4 : 0);
        }
    return;
  }
  case DType::Q4_K:
  case DType::Q5_K: {
    bool five = type == DType::Q5_K;
    float dAll = halfAt(b), dmin = halfAt(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *q = b + (five ? 48 : 16);
    uint8_t u1 = 1, u2 = 2;
    int y = 0;
    for (int j = 0; j < 8; j += 2, q += 32, u1 <<= 2, u2 <<= 2) {
      uint8_t sc, mn;
      decodeScaleMinK4(j, scales, sc, mn);
      setPair(j, dAll * sc, -dmin * mn);
      decodeScaleMinK4(j + 1, scales, sc, mn);
      setPair(j + 1, dAll * sc, -dmin * mn);
      for (int l = 0; l < 32; ++l)
        u[y++] = (q[l] & 15) | (five && (qh[l] & u1) ? 16 : 0);
      for (int l = 0; l < 32; ++l)
        u[y++] = (q[l] >> 4) | (five && (qh[l] & u2) ? 16 : 0);
    }
    return;
  }
  case DType::Q6_K: {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
    float dAll = halfAt(b + 208);
    for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        u[n + l] = (ql[l] & 15) | ((qh[l] & 3) << 4);
        u[n + l + 32] = (ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4);
        u[n + l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
        u[n + l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
      }
      for (int s = 0; s < 8; ++s) {
        d[n / 16 + s] = dAll * sc[s];
        m[n / 16 + s] = -32 * d[n / 16 + s];
      }
    }
    return;
  }
  default:
    return;
  }
}

void lowbit::decodeKQuantScales(DType type, const uint8_t *b, float &d, float &dmin,
                               int8_t *sc, int8_t *mn) {
  switch (type) {
  case DType::Q2_K:
    d = halfAt(b + 80);
    dmin = halfAt(b + 82);
    for (int j = 0; j < 16; ++j) {
      sc[j] = int8_t(b[j] & 15);
      mn[j] = int8_t(b[j] >> 4);
    }
    return;
  case DType::Q3_K: {
    const uint8_t *sb = b + 96;
    d = halfAt(b + 108);
    dmin = 4 * d;
    for (int j = 0; j < 16; ++j) {
      int low = j < 8 ? sb[j] & 15 : sb[j - 8] >> 4;
      int high = (sb[8 + j % 4] >> (2 * (j / 4))) & 3;
      sc[j] = mn[j] = int8_t((low | (high << 4)) - 32);
    }
    return;
  }
  case DType::Q4_K:
  case DType::Q5_K:
    d = halfAt(b);
    dmin = halfAt(b + 2);
    for (int j = 0; j < 8; ++j) {
      uint8_t s, m;
      decodeScaleMinK4(j, b + 4, s, m);
      sc[j] = int8_t(s);
      mn[j] = int8_t(m);
    }
    return;
  case DType::Q6_K:
    d = halfAt(b + 208);
    dmin = 32 * d;
    for (int j = 0; j < 16; ++j)
      sc[j] = mn[j] = int8_t(b[192 + j]);
    return;
  default:
    return;
  }
}

struct GgmlTraits {
  int bits, subBlock;
  bool signedCodes, halfParams, hasMin;
  ActivationQuant act;
  int superBlock = 32;
  int codeOffset = 0;
};

static std::optional<GgmlTraits> ggmlTraits(DType t) {
  switch (t) {
  case DType::Q4_0:
    return GgmlTraits{4, 32, false, true, true, ActivationQuant::Q8_0, 32, 8};
  case DType::Q4_1:
    return GgmlTraits{4, 32, false, true, true, ActivationQuant::Q8_1};
  case DType::Q5_0:
    return GgmlTraits{5, 32, false, true, true, ActivationQuant::Q8_0, 32, 16};
  case DType::Q5_1:
    return GgmlTraits{5, 32, false, true, true, ActivationQuant::Q8_1};
  case DType::Q8_0:
    return GgmlTraits{8, 32, true, true, false, ActivationQuant::Q8_0};
  case DType::Q2_K:
    return GgmlTraits{2, 16, false, false, true, ActivationQuant::Q8_K, 256};
  case DType::Q3_K:
    return GgmlTraits{3, 16, false, false, true, ActivationQuant::Q8_K, 256, 4};
  case DType::Q4_K:
    return GgmlTraits{4, 32, false, false, true, ActivationQuant::Q8_K, 256};
  case DType::Q5_K:
    return GgmlTraits{5, 32, false, false, true, ActivationQuant::Q8_K, 256};
  case DType::Q6_K:
    return GgmlTraits{6, 16, false, false, true, ActivationQuant::Q8_K, 256, 32};
  default:
    return std::nullopt;
  }
}

/// Writes one row's codes and parameters into the packed bytes.
static void encodeIntegerRow(const PackedLayout &l, int64_t row,
                             const RowCodes &rc, uint8_t *out) {
  int64_t blocks = l.blocksPerRow(), cb = l.codeBytesPerBlock();
  uint8_t *codes = out + row * blocks * cb;
  uint8_t *params = out + l.paramsOffset() + row * paramRecordsPerRow(l) * l.paramBytesPerBlock();
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t *u = rc.u.data() + b * 32;
    uint8_t *c = codes + b * cb;
    if (l.signedCodes || l.bits == 8) {
      std::memcpy(c, u, 32);
    } else if (l.bits <= 2) {
      for (int i = 0; i < 8; ++i)
        c[i] = u[i] | u[i + 8] << 2 | u[i + 16] << 4 | u[i + 24] << 6;
    } else {
      for (int i = 0; i < 16; ++i)
        c[i] = (u[i] & 15) | (u[i + 16] & 15) << 4;
      if (l.bits > 4)
        for (int i = 0; i < 8; ++i)
          c[16 + i] = (u[i] >> 4) | (u[i + 8] >> 4) << 2 | (u[i + 16] >> 4) << 4 |
                      (u[i + 24] >> 4) << 6;
    }
    if (l.superBlock == 256 || b % l.paramBlocks)
      continue;
    uint8_t *p = params + b / l.paramBlocks * l.paramBytesPerBlock();
    int subs = 32 / l.subBlock;
    for (int s = 0; s < subs; ++s) {
      int idx = int(b * 2 + s * (l.subBlock / 16));
      float vals[2] = {rc.d[idx], rc.m[idx]};
      for (int k = 0; k < (l.storesMins() ? 2 : 1); ++k) {
        if (l.halfParams) {
          uint16_t h = floatToFp16(vals[k]);
          std::memcpy(p, &h, 2);
          p += 2;
        } else {
          std::memcpy(p, &vals[k], 4);
          p += 4;
        }
      }
    }
  }
  if (l.superBlock != 256)
    return;
  int64_t supers = l.cols / 256, subs = l.subBlocksPerSuperBlock();
  for (int64_t sb = 0; sb < supers; ++sb) {
    uint8_t *p = params + sb * l.paramBytesPerBlock();
    std::memcpy(p, &rc.superD[sb], 4);
    std::memcpy(p + 4, &rc.superDmin[sb], 4);
    std::memcpy(p + 8, rc.sc.data() + sb * subs, size_t(subs));
    if (!l.codeOffset)
      std::memcpy(p + 8 + subs, rc.mn.data() + sb * subs, size_t(subs));
  }
}

static bool exactInHalf(float v) { return fp16ToFloat(floatToFp16(v)) == v; }

static llvm::Error error(llvm::StringRef name, const llvm::Twine &what) {
  return llvm::createStringError("weight '" + name + "': " + what);
}

static llvm::Expected<PackedWeight>
packRows(llvm::StringRef name, PackedLayout layout,
         const std::function<void(int64_t, RowCodes &)> &decodeRow) {
  PackedWeight w;
  w.layout = layout;
  w.bytes.assign(size_t(layout.totalBytes()), 0);
  RowCodes rc;
  rc.u.resize(size_t(layout.cols));
  rc.d.resize(size_t(layout.cols / 16));
  rc.m.resize(size_t(layout.cols / 16));
  rc.superD.resize(size_t(layout.cols / 256));
  rc.superDmin.resize(size_t(layout.cols / 256));
  rc.sc.resize(size_t(layout.cols / 16));
  rc.mn.resize(size_t(layout.cols / 16));
  for (int64_t r = 0; r < layout.rows; ++r) {
    decodeRow(r, rc);
    if (w.layout.halfParams)
      for (size_t i = 0; i < rc.d.size(); ++i)
        if (!exactInHalf(rc.d[i]) || !exactInHalf(rc.m[i]))
          return error(name, "block parameters overflow f16");
    encodeIntegerRow(layout, r, rc, w.bytes.data());
  }
  return std::move(w);
}

PackedWeight lowbit::packFloatMatrix(const float *values, int64_t rows,
                                     int64_t cols, FloatEncoding e) {
  PackedWeight w;
  w.layout.family = KernelFamily::Float;
  w.layout.floatEncoding = e;
  w.layout.rows = rows;
  w.layout.cols = cols;
  int64_t pc = w.layout.paddedCols();
  w.bytes.assign(size_t(w.layout.totalBytes()), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float v = values[r * cols + c];
      if (e == FloatEncoding::F32) {
        std::memcpy(w.bytes.data() + (r * pc + c) * 4, &v, 4);
      } else {
        uint16_t h = e == FloatEncoding::F16 ? floatToFp16(v) : floatToBf16(v);
        std::memcpy(w.bytes.data() + (r * pc + c) * 2, &h, 2);
      }
    }
  return w;
}

llvm::Expected<PackedWeight> lowbit::packWeight(const WeightStore &weights,
                                                llvm::StringRef name,
                                                const WeightEncoding &enc,
                                                int64_t rows, int64_t cols) {
  llvm::Expected<const TensorRef *> stored = weights.get(name);
  if (!stored)
    return stored.takeError();
  const TensorRef &t = **stored;
  PackedLayout l;
  l.rows = rows;
  l.cols = cols;

  if (!enc.quantized) {
    std::vector<float> values;
    if (llvm::Error e = dequantize(t, values))
      return std::move(e);
    if (int64_t(values.size()) != rows * cols)
      return error(name, "holds " + llvm::Twine(values.size()) +
                             " values, the IR expects " + llvm::Twine(rows * cols));
    // An artifact is an export: like GGUF, it refuses NaN/Inf weights.
    if (llvm::Error e = checkFinite(name, values.data(), rows * cols, cols))
      return fileError(weights.fileOf(name), "{0}", llvm::toString(std::move(e)));
    return packFloatMatrix(values.data(), rows, cols, enc.floatEncoding);
  }
  if (cols % 32)
    return error(name, "input width " + llvm::Twine(cols) +
                           " is not a multiple of 32, which every quantized "
                           "kernel layout needs");

  if (std::optional<GgmlTraits> tr = ggmlTraits(t.dtype)) {
    const DTypeInfo &info = getDTypeInfo(t.dtype);
    l.family = KernelFamily::Integer;
    l.bits = tr->bits;
    l.subBlock = tr->subBlock;
    l.signedCodes = tr->signedCodes;
    l.halfParams = tr->halfParams;
    l.hasMin = tr->hasMin;
    l.activationQuant = tr->act;
    l.superBlock = tr->superBlock;
    l.codeOffset = tr->codeOffset;
    uint64_t rowBytes = uint64_t(cols) / info.blockElems * info.blockBytes;
    if (t.bytes < rowBytes * uint64_t(rows))
      return error(name, "is shorter than its shape needs");
    auto decode = [&](int64_t r, RowCodes &rc) {
      const uint8_t *src = t.data + r * rowBytes;
      int subs = int(l.subBlocksPerSuperBlock());
      for (int64_t b = 0; b < cols / int64_t(info.blockElems); ++b) {
        decodeGgmlBlock(t.dtype, src + b * info.blockBytes,
                        rc.u.data() + b * info.blockElems,
                        rc.d.data() + b * info.blockElems / 16,
                        rc.m.data() + b * info.blockElems / 16);
        if (l.superBlock == 256)
          decodeKQuantScales(t.dtype, src + b * info.blockBytes, rc.superD[b],
                             rc.superDmin[b], rc.sc.data() + b * subs,
                             rc.mn.data() + b * subs);
      }
    };
    llvm::Expected<PackedWeight> w = packRows(name, l, decode);
    if (!w && l.halfParams) {
      // A d near f16's limit times 8 or 16 no longer fits: keep f32.
      llvm::consumeError(w.takeError());
      l.halfParams = false;
      return packRows(name, l, decode);
    }
    return w;
  }

  switch (enc.format) {
  case QuantFormat::Affine: {
    const TensorRef *scales = weights.find(companionName(name, Companion::Scales));
    const TensorRef *zeros = weights.find(companionName(name, Companion::Zeros));
    int64_t g = enc.groupSize < 0 ? cols : enc.groupSize;
    int64_t groups = cols / g;
    if (!scales || !zeros || scales->dtype != DType::F32 ||
        zeros->dtype != DType::F32 ||
        scales->numElements() != rows * groups ||
        zeros->numElements() != rows * groups || t.dtype != DType::U8 ||
        t.numElements() != rows * cols)
      return error(name, "affine weight needs u8 codes [rows, cols] and f32 "
                         ".scales/.zeros [rows, groups]");
    if (g % 32)
      return error(name, "affine group size " + llvm::Twine(g) +
                             " is not a multiple of 32");
    std::vector<int32_t> order(static_cast<size_t>(cols)), groupOf(static_cast<size_t>(cols));
    std::iota(order.begin(), order.end(), 0);
    for (int64_t c = 0; c < cols; ++c)
      groupOf[c] = int32_t(c / g);
    if (enc.actOrder) {
      const TensorRef *gIdx = weights.find(companionName(name, Companion::GroupIndex));
      if (!gIdx || gIdx->dtype != DType::I32 || gIdx->numElements() != cols)
        return error(name, "act-order weight needs an i32 .g_idx [cols]");
      std::memcpy(groupOf.data(), gIdx->data, size_t(cols) * 4);
      for (int32_t v : groupOf)
        if (v < 0 || v >= groups)
          return error(name, "g_idx value " + llvm::Twine(v) + " is out of range");
      order = columnsByGroup(groupOf);
      for (int64_t b = 0; b < cols; b += 32)
        if (groupOf[order[b]] != groupOf[order[b + 31]])
          return error(name, "act-order groups do not fall on 32-column blocks");
      l.permutedColumns = true;
    }
    l.family = KernelFamily::Integer;
    l.bits = int(enc.bits);
    l.signedCodes = enc.bits == 8;
    l.subBlock = 32;
    l.halfParams = false;
    l.hasMin = true;
    l.activationQuant = ActivationQuant::Block32;
    // A group of g values spans g/32 blocks (after the act-order sort too):
    // one parameter record per group.
    l.paramBlocks = int(g / 32);
    for (int64_t c = 0; c < cols && l.paramBlocks > 1; ++c)
      if (groupOf[order[c]] != groupOf[order[c / g * g]])
        l.paramBlocks = 1; // groups of unequal sizes: parameters per block
    const float *s = reinterpret_cast<const float *>(scales->data);
    const float *z = reinterpret_cast<const float *>(zeros->data);
    llvm::Expected<PackedWeight> w =
        packRows(name, l, [&](int64_t r, RowCodes &rc) {
          for (int64_t j = 0; j < cols; ++j) {
            int64_t c = order[j];
            uint8_t q = t.data[r * cols + c];
            rc.u[j] = l.signedCodes ? uint8_t(int(q) - 128) : q;
            if (j % 16 == 0) {
              int64_t k = r * groups + groupOf[c];
              rc.d[j / 16] = s[k];
              // s·(q - z) = s·u + m with u = q (or q - 128 when signed).
              rc.m[j / 16] = l.signedCodes ? s[k] * (128.0f - z[k]) : -s[k] * z[k];
            }
          }
        });
    if (w && l.permutedColumns)
      w->columnOrder = std::move(order);
    return w;
  }
  case QuantFormat::Int8Row: {
    const TensorRef *scb = weights.find(companionName(name, Companion::RowScales));
    if (!scb || scb->dtype != DType::F32 || scb->numElements() != rows ||
        t.numElements() != rows * cols)
      return error(name, "int8_row weight needs i8 codes and an f32 .scb [rows]");
    l.family = KernelFamily::Integer;
    l.bits = 8;
    l.signedCodes = true;
    l.subBlock = 32;
    l.hasMin = false;
    l.activationQuant = ActivationQuant::Row;
    const float *rowScale = reinterpret_cast<const float *>(scb->data);
    return packRows(name, l, [&](int64_t r, RowCodes &rc) {
      std::memcpy(rc.u.data(), t.data + r * cols, size_t(cols));
      std::fill(rc.d.begin(), rc.d.end(), rowScale[r] / 127.0f);
      std::fill(rc.m.begin(), rc.m.end(), 0.0f);
    });
  }
  case QuantFormat::NF4:
  case QuantFormat::FP4: {
    bool fp4 = enc.format == QuantFormat::FP4;
    llvm::Expected<Bnb4BitWeight> bnb = readBnb4BitWeight(
        weights, name, fp4 ? Bnb4BitType::FP4 : Bnb4BitType::NF4, enc.groupSize,
        rows, cols);
    if (!bnb)
      return bnb.takeError();
    if (bnb->blockSize % 32)
      return error(name, "4-bit block size " + llvm::Twine(bnb->blockSize) +
                             " is not a multiple of 32");
    std::vector<float> absmax = bnbBlockAbsmax(*bnb);
    l.family = KernelFamily::Lut;
    l.fp4Codebook = fp4;
    l.bits = 4;
    PackedWeight w;
    w.layout = l;
    w.bytes.assign(size_t(l.totalBytes()), 0);
    int64_t blocks = l.blocksPerRow();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < blocks; ++b) {
        uint8_t *c = w.bytes.data() + (r * blocks + b) * 16;
        for (int i = 0; i < 32; ++i) {
          int64_t e = r * cols + b * 32 + i;
          uint8_t byte = bnb->packed[size_t(e / 2)];
          uint8_t code = (e % 2 == 0) ? byte >> 4 : byte & 15;
          c[i % 16] |= i < 16 ? code : code << 4;
        }
        float a = absmax[size_t((r * cols + b * 32) / bnb->blockSize)];
        std::memcpy(w.bytes.data() + l.paramsOffset() + (r * blocks + b) * 4, &a, 4);
      }
    return std::move(w);
  }
  default:
    return error(name, "has an encoding the kernels do not read (" +
                           getDTypeInfo(t.dtype).name + ")");
  }
}

/// The 32 codes of a block in the row-major layout (signed for 8-bit).
static void blockCodes(const PackedLayout &l, const uint8_t *c, int *code) {
  for (int i = 0; i < 32; ++i) {
    if (l.signedCodes || l.bits == 8)
      code[i] = int8_t(c[i]);
    else if (l.bits <= 2)
      code[i] = (c[i % 8] >> (2 * (i / 8))) & 3;
    else {
      code[i] = i < 16 ? c[i] & 15 : c[i - 16] >> 4;
      if (l.bits > 4)
        code[i] |= ((c[16 + i % 8] >> (2 * (i / 8))) & 3) << 4;
    }
  }
}

std::vector<int32_t> lowbit::columnsByGroup(llvm::ArrayRef<int32_t> groupOf) {
  std::vector<int32_t> order(groupOf.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return groupOf[a] < groupOf[b]; });
  return order;
}

const Int8Codebook &::lowbit::int8Codebook(bool fp4) {
  auto make = [](Bnb4BitType type) {
    llvm::ArrayRef<float> book = bnb4BitCodebook(type);
    float amax = 0;
    for (float v : book)
      amax = std::max(amax, std::fabs(v));
    Int8Codebook best{};
    float bestError = INFINITY;
    for (int top = 64; top <= 127; ++top) {
      float scale = float(top) / amax, error = 0;
      for (float v : book) {
        float miss = (std::round(v * scale) - v * scale) / scale;
        error += miss * miss;
      }
      if (error < bestError) {
        bestError = error;
        best.scale = scale;
        for (int i = 0; i < 16; ++i)
          best.values[i] = int8_t(std::round(book[size_t(i)] * scale));
      }
    }
    return best;
  };
  static const Int8Codebook kNf4 = make(Bnb4BitType::NF4), kFp4 = make(Bnb4BitType::FP4);
  return fp4 ? kFp4 : kNf4;
}

void ::lowbit::useInt8Codebook(PackedWeight &w) {
  PackedLayout l = w.layout;
  assert(l.family == KernelFamily::Lut && "not a codebook weight");
  int64_t blocks = l.blocksPerRow();
  auto absmaxAt = [&](int64_t r, int64_t b) {
    float a;
    std::memcpy(&a, w.bytes.data() + l.paramsOffset() + (r * blocks + b) * 4, 4);
    return a;
  };
  // The widest record (bitsandbytes' blocks of 64 or more) every row allows.
  int per = 1;
  for (int p : {4, 2}) {
    bool shared = blocks % p == 0;
    for (int64_t r = 0; shared && r < l.rows; ++r)
      for (int64_t b = 0; shared && b < blocks; ++b)
        shared = absmaxAt(r, b) == absmaxAt(r, b / p * p);
    if (shared) {
      per = p;
      break;
    }
  }
  const Int8Codebook &book = int8Codebook(l.fp4Codebook);
  PackedLayout n = l;
  n.family = KernelFamily::Integer;
  n.int8Codebook = true;
  n.bits = 4;
  n.signedCodes = false;
  n.subBlock = 32;
  n.superBlock = 32;
  n.halfParams = false;
  n.hasMin = false;
  n.codeOffset = 0;
  n.paramBlocks = per;
  n.activationQuant = ActivationQuant::Block32;
  std::vector<uint8_t> out(size_t(n.totalBytes()), 0);
  // Both layouts store 4-bit codes as byte i = value i | value i+16 << 4.
  std::memcpy(out.data(), w.bytes.data(), size_t(l.rows * blocks * 16));
  for (int64_t r = 0; r < l.rows; ++r)
    for (int64_t b = 0; b < blocks; b += per) {
      float d = absmaxAt(r, b) / book.scale;
      std::memcpy(out.data() + n.paramsOffset() + (r * (blocks / per) + b / per) * 4, &d, 4);
    }
  w.bytes = std::move(out);
  w.layout = n;
}

/// Bytes of one parameter value in a record (legacy blocks).
static int64_t paramValueBytes(const PackedLayout &l) { return l.halfParams ? 2 : 4; }

void ::lowbit::interleaveRows(PackedWeight &w, int R) {
  PackedLayout &l = w.layout;
  assert(R <= kMaxInterleavedRows && "row group too large");
  int64_t blocks = l.blocksPerRow(), cb = l.codeBytesPerBlock(), groups = l.rows / R;
  const int64_t C = 4 * R; // bytes of one chunk: 4 values of each row
  std::vector<uint8_t> out(w.bytes.size(), 0);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t b = 0; b < blocks; ++b) {
      int u[kMaxInterleavedRows][32];
      for (int r = 0; r < R; ++r)
        blockCodes(l, w.bytes.data() + ((g * R + r) * blocks + b) * cb, u[r]);
      uint8_t *t = out.data() + (g * blocks + b) * R * cb;
      for (int r = 0; r < R; ++r)
        for (int i = 0; i < 4; ++i) {
          if (l.signedCodes || l.bits == 8) {
            for (int q = 0; q < 8; ++q)
              t[C * q + 4 * r + i] = uint8_t(u[r][4 * q + i]);
          } else if (l.bits <= 2) {
            for (int p = 0; p < 2; ++p)
              for (int j = 0; j < 4; ++j)
                t[C * p + 4 * r + i] |= uint8_t((u[r][4 * (p + 2 * j) + i] & 3) << (2 * j));
          } else {
            for (int c = 0; c < 4; ++c)
              t[C * c + 4 * r + i] =
                  uint8_t((u[r][4 * c + i] & 15) | (u[r][16 + 4 * c + i] & 15) << 4);
            if (l.bits > 4)
              for (int p = 0; p < 2; ++p)
                for (int j = 0; j < 4; ++j)
                  t[4 * C + C * p + 4 * r + i] |=
                      uint8_t(((u[r][4 * (p + 2 * j) + i] >> 4) & 3) << (2 * j));
          }
        }
    }
  // Parameters: the same values, rows innermost.
  const uint8_t *params = w.bytes.data() + l.paramsOffset();
  uint8_t *outParams = out.data() + l.paramsOffset();
  int64_t pb = l.paramBytesPerBlock();
  if (l.superBlock == 256) {
    int64_t supers = l.cols / 256, subs = l.subBlocksPerSuperBlock();
    int64_t scalars = l.codeOffset ? subs : 2 * subs;
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t sb = 0; sb < supers; ++sb) {
        uint8_t *dst = outParams + (g * supers + sb) * R * pb;
        for (int r = 0; r < R; ++r) {
          const uint8_t *src = params + ((g * R + r) * supers + sb) * pb;
          std::memcpy(dst + 4 * r, src, 4);
          std::memcpy(dst + 4 * R + 4 * r, src + 4, 4);
          for (int64_t j = 0; j < scalars; ++j)
            dst[8 * R + j * R + r] = src[8 + j];
        }
      }
  } else {
    int64_t vb = paramValueBytes(l), values = pb / vb, records = paramRecordsPerRow(l);
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t b = 0; b < records; ++b) {
        uint8_t *dst = outParams + (g * records + b) * R * pb;
        for (int r = 0; r < R; ++r) {
          const uint8_t *src = params + ((g * R + r) * records + b) * pb;
          for (int64_t v = 0; v < values; ++v)
            std::memcpy(dst + (v * R + r) * vb, src + v * vb, size_t(vb));
        }
      }
  }
  w.bytes = std::move(out);
  l.interleave = R;
}

/// Row `row` of an interleaved weight, in the row-major layout (one row).
static PackedWeight rowOfInterleaved(const PackedWeight &w, int64_t row) {
  const PackedLayout &l = w.layout;
  int R = l.interleave;
  int64_t blocks = l.blocksPerRow(), cb = l.codeBytesPerBlock(), g = row / R, r = row % R;
  const int64_t C = 4 * R;
  PackedWeight one;
  one.layout = l;
  one.layout.rows = 1;
  one.layout.interleave = 1;
  one.bytes.assign(size_t(one.layout.totalBytes()), 0);
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t *t = w.bytes.data() + (g * blocks + b) * R * cb;
    int u[32];
    for (int i = 0; i < 4; ++i) {
      if (l.signedCodes || l.bits == 8) {
        for (int q = 0; q < 8; ++q)
          u[4 * q + i] = t[C * q + 4 * r + i];
      } else if (l.bits <= 2) {
        for (int p = 0; p < 2; ++p)
          for (int j = 0; j < 4; ++j)
            u[4 * (p + 2 * j) + i] = (t[C * p + 4 * r + i] >> (2 * j)) & 3;
      } else {
        for (int c = 0; c < 4; ++c) {
          u[4 * c + i] = t[C * c + 4 * r + i] & 15;
          u[16 + 4 * c + i] = t[C * c + 4 * r + i] >> 4;
        }
        if (l.bits > 4)
          for (int p = 0; p < 2; ++p)
            for (int j = 0; j < 4; ++j)
              u[4 * (p + 2 * j) + i] |= ((t[4 * C + C * p + 4 * r + i] >> (2 * j)) & 3) << 4;
      }
    }
    uint8_t *c = one.bytes.data() + b * cb;
    if (l.signedCodes || l.bits == 8) {
      for (int i = 0; i < 32; ++i)
        c[i] = uint8_t(u[i]);
    } else if (l.bits <= 2) {
      for (int i = 0; i < 8; ++i)
        c[i] = uint8_t(u[i] | u[i + 8] << 2 | u[i + 16] << 4 | u[i + 24] << 6);
    } else {
      for (int i = 0; i < 16; ++i)
        c[i] = uint8_t((u[i] & 15) | (u[i + 16] & 15) << 4);
      if (l.bits > 4)
        for (int i = 0; i < 8; ++i)
          c[16 + i] = uint8_t((u[i] >> 4) | (u[i + 8] >> 4) << 2 | (u[i + 16] >> 4) << 4 |
                              (u[i + 24] >> 4) << 6);
    }
  }
  const uint8_t *params = w.bytes.data() + l.paramsOffset();
  uint8_t *outParams = one.bytes.data() + one.layout.paramsOffset();
  int64_t pb = l.paramBytesPerBlock();
  if (l.superBlock == 256) {
    int64_t supers = l.cols / 256, subs = l.subBlocksPerSuperBlock();
    int64_t scalars = l.codeOffset ? subs : 2 * subs;
    for (int64_t sb = 0; sb < supers; ++sb) {
      const uint8_t *src = params + (g * supers + sb) * R * pb;
      uint8_t *dst = outParams + sb * pb;
      std::memcpy(dst, src + 4 * r, 4);
      std::memcpy(dst + 4, src + 4 * R + 4 * r, 4);
      for (int64_t j = 0; j < scalars; ++j)
        dst[8 + j] = src[8 * R + j * R + r];
    }
  } else {
    int64_t vb = paramValueBytes(l), values = pb / vb, records = paramRecordsPerRow(l);
    for (int64_t b = 0; b < records; ++b) {
      const uint8_t *src = params + (g * records + b) * R * pb;
      for (int64_t v = 0; v < values; ++v)
        std::memcpy(outParams + b * pb + v * vb, src + (v * R + r) * vb, size_t(vb));
    }
  }
  return one;
}

void ::lowbit::unpackRow(const PackedWeight &w, int64_t row, float *out) {
  if (w.layout.interleave > 1)
    return unpackRow(rowOfInterleaved(w, row), 0, out);
  const PackedLayout &l = w.layout;
  const uint8_t *bytes = w.bytes.data();
  if (l.family == KernelFamily::Float) {
    int64_t pc = l.paddedCols();
    for (int64_t c = 0; c < l.cols; ++c) {
      if (l.floatEncoding == FloatEncoding::F32) {
        std::memcpy(&out[c], bytes + (row * pc + c) * 4, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, bytes + (row * pc + c) * 2, 2);
        out[c] = l.floatEncoding == FloatEncoding::F16 ? fp16ToFloat(h) : bf16ToFloat(h);
      }
    }
    return;
  }
  int64_t blocks = l.blocksPerRow(), cb = l.codeBytesPerBlock();
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t *c = bytes + (row * blocks + b) * cb;
    const uint8_t *p = bytes + l.paramsOffset() +
                       (row * paramRecordsPerRow(l) + b / l.paramBlocks) * l.paramBytesPerBlock();
    if (l.family == KernelFamily::Lut) {
      llvm::ArrayRef<float> book =
          bnb4BitCodebook(l.fp4Codebook ? Bnb4BitType::FP4 : Bnb4BitType::NF4);
      float a;
      std::memcpy(&a, p, 4);
      for (int i = 0; i < 32; ++i) {
        int code = i < 16 ? c[i] & 15 : c[i - 16] >> 4;
        out[b * 32 + i] = book[code] * a;
      }
      continue;
    }
    int code[32];
    blockCodes(l, c, code);
    if (l.int8Codebook)
      for (int &v : code)
        v = int8Codebook(l.fp4Codebook).values[v];
    if (l.superBlock == 256) {
      const uint8_t *rec = bytes + l.paramsOffset() +
                           (row * (l.cols / 256) + b / 8) * l.paramBytesPerBlock();
      float d, dmin;
      std::memcpy(&d, rec, 4);
      std::memcpy(&dmin, rec + 4, 4);
      int subs = int(l.subBlocksPerSuperBlock());
      for (int i = 0; i < 32; ++i) {
        int j = int((b % 8) * 32 + i) / l.subBlock;
        auto sc = int8_t(rec[8 + j]);
        if (l.codeOffset) {
          out[b * 32 + i] = d * float(sc) * float(code[i] - l.codeOffset);
          continue;
        }
        auto mn = int8_t(rec[8 + subs + j]);
        out[b * 32 + i] = d * float(sc) * float(code[i]) - dmin * float(mn);
      }
      continue;
    }
    int subs = 32 / l.subBlock;
    for (int s = 0; s < subs; ++s) {
      float dm[2] = {0, 0};
      for (int k = 0; k < (l.storesMins() ? 2 : 1); ++k) {
        if (l.halfParams) {
          uint16_t h;
          std::memcpy(&h, p, 2);
          dm[k] = fp16ToFloat(h);
          p += 2;
        } else {
          std::memcpy(&dm[k], p, 4);
          p += 4;
        }
      }
      for (int i = s * l.subBlock; i < (s + 1) * l.subBlock; ++i)
        out[b * 32 + i] = l.codeOffset ? dm[0] * float(code[i] - l.codeOffset)
                                       : dm[0] * float(code[i]) + dm[1];
    }
  }
}
