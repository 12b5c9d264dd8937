//===- Imatrix.h - Calibration statistics as an importance matrix -*- C++ -*-=//
#ifndef LOWBIT_CALIBRATION_IMATRIX_H
#define LOWBIT_CALIBRATION_IMATRIX_H

#include "lowbit/Calibration/Statistics.h"
#include "lowbit/Quant/ImportanceMatrix.h"

namespace lowbit {

/// llama.cpp's importance matrix is the per-input-column mean of x²: the
/// meanSquare of our statistics, keyed by GGUF tensor name.
ImportanceMatrix importanceFromCalibration(const CalibrationStatistics &stats);

/// Reads either a llama.cpp imatrix (.dat) or lowbit calibration statistics
/// (checked against `config`, so another model's statistics are refused).
llvm::Expected<ImportanceMatrix> loadImportance(llvm::StringRef path,
                                                const ModelConfig &config);

} // namespace lowbit

#endif // LOWBIT_CALIBRATION_IMATRIX_H
