//===- Bnb.cpp - bitsandbytes 4-bit blockwise quantization ----------------===//
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Quant/Bnb.h"
#include "lowbit/Formats/WeightStore.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

using namespace lowbit;

llvm::StringRef lowbit::bnb4BitTypeName(Bnb4BitType type) {
  return type == Bnb4BitType::NF4 ? "nf4" : "fp4";
}

std::optional<Bnb4BitType> lowbit::parseBnb4BitType(llvm::StringRef name) {
  if (name == "nf4")
    return Bnb4BitType::NF4;
  if (name == "fp4")
    return Bnb4BitType::FP4;
  return std::nullopt;
}

namespace {
struct Codebook {
  float values[16];
};
} // namespace

llvm::ArrayRef<float> lowbit::bnb4BitCodebook(Bnb4BitType type) {
  // NF4: the quantiles of N(0, 1) normalized to [−1, 1] with an exact 0
  // (QLoRA appendix E), as the fp32 values bitsandbytes ships.
  static const Codebook kNf4 = {
      {-1.0f, -0.6961928009986877f, -0.5250730514526367f,
       -0.39491748809814453f, -0.28444138169288635f, -0.18477343022823334f,
       -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
       0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f,
       0.5626170039176941f, 0.7229568362236023f, 1.0f}};
  // FP4 (E2M1 without infinities): bit 3 is the sign, bits 0-2 the
  // magnitude in get_4bit_type's order; divided by the largest, in fp32.
  static const Codebook kFp4 = [] {
    const float raw[16] = {0.0f,  0.0625f, 8.0f,  12.0f,    4.0f,  6.0f,
                           2.0f,  3.0f,    -0.0f, -0.0625f, -8.0f, -12.0f,
                           -4.0f, -6.0f,   -2.0f, -3.0f};
    Codebook c{};
    for (int i = 0; i < 16; ++i)
      c.values[i] = raw[i] / 12.0f;
    return c;
  }();
  return type == Bnb4BitType::NF4 ? llvm::ArrayRef<float>(kNf4.values)
                                  : llvm::ArrayRef<float>(kFp4.values);
}

/// create_dynamic_map's torch arithmetic in fp32: for exponent i the
/// boundaries are torch.linspace(0.1, 1, 2^i + 1) (ATen fills the first half
/// forward from the start and the second half backward from the end), their
/// adjacent means are scaled by 10^(i−6), both signs are kept, and 0 and 1
/// complete the 256 entries.
static std::vector<float> makeDynamicMap() {
  std::vector<float> data;
  const int maxExponentBits = 7;
  for (int i = 0; i < maxExponentBits; ++i) {
    int64_t steps = (int64_t(1) << i) + 1;
    const float start = 0.1f, end = 1.0f;
    const float step = (end - start) / float(steps - 1);
    int64_t halfway = steps / 2;
    std::vector<float> bounds(static_cast<size_t>(steps));
    for (int64_t j = 0; j < steps; ++j) {
      if (j < halfway) {
        float offset = step * float(j);
        bounds[size_t(j)] = start + offset;
      } else {
        float offset = step * float(steps - j - 1);
        bounds[size_t(j)] = end - offset;
      }
    }
    const float scale = float(std::pow(10.0, i - (maxExponentBits - 1)));
    for (int64_t j = 0; j + 1 < steps; ++j) {
      float sum = bounds[size_t(j)] + bounds[size_t(j + 1)];
      float mean = sum / 2.0f;
      float value = scale * mean;
      data.push_back(value);
      data.push_back(-value);
    }
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  std::sort(data.begin(), data.end());
  return data;
}

llvm::ArrayRef<float> lowbit::bnbDynamicMap() {
  static const std::vector<float> map = makeDynamicMap();
  return map;
}

uint8_t lowbit::bnbNearestIndex(float x, llvm::ArrayRef<float> code) {
  // torch.argmin(|x − code|): the first minimum; a NaN distance wins.
  size_t best = 0;
  float bestDistance = std::fabs(x - code[0]);
  if (std::isnan(bestDistance))
    return 0;
  for (size_t i = 1; i < code.size(); ++i) {
    float d = std::fabs(x - code[i]);
    if (d < bestDistance) {
      best = i;
      bestDistance = d;
    }
  }
  return uint8_t(best);
}

bool lowbit::isValidBnbBlockSize(int64_t blockSize) {
  return blockSize >= 64 && blockSize <= 4096 &&
         (blockSize & (blockSize - 1)) == 0;
}

/// Absmax of every block and the nearest code of each x · (1 / absmax),
/// clamped to [−1, 1], all in fp32 as the reference kernel computes it.
static void quantizeBlocks(const float *x, int64_t n, int64_t blockSize,
                           llvm::ArrayRef<float> code, uint8_t *indices,
                           float *absmax) {
  int64_t blocks = (n + blockSize - 1) / blockSize;
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t begin = b * blockSize, end = std::min(n, begin + blockSize);
    float amax = 0.0f;
    for (int64_t i = begin; i < end; ++i)
      amax = std::max(amax, std::fabs(x[i]));
    absmax[b] = amax;
    if (amax == 0.0f) {
      std::fill(indices + begin, indices + end, uint8_t(0));
      continue;
    }
    const float inverse = 1.0f / amax;
    for (int64_t i = begin; i < end; ++i) {
      float scaled = std::clamp(x[i] * inverse, -1.0f, 1.0f);
      indices[i] = bnbNearestIndex(scaled, code);
    }
  }
}

void lowbit::quantizeBlockwise8Bit(llvm::ArrayRef<float> values,
                                   int64_t blockSize, llvm::ArrayRef<float> code,
                                   std::vector<uint8_t> &indices,
                                   std::vector<float> &absmax) {
  int64_t n = int64_t(values.size());
  indices.assign(size_t(n), 0);
  absmax.assign(size_t((n + blockSize - 1) / blockSize), 0.0f);
  quantizeBlocks(values.data(), n, blockSize, code, indices.data(),
                 absmax.data());
}

void lowbit::doubleQuantizeAbsmax(llvm::ArrayRef<float> absmax,
                                  std::vector<uint8_t> &codes,
                                  std::vector<float> &nestedAbsmax,
                                  float &offset) {
  // The mean in double, rounded once (torch sums fp32 pairwise, which can
  // differ in the last bit; the offset is stored, so readers agree).
  double sum = 0;
  for (float a : absmax)
    sum += a;
  offset = absmax.empty() ? 0.0f : float(sum / double(absmax.size()));
  std::vector<float> centered(absmax.size());
  for (size_t i = 0; i < absmax.size(); ++i)
    centered[i] = absmax[i] - offset;
  quantizeBlockwise8Bit(centered, kBnbNestedBlockSize, bnbDynamicMap(), codes,
                        nestedAbsmax);
}

Bnb4BitWeight lowbit::quantizeBnb4Bit(const float *w, int64_t rows,
                                      int64_t cols, Bnb4BitType type,
                                      int64_t blockSize, bool doubleQuant) {
  Bnb4BitWeight q;
  q.type = type;
  q.blockSize = blockSize;
  q.rows = rows;
  q.cols = cols;
  int64_t n = rows * cols;
  llvm::ArrayRef<float> code = bnb4BitCodebook(type);
  std::vector<uint8_t> indices(size_t(n + (n & 1)));
  std::vector<float> absmax(size_t(q.numBlocks()));
  quantizeBlocks(w, n, blockSize, code, indices.data(), absmax.data());
  // The reference pads an odd count with a scaled 0 before packing.
  if (n & 1)
    indices.back() = bnbNearestIndex(0.0f, code);
  q.packed.resize(size_t(q.packedBytes()));
  for (size_t i = 0; i < q.packed.size(); ++i)
    q.packed[i] = uint8_t(indices[2 * i] << 4 | indices[2 * i + 1]);
  if (doubleQuant) {
    q.doubleQuant = true;
    doubleQuantizeAbsmax(absmax, q.absmaxCodes, q.nestedAbsmax, q.offset);
  } else {
    q.absmax = std::move(absmax);
  }
  return q;
}

std::vector<float> lowbit::bnbBlockAbsmax(const Bnb4BitWeight &w) {
  if (!w.doubleQuant)
    return w.absmax;
  llvm::ArrayRef<float> map = bnbDynamicMap();
  std::vector<float> absmax(w.absmaxCodes.size());
  for (size_t b = 0; b < absmax.size(); ++b) {
    // Two fp32 roundings, as dequantize_blockwise then `+= offset` do.
    float scaled = map[w.absmaxCodes[b]] *
                   w.nestedAbsmax[b / size_t(kBnbNestedBlockSize)];
    absmax[b] = scaled + w.offset;
  }
  return absmax;
}

std::vector<float> lowbit::dequantizeBnb4Bit(const Bnb4BitWeight &w) {
  llvm::ArrayRef<float> code = bnb4BitCodebook(w.type);
  std::vector<float> absmax = bnbBlockAbsmax(w);
  int64_t n = w.numElements();
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    uint8_t byte = w.packed[size_t(i / 2)];
    uint8_t index = (i & 1) ? (byte & 0x0f) : (byte >> 4);
    out[size_t(i)] = code[index] * absmax[size_t(i / w.blockSize)];
  }
  return out;
}

static std::string describeTensor(DType dtype, llvm::ArrayRef<int64_t> shape) {
  std::string s = getDTypeInfo(dtype).name.str() + " [";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

llvm::Expected<Bnb4BitWeight>
lowbit::readBnb4BitWeight(const WeightStore &weights, llvm::StringRef name,
                          Bnb4BitType type, int64_t blockSize, int64_t rows,
                          int64_t cols) {
  if (!isValidBnbBlockSize(blockSize))
    return llvm::createStringError(
        bnb4BitTypeName(type) + " weight '" + name + "' has block size " +
        std::to_string(blockSize) +
        "; bitsandbytes blocks are powers of two from 64 to 4096");
  Bnb4BitWeight w;
  w.type = type;
  w.blockSize = blockSize;
  w.rows = rows;
  w.cols = cols;
  auto need = [&](llvm::StringRef suffix, DType dtype,
                  std::vector<int64_t> shape) -> llvm::Expected<const TensorRef *> {
    std::string full = (name + suffix).str();
    const TensorRef *t = weights.find(full);
    if (t && t->dtype == dtype && t->shape == shape)
      return t;
    return llvm::createStringError(
        bnb4BitTypeName(type) + " weight '" + name + "' needs a " +
        describeTensor(dtype, shape) + " tensor '" + full +
        "' in the weight store" +
        (t ? ", found " + describeTensor(t->dtype, t->shape) : std::string()));
  };
  llvm::Expected<const TensorRef *> packed =
      need("", DType::U8, {w.packedBytes(), 1});
  if (!packed)
    return packed.takeError();
  w.packed.assign((*packed)->data, (*packed)->data + w.packedBytes());

  // A u8 absmax marks double quantization.
  const TensorRef *absmax = weights.find(companionName(name, Companion::Absmax));
  w.doubleQuant = absmax && absmax->dtype == DType::U8;
  if (!w.doubleQuant) {
    llvm::Expected<const TensorRef *> t =
        need(companionSuffix(Companion::Absmax), DType::F32, {w.numBlocks()});
    if (!t)
      return t.takeError();
    w.absmax.resize(size_t(w.numBlocks()));
    std::memcpy(w.absmax.data(), (*t)->data, w.absmax.size() * sizeof(float));
    return std::move(w);
  }
  llvm::Expected<const TensorRef *> codes =
      need(companionSuffix(Companion::Absmax), DType::U8, {w.numBlocks()});
  if (!codes)
    return codes.takeError();
  llvm::Expected<const TensorRef *> nested =
      need(companionSuffix(Companion::NestedAbsmax), DType::F32, {w.numNestedBlocks()});
  if (!nested)
    return nested.takeError();
  llvm::Expected<const TensorRef *> offset =
      need(companionSuffix(Companion::NestedOffset), DType::F32, {1});
  if (!offset)
    return offset.takeError();
  w.absmaxCodes.assign((*codes)->data, (*codes)->data + w.numBlocks());
  w.nestedAbsmax.resize(size_t(w.numNestedBlocks()));
  std::memcpy(w.nestedAbsmax.data(), (*nested)->data,
              w.nestedAbsmax.size() * sizeof(float));
  std::memcpy(&w.offset, (*offset)->data, sizeof(float));
  return std::move(w);
}

std::string lowbit::pythonFloatRepr(double value) {
  if (std::isnan(value))
    return "NaN";
  if (std::isinf(value))
    return value > 0 ? "Infinity" : "-Infinity";
  if (value == 0)
    return std::signbit(value) ? "-0.0" : "0.0";
  // Shortest round-trip digits, laid out as float_repr_style 'short' does:
  // positional when the decimal exponent is in [−4, 16), else d.ddde±XX.
  char buf[64];
  char *end = std::to_chars(buf, buf + sizeof(buf), value,
                            std::chars_format::scientific)
                  .ptr;
  std::string text(buf, end);
  std::string sign;
  if (text[0] == '-') {
    sign = "-";
    text.erase(0, 1);
  }
  size_t e = text.find('e');
  int exponent = std::stoi(text.substr(e + 1));
  std::string digits;
  for (char c : text.substr(0, e))
    if (c != '.')
      digits += c;
  int pointAt = exponent + 1; // digits before the decimal point
  std::string out;
  if (pointAt > -4 && pointAt <= 16) {
    if (pointAt <= 0)
      out = "0." + std::string(size_t(-pointAt), '0') + digits;
    else if (size_t(pointAt) >= digits.size())
      out = digits + std::string(size_t(pointAt) - digits.size(), '0') + ".0";
    else
      out = digits.substr(0, size_t(pointAt)) + "." +
            digits.substr(size_t(pointAt));
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1)
      out += "." + digits.substr(1);
    char exp[16];
    std::snprintf(exp, sizeof(exp), "e%c%02d", exponent < 0 ? '-' : '+',
                  std::abs(exponent));
    out += exp;
  }
  return sign + out;
}

std::string lowbit::bnbQuantStateJson(const Bnb4BitWeight &w,
                                      llvm::StringRef dtype) {
  // json.dumps of QuantState.as_dict's non-tensor entries, in its key order,
  // with the default separators ", " and ": ".
  std::string json = "{\"quant_type\": \"" + bnb4BitTypeName(w.type).str() +
                     "\", \"blocksize\": " + std::to_string(w.blockSize) +
                     ", \"dtype\": \"" + dtype.str() + "\", \"shape\": [" +
                     std::to_string(w.rows) + ", " + std::to_string(w.cols) +
                     "]";
  if (w.doubleQuant)
    json += ", \"nested_blocksize\": " + std::to_string(kBnbNestedBlockSize) +
            ", \"nested_dtype\": \"float32\", \"nested_offset\": " +
            pythonFloatRepr(double(w.offset));
  return json + "}";
}
