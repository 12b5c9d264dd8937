//===- LowbitAttrs.h - lowbit attributes ------------------------*- C++ -*-===//
//
// #lowbit.config, #lowbit.scheme and the QuantFormat enum, with what each
// format fixes (bits, block, symmetry).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_LOWBITATTRS_H
#define LOWBIT_DIALECT_LOWBIT_LOWBITATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/bit.h"

#include "lowbit/Dialect/Lowbit/LowbitEnums.h.inc"

namespace mlir::lowbit {

/// The bit width a format fixes; 0 for `affine`, whose width is a free
/// parameter.
int64_t getFormatBits(QuantFormat format);

/// The block of a ggml format (32, or 256 for the k-quants); 0 for the
/// formats whose group size is a free parameter.
int64_t getFormatBlockSize(QuantFormat format);

/// True for the ggml block formats (q4_0 ... q6_k).
inline bool isBlockFormat(QuantFormat format) {
  return getFormatBlockSize(format) != 0;
}

/// The group size QuantSchemeAttr::get(ctx, format) uses: the block of a ggml
/// format, 64 for nf4/fp4 (bitsandbytes' default), -1 (per output channel)
/// for int8_row and affine.
int64_t getFormatDefaultGroupSize(QuantFormat format);

/// Whether the format stores no zero point / minimum (q4_0, q5_0, q8_0, q3_k,
/// q6_k, nf4, fp4, int8_row).
bool isFormatSymmetric(QuantFormat format);

/// A double parameter of an attribute (ConfigAttr's rms_norm_eps and
/// rope_theta). Converts to and from double; compared and hashed by bit
/// pattern, as the storage uniquer needs (plain doubles have no hash_value).
class StoredDouble {
public:
  StoredDouble(double value = 0.0) : value(value) {}
  operator double() const { return value; }

  friend bool operator==(StoredDouble a, StoredDouble b) {
    return llvm::bit_cast<uint64_t>(a.value) == llvm::bit_cast<uint64_t>(b.value);
  }
  friend llvm::hash_code hash_value(StoredDouble d) {
    return llvm::hash_value(llvm::bit_cast<uint64_t>(d.value));
  }

private:
  double value;
};

namespace detail {
// Parsers for the ConfigAttr/QuantSchemeAttr parameters that the upstream
// FieldParser does not handle.
FailureOr<bool> parseBoolParameter(AsmParser &parser);
FailureOr<double> parseDoubleParameter(AsmParser &parser);
} // namespace detail

} // namespace mlir::lowbit

#define GET_ATTRDEF_CLASSES
#include "lowbit/Dialect/Lowbit/LowbitAttrs.h.inc"

#endif // LOWBIT_DIALECT_LOWBIT_LOWBITATTRS_H
