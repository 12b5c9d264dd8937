//===- Encode.h - Re-encode a stored tensor ---------------------*- C++ -*-===//
#ifndef LOWBIT_QUANT_ENCODE_H
#define LOWBIT_QUANT_ENCODE_H

#include "lowbit/Formats/TensorRef.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <vector>

namespace lowbit {

/// The bytes of `t` (any readable encoding) in encoding `type`, row by row
/// (rows = the innermost dimension). Rows are spread over `threads` threads
/// (0: all cores); the result does not depend on the thread count.
/// `importance` (one value per input column, llama.cpp's imatrix) weights
/// the block-scale searches of the ggml types that use it.
llvm::Expected<std::vector<uint8_t>>
encodeTensor(const TensorRef &t, DType type, unsigned threads = 0,
             const std::vector<float> *importance = nullptr);

/// `requested`, or when 0 LOWBIT_THREADS (to time on a fixed core count),
/// or else the number of physical cores.
unsigned encodeThreadCount(unsigned requested = 0);

/// One tensor's re-encoding, split into rows that any thread may encode in
/// any order: for callers that schedule the work themselves (e.g. to encode
/// one tensor while writing the previous one). Keeps references to the
/// tensor's data and to `importance`.
class TensorEncoder {
public:
  /// Checks that `t` is readable and that its rows fit `type`'s blocks.
  static llvm::Expected<TensorEncoder>
  create(const TensorRef &t, DType type,
         const std::vector<float> *importance = nullptr);

  int64_t rows() const { return numRows; }
  int64_t cols() const { return numCols; }
  /// Encoded bytes of one row and of the whole tensor.
  uint64_t outRowBytes() const { return outRow; }
  uint64_t encodedBytes() const { return outRow * uint64_t(numRows); }

  /// Encodes output rows [begin, end) into `out` (the whole tensor's
  /// encoding, encodedBytes() long). Output row r comes from input row
  /// rowSource[r], or r when rowSource is empty. `scratch` holds cols()
  /// floats.
  llvm::Error encodeRows(int64_t begin, int64_t end, uint8_t *out,
                         llvm::ArrayRef<int64_t> rowSource,
                         float *scratch) const;

  /// Encodes every row with `threads` threads (see encodeThreadCount).
  llvm::Error encode(llvm::MutableArrayRef<uint8_t> out, unsigned threads = 0,
                     llvm::ArrayRef<int64_t> rowSource = {}) const;

private:
  TensorEncoder() = default;
  TensorRef tensor;
  DType type = DType::F32;
  const float *importance = nullptr;
  int64_t numRows = 0, numCols = 0;
  uint64_t inRow = 0, outRow = 0;
  bool copyRows = false; // same encoding in and out: rows are copied
};

} // namespace lowbit

#endif // LOWBIT_QUANT_ENCODE_H
