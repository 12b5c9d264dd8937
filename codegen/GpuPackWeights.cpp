//===- GpuPackWeights.cpp - Weights in the GPU kernels' layouts -----------===//
#include "GpuPackWeights.h"

#include "lowbit/Quant/Bnb.h"
#include "lowbit/Support/Float16.h"

#include <cmath>
#include <cstring>

using namespace ::lowbit;
using mlir::lowbit::QuantFormat;

std::optional<GpuWeightFormat> lowbit::gpuWeightFormatOf(const WeightEncoding &enc) {
  if (!enc.quantized)
    return GpuWeightFormat::F16;
  switch (enc.format) {
  case QuantFormat::Affine:
    // Act-order too: its columns are packed in group order (GpuCompile.cpp).
    if (enc.groupSize == 128 && (enc.bits == 4 || enc.bits == 8))
      return enc.bits == 4 ? GpuWeightFormat::Q4G128 : GpuWeightFormat::Q8G128;
    return std::nullopt;
  case QuantFormat::Q4_0:
  case QuantFormat::Q4_1:
    return GpuWeightFormat::Q4G32;
  case QuantFormat::Q4_K:
    return GpuWeightFormat::Q4K;
  case QuantFormat::Q8_0:
    return GpuWeightFormat::Q8G32;
  case QuantFormat::Q6_K:
  case QuantFormat::Q3_K:
    return GpuWeightFormat::Q6K;
  case QuantFormat::Q5_0:
  case QuantFormat::Q5_1:
    return GpuWeightFormat::Q5G32;
  case QuantFormat::Q5_K:
    return GpuWeightFormat::Q5K;
  case QuantFormat::Q2_K:
    return GpuWeightFormat::Q2K;
  case QuantFormat::NF4:
  case QuantFormat::FP4:
    return GpuWeightFormat::Lut4;
  default:
    return std::nullopt;
  }
}

GpuActivationRounding lowbit::gpuActivationRoundingOf(const WeightEncoding &enc) {
  switch (enc.format) {
  case QuantFormat::Q4_0:
  case QuantFormat::Q5_0:
  case QuantFormat::Q8_0:
    return GpuActivationRounding::Q8_0;
  case QuantFormat::Q4_1:
  case QuantFormat::Q5_1:
    return GpuActivationRounding::Q8_1;
  case QuantFormat::Q2_K:
  case QuantFormat::Q3_K:
  case QuantFormat::Q4_K:
  case QuantFormat::Q5_K:
  case QuantFormat::Q6_K:
    return GpuActivationRounding::Q8_K;
  default:
    return GpuActivationRounding::B32;
  }
}

static bool storesAs(GpuWeightFormat format, DType type) {
  switch (format) {
  case GpuWeightFormat::Q4G32:
    return type == DType::Q4_0 || type == DType::Q4_1;
  case GpuWeightFormat::Q4K:
    return type == DType::Q4_K;
  case GpuWeightFormat::Q8G32:
    return type == DType::Q8_0;
  case GpuWeightFormat::Q6K:
    return type == DType::Q6_K || type == DType::Q3_K;
  case GpuWeightFormat::Q5G32:
    return type == DType::Q5_0 || type == DType::Q5_1;
  case GpuWeightFormat::Q5K:
    return type == DType::Q5_K;
  case GpuWeightFormat::Q2K:
    return type == DType::Q2_K;
  default:
    return false;
  }
}

llvm::Error lowbit::packGgmlForGpu(GpuWeightFormat format, const TensorRef &t, int64_t rows,
                                   int64_t cols, llvm::StringRef file,
                                   std::vector<uint8_t> &out) {
  auto fail = [&](const llvm::Twine &why) {
    return llvm::createStringError(file + ": weight '" + t.name + "' " + why);
  };
  if (!storesAs(format, t.dtype))
    return fail("is stored as " + llvm::Twine(getDTypeInfo(t.dtype).name) +
                ", not a block type of the GPU's " + gpuWeightFormatName(format) + " layout");
  const DTypeInfo &info = getDTypeInfo(t.dtype);
  const int64_t elems = info.blockElems, values = rows * cols;
  if (cols % elems || cols % gpuWeightFormatRowMultiple(format))
    return fail("has rows of " + llvm::Twine(cols) + " values, not whole blocks of " +
                llvm::Twine(std::max<int64_t>(elems, gpuWeightFormatRowMultiple(format))));
  const uint64_t rowBytes = uint64_t(cols / elems) * info.blockBytes;
  if (t.bytes < rowBytes * uint64_t(rows))
    return fail("is shorter than its shape needs");

  const bool wide = format != GpuWeightFormat::Q4G32 && format != GpuWeightFormat::Q4K &&
                    format != GpuWeightFormat::Q2K;
  // Q6_K and Q3_K store w = d·sc·(u − offset): the codes keep u − offset.
  const int offset = t.dtype == DType::Q6_K ? 32 : t.dtype == DType::Q3_K ? 4 : 0;
  const int64_t codeBytes = wide ? values : values / 2;
  size_t size = size_t(codeBytes);
  switch (format) {
  case GpuWeightFormat::Q4G32:
  case GpuWeightFormat::Q5G32:
    size += size_t(values / 32 * 4);
    break;
  case GpuWeightFormat::Q4K:
  case GpuWeightFormat::Q5K:
    size += size_t(values / 32 * 2 + values / 256 * 4);
    break;
  case GpuWeightFormat::Q8G32:
    size += size_t(values / 32 * 2);
    break;
  case GpuWeightFormat::Q6K:
    size += size_t(values / 16 + values / 256 * 2);
    break;
  case GpuWeightFormat::Q2K:
    size += size_t(values / 16 * 2 + values / 256 * 4);
    break;
  default:
    break;
  }
  out.assign(size, 0);
  uint8_t *params = out.data() + codeBytes;
  // The second parameter region: per 256 values, after the per-32 or per-16
  // ones (q2k: two bytes per 16 values).
  uint8_t *superParams = params + (format == GpuWeightFormat::Q2K ? values / 8 : values / 16);
  auto putHalf = [](uint8_t *at, float v) {
    uint16_t h = floatToFp16(v);
    std::memcpy(at, &h, 2);
  };

  std::vector<uint8_t> u(static_cast<size_t>(elems));
  std::vector<float> d(size_t(std::max<int64_t>(elems / 16, 2))), m(d.size());
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t *src = t.data + r * rowBytes;
    for (int64_t b = 0; b < cols / elems; ++b) {
      const uint8_t *block = src + b * info.blockBytes;
      decodeGgmlBlock(t.dtype, block, u.data(), d.data(), m.data());
      const int64_t first = r * cols + b * elems; // index of the block's first value
      for (int64_t s = 0; s < elems / 32; ++s) {
        const uint8_t *su = u.data() + s * 32;
        const int64_t block32 = (first + s * 32) / 32;
        if (wide) {
          // Q8_0's u are its int8 bytes; the others' unsigned codes.
          uint8_t *codes = out.data() + first + s * 32;
          for (int i = 0; i < 32; ++i)
            codes[i] = uint8_t(int(su[i]) - offset);
        } else {
          uint8_t *codes = out.data() + block32 * 16;
          for (int j = 0; j < 16; ++j)
            codes[j] = uint8_t(su[j] | su[16 + j] << 4);
        }
        if (format == GpuWeightFormat::Q4G32 || format == GpuWeightFormat::Q5G32) {
          // q4_1's and q5_1's m are f16 values already; q4_0's m = −8d and
          // q5_0's −16d are too, unless they leave f16's range.
          if (!(std::fabs(m[2 * s]) <= 65504.0f))
            return fail("has a block whose offset −8·d or −16·d f16 cannot hold");
          putHalf(params + block32 * 4, d[2 * s]);
          putHalf(params + block32 * 4 + 2, m[2 * s]);
        } else if (format == GpuWeightFormat::Q8G32) {
          putHalf(params + block32 * 2, d[2 * s]);
        }
      }
      if (elems == 256) {
        float dAll = 0, dmin = 0;
        int8_t sc[16], mn[16];
        decodeKQuantScales(t.dtype, block, dAll, dmin, sc, mn);
        const int64_t super = first / 256;
        if (format == GpuWeightFormat::Q4K || format == GpuWeightFormat::Q5K) {
          for (int j = 0; j < 8; ++j) {
            params[(super * 8 + j) * 2] = uint8_t(sc[j]);
            params[(super * 8 + j) * 2 + 1] = uint8_t(mn[j]);
          }
          putHalf(superParams + super * 4, dAll);
          putHalf(superParams + super * 4 + 2, dmin);
        } else if (format == GpuWeightFormat::Q2K) {
          for (int j = 0; j < 16; ++j) {
            params[(super * 16 + j) * 2] = uint8_t(sc[j]);
            params[(super * 16 + j) * 2 + 1] = uint8_t(mn[j]);
          }
          putHalf(superParams + super * 4, dAll);
          putHalf(superParams + super * 4 + 2, dmin);
        } else {
          std::memcpy(params + super * 16, sc, 16);
          putHalf(superParams + super * 2, dAll);
        }
      }
    }
  }
  return llvm::Error::success();
}

llvm::Error lowbit::packBnb4BitForGpu(const WeightStore &weights, llvm::StringRef name,
                                      const WeightEncoding &enc, int64_t rows, int64_t cols,
                                      std::vector<uint8_t> &out) {
  const bool fp4 = enc.format == QuantFormat::FP4;
  llvm::Expected<Bnb4BitWeight> bnb =
      readBnb4BitWeight(weights, name, fp4 ? Bnb4BitType::FP4 : Bnb4BitType::NF4,
                        enc.groupSize, rows, cols);
  if (!bnb)
    return bnb.takeError();
  if (bnb->blockSize % 32 || cols % 32)
    return llvm::createStringError(weights.fileOf(name) + ": weight '" + name +
                                   "' has 4-bit blocks of " + llvm::Twine(bnb->blockSize) +
                                   " values and rows of " + llvm::Twine(cols) +
                                   "; lut4 needs both multiples of 32");
  const std::vector<float> absmax = bnbBlockAbsmax(*bnb);
  const Int8Codebook &book = int8Codebook(fp4);
  const int64_t values = rows * cols;
  out.assign(size_t(values / 2 + values / 32 * 4 + 16), 0);
  // bitsandbytes keeps the even value of each pair in the high nibble;
  // lut4 keeps value i of a block in nibble i, low first: each byte swapped.
  for (int64_t i = 0; i < values / 2; ++i) {
    uint8_t byte = bnb->packed[size_t(i)];
    out[size_t(i)] = uint8_t(byte >> 4 | byte << 4);
  }
  uint8_t *scales = out.data() + values / 2;
  for (int64_t b = 0; b < values / 32; ++b) {
    float d = absmax[size_t(b * 32 / bnb->blockSize)] / book.scale;
    std::memcpy(scales + b * 4, &d, 4);
  }
  std::memcpy(scales + values / 32 * 4, book.values, 16);
  if (const TensorRef *t = weights.find(name))
    weights.releasePages(*t);
  return llvm::Error::success();
}
