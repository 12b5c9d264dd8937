//===- Imatrix.cpp - Calibration statistics as an importance matrix -------===//
#include "lowbit/Calibration/Imatrix.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Support/Error.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;
using namespace lowbit;

ImportanceMatrix lowbit::importanceFromCalibration(const CalibrationStatistics &stats) {
  ImportanceMatrix m;
  m.chunks = int32_t(stats.windows);
  m.dataset = stats.text;
  for (const LinearStatistics &s : stats.inputs())
    for (const std::string &w : s.weights) {
      std::string name = w;
      if (std::optional<ParsedWeightName> p = parseWeightName(w))
        name = weightName(Naming::Gguf, p->role, p->layer);
      m.entries[name] = s.meanSquare;
    }
  return m;
}

Expected<ImportanceMatrix> lowbit::loadImportance(StringRef path,
                                                  const ModelConfig &config) {
  Expected<ImportanceMatrix> dat = ImportanceMatrix::load(path);
  if (dat)
    return dat;
  std::string datError = toString(dat.takeError());
  Expected<CalibrationStatistics> stats = CalibrationStatistics::load(path, config);
  if (stats)
    return importanceFromCalibration(*stats);
  std::string statsError = toString(stats.takeError());
  // A statistics file that names another model says so; otherwise report both.
  if (StringRef(statsError).contains("model"))
    return createStringError(statsError);
  return fileError(path, "neither a llama.cpp imatrix ({0}) nor lowbit "
                   "calibration statistics ({1})", datError, statsError);
}
