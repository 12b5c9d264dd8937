//===- Calibrate.h - Run a model on calibration text ------------*- C++ -*-===//
//
// Runs a model on windows of calibration text with the reference interpreter
// and records the statistics of every linear input (Statistics.h).
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CALIBRATION_CALIBRATE_H
#define LOWBIT_CALIBRATION_CALIBRATE_H

#include "lowbit/Calibration/Statistics.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

namespace lowbit {

class Tokenizer;
class WeightStore;

struct CalibrationOptions {
  int64_t windows = 128;
  int64_t windowLength = 512;
  uint64_t seed = 0;
  /// Windows as the reference GPTQ/AWQ calibration cut them: BOS, then the
  /// encoding of the text from a random character offset (mid-stream),
  /// instead of slices of the whole text's token stream.
  bool bosWindows = false;
  bool collectHessian = true;
  bool showProgress = true;
};

/// Start offsets of `windows` windows of `windowLength` tokens in a stream of
/// `tokens` tokens, drawn as GPTQ's data loaders draw them: independent,
/// uniform over every start that fits (windows may overlap). mt19937_64 with
/// rejection sampling, so the result is the same on every platform.
std::vector<int64_t> sampleWindowStarts(int64_t tokens, int64_t windowLength,
                                        int64_t windows, uint64_t seed);

/// The calibration windows of `text`: tokenized as one stream (no BOS), then
/// cut at sampleWindowStarts(); with `bosWindows`, BOS followed by the first
/// windowLength − 1 tokens of the encoding of the text from a character
/// offset drawn by sampleWindowStarts() over the characters. Errors (naming `textName` when not empty)
/// when the options are invalid or the text is shorter than one window.
llvm::Expected<std::vector<std::vector<int32_t>>>
calibrationWindows(const Tokenizer &tokenizer, llvm::StringRef text,
                   llvm::StringRef textName, int64_t contextLength,
                   const CalibrationOptions &options);

/// calibrationWindows() of the file `textPath` for `module`'s context length.
llvm::Expected<std::vector<std::vector<int32_t>>>
calibrationWindowsOfFile(mlir::ModuleOp module, const Tokenizer &tokenizer,
                         llvm::StringRef textPath,
                         const CalibrationOptions &options);

/// Tokenizes `text` as one stream (no BOS, like GPTQ's windows cut from the
/// middle of a document), runs each window at positions 0..windowLength-1
/// with a fresh KV cache, and accumulates the statistics of every
/// lowbit.linear input.
llvm::Expected<CalibrationStatistics>
calibrate(mlir::ModuleOp module, const WeightStore &weights,
          const Tokenizer &tokenizer, llvm::StringRef text,
          const CalibrationOptions &options = {});

/// calibrate() on the contents of the file `textPath`, recorded as the
/// statistics' text.
llvm::Expected<CalibrationStatistics>
calibrateFile(mlir::ModuleOp module, const WeightStore &weights,
              const Tokenizer &tokenizer, llvm::StringRef textPath,
              const CalibrationOptions &options = {});

} // namespace lowbit

#endif // LOWBIT_CALIBRATION_CALIBRATE_H
