//===- FrameStore.h - Calibration windows within a memory budget -*- C++ -*-===//
//
// Internal to lib/Calibration: the frames (live activations) of the
// calibration windows of a layer-by-layer run. They stay in memory while
// they fit the budget; the rest are saved to files in a temporary folder
// next to the output and loaded only while their window runs.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_LIB_CALIBRATION_FRAMESTORE_H
#define LOWBIT_LIB_CALIBRATION_FRAMESTORE_H

#include "lowbit/Interpreter/Interpreter.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace lowbit {

/// "1.25 GB" or, below a gigabyte, "12.0 MB".
std::string memorySizeText(uint64_t bytes);

class FrameStore {
public:
  FrameStore(Interpreter &interpreter, std::vector<ExecutionFrame> frames,
             uint64_t budget, std::string spillPrefix, bool showProgress);
  ~FrameStore();
  size_t size() const { return frames.size(); }

  /// Runs `fn` on window `w`'s frame (loaded first if it was spilled), then
  /// spills it if the frames in memory exceed the budget.
  llvm::Error with(size_t w, llvm::function_ref<llvm::Error(ExecutionFrame &)> fn);

private:
  llvm::Error spill(size_t w);
  std::string fileOf(size_t w) const;

  Interpreter &interpreter;
  std::vector<ExecutionFrame> frames;
  uint64_t budget, resident = 0;
  std::string spillPrefix, dir;
  bool showProgress;
  std::vector<uint64_t> bytes;
  std::vector<bool> spilled;
};

} // namespace lowbit

#endif // LOWBIT_LIB_CALIBRATION_FRAMESTORE_H
