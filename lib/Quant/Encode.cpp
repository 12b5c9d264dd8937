//===- Encode.cpp - Re-encode a stored tensor -----------------------------===//
#include "lowbit/Quant/Encode.h"
#include "lowbit/Formats/GgmlQuantize.h"
#include "lowbit/Formats/GgmlQuants.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/Threading.h"

#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

using namespace llvm;
using namespace lowbit;

namespace {

/// fp16 -> fp32 through a table of all 65536 values (256 KiB, built once
/// with fp16ToFloat, so the results are the same bit for bit): about twice
/// as fast as the branchy scalar conversion.
const float *fp16Table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < 65536; ++i)
      t[i] = fp16ToFloat(uint16_t(i));
    return t;
  }();
  return table.data();
}

void readRow(DType type, const uint8_t *src, float *dst, int64_t n,
             const float *halfTable) {
  if (type != DType::F16) {
    dequantizeRow(type, src, dst, n);
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    dst[i] = halfTable[support::endian::read16le(src + 2 * i)];
}

/// quantizeRowQ8_0 with the same bytes, about 3x faster: roundf is a
/// library call per value, while for finite |v| < 2^31 rounding half away
/// from zero is trunc(v) plus the sign when |v - trunc(v)| >= 0.5 (the
/// difference is exact), which the compiler vectorizes. amax, d and 1/d are
/// computed exactly as there. Blocks with a NaN or Inf value or an infinite
/// 1/d (subnormal d), where |v| is not bounded by 127, go to the reference.
void quantizeRowQ8_0Fast(const float *src, uint8_t *dst, int64_t n) {
  for (int64_t i = 0; i < n / 32; ++i, src += 32, dst += 34) {
    float amax = 0.0f;
    bool finite = true;
    for (int j = 0; j < 32; ++j) {
      amax = amax > std::fabs(src[j]) ? amax : std::fabs(src[j]);
      finite &= std::fabs(src[j]) <= FLT_MAX;
    }
    float d = amax / 127;
    float id = d ? 1.0f / d : 0.0f;
    if (!finite || !(id <= FLT_MAX)) {
      quantizeRowQ8_0(src, dst, 32);
      continue;
    }
    support::endian::write16le(dst, floatToFp16(d));
    int8_t q[32];
    for (int j = 0; j < 32; ++j) {
      float v = src[j] * id; // |v| <= 127 (+ rounding)
      int32_t t = int32_t(v);
      float frac = v - float(t);
      q[j] = int8_t(t + (frac >= 0.5f) - (frac <= -0.5f));
    }
    std::memcpy(dst + 2, q, 32);
  }
}

} // namespace

Expected<std::vector<uint8_t>>
lowbit::encodeTensor(const TensorRef &t, DType type, unsigned threads,
                     const std::vector<float> *importance) {
  std::optional<uint64_t> size = tensorBytes(type, t.shape);
  if (!size)
    return createStringError("tensor '" + t.name + "': rows of " +
                             std::to_string(t.shape.empty() ? 1 : t.shape.back()) +
                             " values do not fit " +
                             getDTypeInfo(type).name.str() + " blocks");
  if (!canDequantize(t.dtype))
    return createStringError("tensor '" + t.name + "': cannot read " +
                             getDTypeInfo(t.dtype).name.str() + " values");
  int64_t inner = t.shape.empty() ? 1 : t.shape.back();
  if (importance && int64_t(importance->size()) != inner)
    return createStringError("tensor '" + t.name + "' has " +
                             std::to_string(inner) + " input columns but its "
                             "importance vector has " +
                             std::to_string(importance->size()) +
                             " values (an imatrix for a different model?)");
  if (importance && !ggmlTypeSupportsImportance(type))
    importance = nullptr; // e.g. Q8_0 and float types ignore it
  std::vector<uint8_t> out(*size);
  if (t.dtype == type && !importance) {
    std::memcpy(out.data(), t.data, out.size());
    return out;
  }
  int64_t cols = t.shape.empty() ? 1 : t.shape.back();
  int64_t rows = cols ? t.numElements() / cols : 0;
  if (rows == 0)
    return out;
  uint64_t inRow = t.bytes / rows, outRow = out.size() / rows;
  // LOWBIT_THREADS=N sets the default (e.g. to time on a fixed core count).
  if (threads == 0)
    if (const char *env = std::getenv("LOWBIT_THREADS"))
      threads = unsigned(std::max(0, std::atoi(env)));
  if (threads == 0)
    threads = std::max(1u, llvm::get_physical_cores() > 0
                               ? unsigned(llvm::get_physical_cores())
                               : std::thread::hardware_concurrency());
  threads = unsigned(std::min<int64_t>(threads, rows));
  const float *halfTable = t.dtype == DType::F16 ? fp16Table() : nullptr;

  // Dequantize and re-encode in chunks of rows so memory stays bounded.
  std::atomic<int64_t> next{0};
  std::mutex errorLock;
  std::string error;
  auto work = [&] {
    std::vector<float> row(cols);
    constexpr int64_t kChunk = 16;
    for (;;) {
      int64_t begin = next.fetch_add(kChunk);
      if (begin >= rows)
        return;
      for (int64_t r = begin; r < std::min(rows, begin + kChunk); ++r) {
        readRow(t.dtype, t.data + r * inRow, row.data(), cols, halfTable);
        uint8_t *dst = out.data() + r * outRow;
        if (type == DType::Q8_0) {
          quantizeRowQ8_0Fast(row.data(), dst, cols);
          continue;
        }
        Error e = importance ? quantizeRowGgml(type, row.data(), dst, cols,
                                               importance->data())
                             : quantizeRow(type, row.data(), dst, cols);
        if (e) {
          std::lock_guard<std::mutex> lock(errorLock);
          error = toString(std::move(e));
          next = rows;
          return;
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back(work);
  work();
  for (std::thread &th : pool)
    th.join();
  if (!error.empty())
    return createStringError("tensor '" + t.name + "': " + error);
  return out;
}
