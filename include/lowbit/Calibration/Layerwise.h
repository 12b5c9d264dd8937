//===- Layerwise.h - Layer-by-layer calibration for GPTQ and AWQ -*- C++ -*-===//
//
// GPTQ and AWQ quantize a model one decoder layer at a time, each layer
// calibrated on the outputs of the layers already quantized before it. This
// driver keeps every calibration window part of the way through @forward
// (Interpreter::run with stop points), collects the inputs of the next group
// of linears, hands them to the quantizer, which writes fake-quantized weights
// back into the interpreter, and moves on. Every op runs once per window and
// stage; nothing after the last decoder linear (final norm, lm_head) runs.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CALIBRATION_LAYERWISE_H
#define LOWBIT_CALIBRATION_LAYERWISE_H

#include "lowbit/Calibration/Calibrate.h"
#include "lowbit/Calibration/Statistics.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace lowbit {

class Interpreter;
class Tokenizer;
class WeightStore;

/// Linears of one decoder layer that read the same activation (q/k/v,
/// gate/up, or a single o or down), in @forward order.
struct LinearGroup {
  int64_t layer = 0;
  std::vector<std::string> weights;
  std::vector<mlir::Operation *> linears;
  mlir::Value input;
  int64_t inFeatures = 0;
};

/// What the quantizer gets for one group: the statistics of its input over
/// every calibration token (Hessian if requested) and, if requested, an
/// evenly spread sample of the input rows [sampleRows, inFeatures].
struct GroupInputs {
  LinearStatistics statistics;
  std::vector<float> sample;
  int64_t sampleRows = 0;
};

struct LayerwiseOptions {
  CalibrationOptions calibration;
  /// Quantize each group before collecting the inputs of the next one
  /// (GPTQ's true-sequential order). Otherwise a whole layer's groups are
  /// collected from the layer as it stands, quantized together, and the
  /// layer is run again to feed the next one (AWQ's order).
  bool perGroup = true;
  bool collectHessian = true;
  /// Input rows to keep per group (0: none).
  int64_t sampleRows = 0;
};

/// Writable fp32 weights of the model being quantized.
class LayerwiseWeights {
public:
  explicit LayerwiseWeights(Interpreter &interpreter) : interpreter(interpreter) {}
  /// Null when the model has no weight `name`.
  std::vector<float> *get(llvm::StringRef name);

private:
  Interpreter &interpreter;
};

/// Called once per group (perGroup) or once per layer with all its groups.
/// It quantizes the groups' weights and writes their fake-quantized values
/// (and any rescaled neighbours) through `weights`.
using LayerwiseQuantizeFn = llvm::function_ref<llvm::Error(
    llvm::ArrayRef<LinearGroup> groups, llvm::ArrayRef<GroupInputs> inputs,
    LayerwiseWeights &weights)>;

/// The decoder-layer linear groups of `module`, layer by layer.
llvm::Expected<std::vector<std::vector<LinearGroup>>>
collectLinearGroups(mlir::ModuleOp module);

/// Runs the layer-by-layer calibration on the text in `textPath`.
llvm::Error calibrateLayerwise(mlir::ModuleOp module, const WeightStore &weights,
                               const Tokenizer &tokenizer,
                               llvm::StringRef textPath,
                               const LayerwiseOptions &options,
                               LayerwiseQuantizeFn quantize);

} // namespace lowbit

#endif // LOWBIT_CALIBRATION_LAYERWISE_H
