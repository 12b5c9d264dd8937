//===- ResumableSideFile.h - Write-through side file with resume points -*- C++ -*-===//
//
// The side file of a layer-by-layer pass, written tensor by tensor as layers
// finish (SafetensorsStreamWriter), and, with resume=true, a resume point
// after every layer: SIDE.resume holds what the run depends on (model files,
// IR, pass options, threads) and the calibration windows' activations where
// the next layer starts. A run started again with resume=true continues
// there and writes the same bytes an uninterrupted run would.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_PASSES_RESUMABLESIDEFILE_H
#define LOWBIT_PASSES_RESUMABLESIDEFILE_H

#include "lowbit/Calibration/Layerwise.h"
#include "lowbit/Formats/SafetensorsStreamWriter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lowbit {
class WeightStore;
}

namespace mlir::lowbit {

class ResumableSideFile : public ::lowbit::LayerwiseCheckpoint {
public:
  /// Opens the side file `path` for `tensors`. With `resume`, continues from
  /// PATH.resume if there is one and it was written for the same model,
  /// IR and `pass` options; otherwise starts afresh.
  static llvm::Expected<std::unique_ptr<ResumableSideFile>>
  open(llvm::StringRef path, llvm::ArrayRef<::lowbit::SafetensorsTensorInfo> tensors,
       ModuleOp module, const ::lowbit::WeightStore &weights, Pass &pass,
       bool resume);
  ~ResumableSideFile() override;

  ::lowbit::SafetensorsStreamWriter &writer() { return *stream; }
  /// Whether this run continued an interrupted one (restore found a point).
  bool resumed() const { return continued; }

  llvm::Expected<int64_t> restore(const ::lowbit::Interpreter &interpreter,
                                  std::vector<::lowbit::ExecutionFrame> &frames) override;
  llvm::Error save(int64_t nextLayer, const ::lowbit::Interpreter &interpreter,
                   size_t windows, FrameVisitor frameAt) override;

  /// Renames the finished side file into place and drops the resume point.
  llvm::Error commit();
  /// After a failure: keeps the partial file and resume point if one was
  /// saved (saying so on stderr), else removes the partial file.
  void abandon();

private:
  ResumableSideFile() = default;
  std::string path, statePath;
  std::vector<std::pair<std::string, std::string>> fingerprint;
  bool resume = false, saved = false, continued = false;
  int pointsSaved = 0;
  std::string resumeState; // binary part of a resume point being continued
  std::unique_ptr<::lowbit::SafetensorsStreamWriter> stream;
};

/// Safetensors declarations of an affine weight (Quant/Affine.h): NAME (u8
/// codes), NAME.scales, NAME.zeros and, with `gIdx`, NAME.g_idx.
void declareAffineTensors(std::vector<::lowbit::SafetensorsTensorInfo> &out,
                          llvm::StringRef name, int64_t rows, int64_t cols,
                          int64_t groupSize, bool gIdx);

} // namespace mlir::lowbit

#endif // LOWBIT_PASSES_RESUMABLESIDEFILE_H
