//===- Annotations.h - Attributes the codegen passes leave on @forward ----===//
//
// Each pass of the codegen pipeline records its decision on the ops it
// concerns; the next passes and the artifact plan read them back.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_ANNOTATIONS_H
#define LOWBIT_CODEGEN_ANNOTATIONS_H

#include "lowbit/Codegen/WeightPacking.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Operation.h"

namespace mlir::lowbit {
class WeightOp;
}

#include <optional>

namespace lowbit {

/// --lowbit-form-dispatches
inline constexpr llvm::StringLiteral kFusedAttr = "lowbit.fused";
/// On the linear that writes the sum of a fused residual add.
inline constexpr llvm::StringLiteral kWritesSumAttr = "lowbit.writes_sum";
inline constexpr llvm::StringLiteral kLastTokenOnlyAttr = "lowbit.last_token_only";
/// --lowbit-pack-weights: {offset, size, layout, ...} of a tensor in the
/// weight section.
inline constexpr llvm::StringLiteral kPackedAttr = "lowbit.packed";
inline constexpr llvm::StringLiteral kColumnOrderAttr = "lowbit.column_order";
inline constexpr llvm::StringLiteral kPackedColumnsAttr = "lowbit.packed_columns";
/// --lowbit-generate-kernels: {role = @kernel, ...}
inline constexpr llvm::StringLiteral kKernelsAttr = "lowbit.kernels";
inline constexpr llvm::StringLiteral kTargetAttr = "lowbit.target";

/// Where a tensor lies in the weight section.
struct SectionRange {
  int64_t offset = 0, size = 0;
};

mlir::DictionaryAttr rangeToAttr(mlir::MLIRContext *ctx, SectionRange r,
                                 llvm::StringRef layout = "f32",
                                 const PackedLayout *packed = nullptr);
std::optional<SectionRange> rangeFromAttr(mlir::Attribute attr);
/// The PackedLayout a `lowbit.packed` dictionary describes.
std::optional<PackedLayout> layoutFromAttr(mlir::Attribute attr);

/// How the IR types weight `w`, and its [rows, cols] (a vector: cols 1).
WeightEncoding weightEncodingOf(mlir::lowbit::WeightOp w, int64_t &rows, int64_t &cols);

} // namespace lowbit

#endif // LOWBIT_CODEGEN_ANNOTATIONS_H
