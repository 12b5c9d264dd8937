//===- Encode.cpp - Re-encode a stored tensor -----------------------------===//
#include "lowbit/Quant/Encode.h"
#include "lowbit/Quant/GgmlQuantize.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Support/Float16.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/Threading.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOWBIT_X86 1
#endif

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

void halfRowByTable(const uint8_t *src, float *dst, int64_t n) {
  const float *table = fp16Table();
  for (int64_t i = 0; i < n; ++i)
    dst[i] = table[support::endian::read16le(src + 2 * i)];
}

#ifdef LOWBIT_X86
/// F16C conversion, exact like fp16ToFloat for every finite value and
/// infinity. Returns false when the row holds a NaN (exponent bits all ones
/// and a payload), whose signalling bit the instruction may set where
/// fp16ToFloat keeps it; the caller then converts the row by table.
__attribute__((target("avx,f16c"))) bool halfRowF16C(const uint8_t *src,
                                                     float *dst, int64_t n) {
  const __m128i expMask = _mm_set1_epi16(0x7c00);
  __m128i special = _mm_setzero_si128();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + 2 * i));
    special = _mm_or_si128(
        special, _mm_cmpeq_epi16(_mm_and_si128(h, expMask), expMask));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  if (!_mm_testz_si128(special, special))
    return false;
  for (; i < n; ++i)
    dst[i] = fp16ToFloat(support::endian::read16le(src + 2 * i));
  return true;
}

bool haveF16C() {
  static const bool have =
      __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  return have;
}
#endif

void readRow(DType type, const uint8_t *src, float *dst, int64_t n) {
  if (type != DType::F16) {
    dequantizeRow(type, src, dst, n);
    return;
  }
#ifdef LOWBIT_X86
  if (haveF16C() && halfRowF16C(src, dst, n))
    return;
#endif
  halfRowByTable(src, dst, n);
}

/// Whether a row of a float encoding holds a NaN or an infinity (exponent
/// bits all ones), tested on the stored bits so copied rows need no decode.
bool floatRowHasNonFinite(DType type, const uint8_t *src, int64_t n) {
  uint32_t any = 0;
  switch (type) {
  case DType::F32:
    for (int64_t i = 0; i < n; ++i)
      any |= uint32_t((support::endian::read32le(src + 4 * i) & 0x7f800000u) ==
                      0x7f800000u);
    return any;
  case DType::F16:
    for (int64_t i = 0; i < n; ++i)
      any |= uint32_t((support::endian::read16le(src + 2 * i) & 0x7c00u) ==
                      0x7c00u);
    return any;
  case DType::BF16:
    for (int64_t i = 0; i < n; ++i)
      any |= uint32_t((support::endian::read16le(src + 2 * i) & 0x7f80u) ==
                      0x7f80u);
    return any;
  default:
    return false; // block encodings are copied unchecked
  }
}

} // namespace

unsigned lowbit::encodeThreadCount(unsigned requested) {
  unsigned threads = requested;
  if (threads == 0)
    if (const char *env = std::getenv("LOWBIT_THREADS"))
      threads = unsigned(std::max(0, std::atoi(env)));
  if (threads == 0)
    threads = std::max(1u, llvm::get_physical_cores() > 0
                               ? unsigned(llvm::get_physical_cores())
                               : std::thread::hardware_concurrency());
  return threads;
}

Expected<TensorEncoder>
TensorEncoder::create(const TensorRef &t, DType type,
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
  TensorEncoder enc;
  enc.tensor = t;
  enc.type = type;
  enc.importance = importance ? importance->data() : nullptr;
  enc.numCols = inner;
  enc.numRows = inner ? t.numElements() / inner : 0;
  if (enc.numRows) {
    enc.inRow = t.bytes / enc.numRows;
    enc.outRow = *size / enc.numRows;
  }
  enc.copyRows = t.dtype == type && !importance;
  return enc;
}

Error TensorEncoder::encodeRows(int64_t begin, int64_t end, uint8_t *out,
                                ArrayRef<int64_t> rowSource,
                                float *scratch) const {
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t *src =
        tensor.data + (rowSource.empty() ? r : rowSource[r]) * inRow;
    uint8_t *dst = out + r * outRow;
    if (copyRows && !floatRowHasNonFinite(tensor.dtype, src, numCols)) {
      std::memcpy(dst, src, outRow);
      continue;
    }
    readRow(tensor.dtype, src, scratch, numCols);
    // Non-finite weights would be encoded silently (a NaN scale poisons a
    // whole block): refuse them, naming the tensor and the value's place.
    if (Error e = checkFinite(tensor.name, scratch, numCols, numCols,
                              rowSource.empty() ? r : rowSource[r]))
      return e;
    // The ggml block types go straight to their (vectorized) encoders.
    Error e = canQuantizeGgml(type)
                  ? quantizeRowGgml(type, scratch, dst, numCols, importance)
                  : quantizeRow(type, scratch, dst, numCols);
    if (e)
      return createStringError("tensor '" + tensor.name + "': " +
                               toString(std::move(e)));
  }
  return Error::success();
}

Error TensorEncoder::encode(MutableArrayRef<uint8_t> out, unsigned threads,
                            ArrayRef<int64_t> rowSource) const {
  assert(out.size() == encodedBytes() && "output of the wrong size");
  if (numRows == 0)
    return Error::success();
  // Float rows are copied row by row so each is checked for NaN/Inf.
  if (copyRows && rowSource.empty() && !getDTypeInfo(tensor.dtype).isFloat) {
    std::memcpy(out.data(), tensor.data, out.size());
    return Error::success();
  }
  threads = unsigned(std::min<int64_t>(encodeThreadCount(threads), numRows));

  // Threads take chunks of rows until none are left.
  std::atomic<int64_t> next{0};
  std::mutex errorLock;
  Error error = Error::success();
  auto work = [&] {
    std::vector<float> row(numCols);
    constexpr int64_t kChunk = 16;
    for (;;) {
      int64_t begin = next.fetch_add(kChunk);
      if (begin >= numRows)
        return;
      if (Error e = encodeRows(begin, std::min(numRows, begin + kChunk),
                               out.data(), rowSource, row.data())) {
        std::lock_guard<std::mutex> lock(errorLock);
        if (error) // keep the first
          consumeError(std::move(e));
        else
          error = std::move(e);
        next = numRows;
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back(work);
  work();
  for (std::thread &th : pool)
    th.join();
  return error;
}

Expected<std::vector<uint8_t>>
lowbit::encodeTensor(const TensorRef &t, DType type, unsigned threads,
                     const std::vector<float> *importance) {
  Expected<TensorEncoder> enc = TensorEncoder::create(t, type, importance);
  if (!enc)
    return enc.takeError();
  std::vector<uint8_t> out(enc->encodedBytes());
  if (Error e = enc->encode(out, threads))
    return std::move(e);
  return out;
}
