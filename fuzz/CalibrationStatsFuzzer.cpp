//===- CalibrationStatsFuzzer.cpp - Calibration statistics (protobuf) -----===//
//
// Input: a statistics file as --lowbit-calibrate writes it. Accepted
// statistics must have the sizes the quantization passes index them by.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "lowbit/Calibration/Imatrix.h"
#include "lowbit/Calibration/Statistics.h"
#include "lowbit/Formats/HfConfig.h"
#include "lowbit/Support/InputFiles.h"

#include <cmath>

using namespace llvm;
using namespace lowbit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static fuzz::MemFile file;
  const ModelConfig &config = fuzz::tinyModelConfig();
  const std::string &path = file.write(fuzz::bytesOf(data, size));
  // Each input is unrelated to the last: keep the record of inputs small.
  forgetInputFiles();
  Expected<CalibrationStatistics> stats = CalibrationStatistics::load(path);
  if (!stats) {
    fuzz::expectFileError(stats.takeError(), path);
    return 0;
  }
  for (const LinearStatistics &s : stats->inputs()) {
    size_t k = size_t(s.inFeatures);
    if (s.weights.empty() || s.meanSquare.size() != k ||
        s.meanAbs.size() != k || s.absMax.size() != k ||
        !(s.hessian.empty() || s.hessian.size() == k * k))
      __builtin_trap();
    for (const std::string &w : s.weights)
      if (stats->lookup(w) != &s)
        __builtin_trap();
    // The quantizers weight errors by these.
    for (const std::vector<float> *values : {&s.meanSquare, &s.meanAbs, &s.absMax})
      for (float v : *values)
        if (!std::isfinite(v) || v < 0)
          __builtin_trap();
    for (float v : s.hessian)
      if (!std::isfinite(v))
        __builtin_trap();
  }
  (void)stats->model.str();
  if (Error e = stats->checkModel(config, path))
    fuzz::expectFileError(std::move(e), path);
  (void)importanceFromCalibration(*stats);
  return 0;
}
