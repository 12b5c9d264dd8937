//===- DType.h - Element encodings of stored tensors ------------*- C++ -*-===//
//
// One enum for every encoding a weight can have on disk: plain scalars
// (safetensors, GGUF) and ggml block formats. Block formats store `blockElems`
// values in `blockBytes` bytes along the innermost (row) dimension.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_FORMATS_DTYPE_H
#define LOWBIT_FORMATS_DTYPE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace lowbit {

enum class DType : uint8_t {
  F32, F16, BF16, F64,
  I8, U8, I16, U16, I32, U32, I64, U64, Bool, F8E4M3, F8E5M2,
  // ggml block formats (formats.md section 3).
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
};

struct DTypeInfo {
  llvm::StringRef name; // lowercase spelling used in the IR ("bf16", "q8_0")
  uint32_t blockElems;  // 1 for scalar types
  uint32_t blockBytes;  // bytes per block (element size for scalars)
  bool isFloat;         // scalar float (convertible element by element)
};

const DTypeInfo &getDTypeInfo(DType type);
std::optional<DType> parseDTypeName(llvm::StringRef name);

/// Bytes of a row-major tensor of `shape` (outermost first). Returns nullopt
/// when the innermost dimension is not a multiple of the block size or the
/// size overflows.
std::optional<uint64_t> tensorBytes(DType type, llvm::ArrayRef<int64_t> shape);

} // namespace lowbit

#endif // LOWBIT_FORMATS_DTYPE_H
