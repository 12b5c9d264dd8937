//===- Sensitivity.h - How much one weight's error moves the output -*- C++ -*-===//
//
// A size-budgeted mix needs the loss increase each tensor causes at each
// candidate type. Measuring every (tensor, type) pair through the model is
// too slow; instead the model runs once per tensor with that tensor alone
// perturbed (e.g. quantized at a probe type) and the divergence of its
// next-token distributions from the float model's is recorded. The caller
// divides it by the tensor's activation-weighted error at the probe type to
// get a gain that turns any type's weighted error into a predicted loss.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CALIBRATION_SENSITIVITY_H
#define LOWBIT_CALIBRATION_SENSITIVITY_H

#include "lowbit/Calibration/Calibrate.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace lowbit {

class Tokenizer;
class WeightStore;

/// How the calibration windows use one weight matrix [rows, cols].
struct TensorUsage {
  std::string name;
  int64_t rows = 0, cols = 0;
  /// Mean x² of each input column over the calibration tokens, when the
  /// weight is a linear's (llama.cpp's importance); else empty.
  std::vector<float> columnWeight;
  /// Occurrences of each row's token in the windows, when the weight is the
  /// embedding table and no linear reads it; else empty.
  std::vector<float> rowWeight;
};

/// Writes a perturbed copy of a weight into `values` (its float values,
/// [rows, cols] row-major, replaced in place).
using PerturbWeightFn = llvm::function_ref<llvm::Error(
    const TensorUsage &usage, std::vector<float> &values)>;

struct SensitivityResult {
  std::vector<TensorUsage> usage;  // one per requested name, in order
  std::vector<double> divergence;  // mean KL(float ‖ perturbed) per token
};

/// Runs the float model on the calibration windows of `textPath`, records
/// each named weight's usage, then for each name alone applies `perturb`
/// and measures the mean KL divergence of the next-token distributions
/// from the float model's. Progress per tensor on stderr.
llvm::Expected<SensitivityResult>
measureSensitivity(mlir::ModuleOp module, const WeightStore &weights,
                   const Tokenizer &tokenizer, llvm::StringRef textPath,
                   const CalibrationOptions &options,
                   llvm::ArrayRef<std::string> names, PerturbWeightFn perturb);

} // namespace lowbit

#endif // LOWBIT_CALIBRATION_SENSITIVITY_H
