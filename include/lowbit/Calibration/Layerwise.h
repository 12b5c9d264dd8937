//===- Layerwise.h - Layer-by-layer calibration for GPTQ and AWQ -*- C++ -*-===//
//
// GPTQ and AWQ quantize a model one decoder layer at a time, each layer
// calibrated on the outputs of the layers already quantized before it. This
// driver keeps every calibration window part of the way through @forward
// (Interpreter::run with stop points), collects the inputs of the next group
// of linears, hands them to the quantizer, which writes fake-quantized weights
// back into the interpreter, and moves on. Every op runs once per window and
// stage; nothing after the last decoder linear (final norm, lm_head) runs.
// Weights stream: a layer is widened to fp32 when the windows reach it and
// dropped once they are past it, so memory does not grow with depth.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CALIBRATION_LAYERWISE_H
#define LOWBIT_CALIBRATION_LAYERWISE_H

#include "lowbit/Calibration/Calibrate.h"
#include "lowbit/Calibration/Statistics.h"

#include "lowbit/Interpreter/Interpreter.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace lowbit {

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
  /// With LayerwiseOptions::floatTargets: 2 (X_f − X)ᵀX / n (K×K,
  /// row-major), X the group's inputs in the model being quantized and X_f
  /// the same inputs in the float model; the Hessian's scale.
  std::vector<float> floatShift;
  std::vector<float> sample;
  int64_t sampleRows = 0;
};

/// The resume point of a layer-by-layer run (LayerwiseOptions::checkpoint):
/// the calibration windows' activations where a layer starts. The pass that
/// implements it stores its own results of the finished layers first.
class LayerwiseCheckpoint {
public:
  virtual ~LayerwiseCheckpoint();
  /// The layer index (into collectLinearGroups' list) to continue at, with
  /// `frames` filled, or 0 to start from the beginning.
  virtual llvm::Expected<int64_t> restore(const Interpreter &interpreter,
                                          std::vector<ExecutionFrame> &frames) = 0;
  /// Every layer before `nextLayer` is quantized and the `windows` frames
  /// stand before its first linear; `frameAt(w, use)` calls `use` on window
  /// w's frame (loaded from disk if it was spilled).
  using FrameVisitor = llvm::function_ref<llvm::Error(
      size_t, llvm::function_ref<void(const ExecutionFrame &)>)>;
  virtual llvm::Error save(int64_t nextLayer, const Interpreter &interpreter,
                           size_t windows, FrameVisitor frameAt) = 0;
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
  /// Sample the same positions of every window, position 0 included
  /// (otherwise the positions shift from window to window).
  bool alignSamples = false;
  /// Per-layer mode: feed each layer the outputs of the quantized layers
  /// before it (true) or of the float ones (AWQ reference's order).
  bool quantizedInputs = true;
  /// Windows a BlockProbe replays (per-layer mode only; 0: no probe).
  int64_t probeWindows = 0;
  /// Per-group mode: also run the float model beside the one being
  /// quantized and collect GroupInputs::floatShift, so a quantizer can aim
  /// at the float model's outputs rather than at its own layer's. The float
  /// model's activations take half of the activation budget. No resume.
  bool floatTargets = false;
  /// Per-group mode: quantize the output head too, last, on the final
  /// norm's outputs.
  bool includeOutput = false;
  /// Where to keep a resume point after every layer, if anywhere.
  LayerwiseCheckpoint *checkpoint = nullptr;
  /// Bytes for one layer's work plus the calibration activations (0: half
  /// of physical memory). Activations past it spill to files in a temporary
  /// folder named after `spillPrefix` (default: the calibration text).
  uint64_t memoryBudget = 0;
  std::string spillPrefix;
};

/// Half of physical memory.
uint64_t defaultMemoryBudget();

/// Replays a few calibration windows from the input of a linear group to the
/// output of a later op of the same layer with candidate weights for the
/// group, so a scale search can score a whole attention or MLP block (AWQ's
/// module2inspect) instead of each linear on its own. Valid for one layer:
/// the driver positions it before the layer's first group.
class BlockProbe {
public:
  explicit BlockProbe(Interpreter &interpreter) : interpreter(interpreter) {}
  ~BlockProbe();

  /// Mean squared difference of `end`'s result between a run with `group`'s
  /// weights replaced by `candidates` (one per weight, same sizes) and a run
  /// with the weights the interpreter holds now. `end` must follow the
  /// group's first linear in @forward.
  llvm::Expected<double> error(const LinearGroup &group, mlir::Operation *end,
                               llvm::ArrayRef<std::vector<float>> candidates);

  /// Starts a layer: `frames` stand before the layer's first group.
  void startLayer(std::vector<ExecutionFrame> frames);
  int64_t windows() const { return int64_t(layerStart.size()); }

private:
  llvm::Expected<std::vector<ExecutionFrame> *> framesBefore(mlir::Operation *op);
  llvm::Error runTo(ExecutionFrame &frame, mlir::Operation *end);

  Interpreter &interpreter;
  std::vector<ExecutionFrame> layerStart;
  // Frames advanced to a group's first linear, and reference outputs of an
  // end op, both per window and built on first use.
  llvm::DenseMap<mlir::Operation *, std::vector<ExecutionFrame>> atGroup;
  llvm::DenseMap<mlir::Operation *, std::vector<std::vector<float>>> reference;
};

/// Writable fp32 weights of the model being quantized.
class LayerwiseWeights {
public:
  explicit LayerwiseWeights(Interpreter &interpreter, BlockProbe *probe = nullptr)
      : interpreter(interpreter), blockProbe(probe) {}
  /// Null when the model has no weight `name`.
  std::vector<float> *get(llvm::StringRef name);
  /// The block probe of the current layer, or null when none was requested.
  BlockProbe *probe() { return blockProbe; }

private:
  Interpreter &interpreter;
  BlockProbe *blockProbe;
};

/// Called once per group (perGroup) or once per layer with all its groups.
/// It quantizes the groups' weights and writes their fake-quantized values
/// (and any rescaled neighbours) through `weights`; it may take the inputs'
/// buffers (a wide layer's Hessian is the largest thing in memory).
using LayerwiseQuantizeFn = llvm::function_ref<llvm::Error(
    llvm::ArrayRef<LinearGroup> groups, llvm::MutableArrayRef<GroupInputs> inputs,
    LayerwiseWeights &weights)>;

/// The decoder-layer linear groups of `module`, layer by layer; with
/// `includeOutput`, the output head (when it has a weight of its own) last,
/// as a layer of its own numbered after the decoder layers.
llvm::Expected<std::vector<std::vector<LinearGroup>>>
collectLinearGroups(mlir::ModuleOp module, bool includeOutput = false);

/// Runs the layer-by-layer calibration on the text in `textPath`.
llvm::Error calibrateLayerwise(mlir::ModuleOp module, const WeightStore &weights,
                               const Tokenizer &tokenizer,
                               llvm::StringRef textPath,
                               const LayerwiseOptions &options,
                               LayerwiseQuantizeFn quantize);

} // namespace lowbit

#endif // LOWBIT_CALIBRATION_LAYERWISE_H
