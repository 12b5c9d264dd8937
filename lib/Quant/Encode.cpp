//===- Encode.cpp - Re-encode a stored tensor -----------------------------===//
#include "lowbit/Quant/Encode.h"
#include "lowbit/Formats/GgmlQuantize.h"
#include "lowbit/Formats/GgmlQuants.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/Threading.h"

#include <atomic>
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
