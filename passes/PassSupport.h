//===- PassSupport.h - Shared pieces of the weight-rewriting passes -*- C++ -*-//
#ifndef LOWBIT_PASSES_PASSSUPPORT_H
#define LOWBIT_PASSES_PASSSUPPORT_H

#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Quant/Affine.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace lowbit {
class SafetensorsWriter;
class Tokenizer;
class WeightStore;
struct CalibrationOptions;
class LayerwiseCheckpoint;
} // namespace lowbit

namespace mlir::lowbit {

/// `path` made absolute, so the IR can be used from any directory.
std::string absolutePath(llvm::StringRef path);

/// Appends a side file to the module's `lowbit.side_files` (moving it to the
/// end if it is already listed: the last side file wins).
void recordSideFile(ModuleOp module, llvm::StringRef absolutePath);

/// The float weight matrices of the decoder layers' linears (q, k, v, o,
/// gate, up, down), the ones GPTQ, AWQ and RTN quantize; embeddings and the
/// output head stay in float as those methods leave them.
SmallVector<WeightOp> decoderLinearWeights(ModuleOp module);

/// The tokenizer the module's `lowbit.tokenizer` names.
llvm::Expected<std::unique_ptr<::lowbit::Tokenizer>> moduleTokenizer(ModuleOp module);

/// The calibration text and windows of a calibrated pass: `file` and the
/// given window options when `file` is set, else the text and windows the
/// module's `lowbit.calibration` statistics were collected on.
llvm::Error resolveCalibrationText(ModuleOp module, llvm::StringRef file,
                                   int64_t windows, int64_t windowLength,
                                   uint64_t seed, bool bosWindows,
                                   std::string &textPath,
                                   ::lowbit::CalibrationOptions &options);

/// Quantizes one decoder linear in place: `w` [rows, cols] gets the
/// fake-quantized weights; `hessian` is its input's 2XᵀX/n (the last linear
/// of a group gets the collected buffer itself, the others copies).
using LinearQuantizeFn = llvm::function_ref<llvm::Error(
    llvm::StringRef name, std::vector<float> &w, int64_t rows, int64_t cols,
    std::vector<float> hessian)>;

/// GPTQ's calibration loop: Hessians of each group of decoder linears
/// collected through the already quantized layers (each group before the
/// next with `trueSequential`, else a layer at a time), every weight handed
/// to `quantize`. With `floatTargetDamp` > 0 (true-sequential only) the
/// float model runs beside and each weight is first replaced by the one
/// whose output on the quantized inputs best matches the float model's
/// (FloatTarget.h, damped by that fraction). With `includeOutput`
/// (true-sequential only) the output head is quantized last.
llvm::Error quantizeLinearsSequentially(ModuleOp module,
                                        const ::lowbit::WeightStore &weights,
                                        llvm::StringRef file, int64_t windows,
                                        int64_t windowLength, uint64_t seed,
                                        bool bosWindows, bool trueSequential,
                                        LinearQuantizeFn quantize,
                                        ::lowbit::LayerwiseCheckpoint *checkpoint = nullptr,
                                        uint64_t memoryBudget = 0,
                                        llvm::StringRef spillPrefix = "",
                                        double floatTargetDamp = 0,
                                        bool includeOutput = false);

/// A memory size as a pass option spells it: bytes, or a number with K, M,
/// G or T (powers of 1024, e.g. `6G`, `1.5G`); empty means 0 (the default).
llvm::Expected<uint64_t> parseMemorySize(llvm::StringRef text);

/// Retypes weight ops as affine `!lowbit.qweight`.
void retypeAsAffine(llvm::ArrayRef<WeightOp> ops, int bits, int64_t groupSize,
                    bool symmetric, bool actOrder);

} // namespace mlir::lowbit

#endif // LOWBIT_PASSES_PASSSUPPORT_H
