//===- GgufBudgetChoice.h - Types of a size-budgeted GGUF mix -----*- C++ -*-===//
#ifndef LOWBIT_PASSES_GGUFBUDGETCHOICE_H
#define LOWBIT_PASSES_GGUFBUDGETCHOICE_H

#include "lowbit/Formats/DType.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace lowbit {
class WeightStore;
} // namespace lowbit

namespace mlir::lowbit {

struct GgufBudgetRequest {
  std::string budget;        // as parseGgufBudget reads it
  std::string file;          // calibration text (or the statistics' text)
  int64_t windows = 32;      // windows the sensitivities are measured on
  int64_t windowLength = 512;
  uint64_t seed = 0;
  bool bosWindows = false;
};

/// The type a fixed mix gives a weight (to size `budget=q4_k_m`).
using FixedMixTypeFn = llvm::function_ref<llvm::Expected<::lowbit::DType>(
    llvm::StringRef fileType, llvm::StringRef name, int64_t rowLength)>;

/// For each of `names` (2-D weights in the store) the ggml type that
/// minimises the predicted loss increase with all of them within the budget.
/// The loss of a tensor at a type is its activation-weighted quantization
/// error times a gain measured through the model: the KL divergence of the
/// next-token distributions when that tensor alone is quantized to Q3_K,
/// over its weighted error at Q3_K. A summary goes to stderr.
llvm::Expected<llvm::StringMap<::lowbit::DType>>
chooseBudgetedGgufTypes(ModuleOp module, const ::lowbit::WeightStore &weights,
                        llvm::ArrayRef<std::string> names,
                        const GgufBudgetRequest &request,
                        FixedMixTypeFn fixedMixType);

} // namespace mlir::lowbit

#endif // LOWBIT_PASSES_GGUFBUDGETCHOICE_H
