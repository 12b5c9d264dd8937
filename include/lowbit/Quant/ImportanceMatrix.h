//===- ImportanceMatrix.h - llama.cpp's imatrix ------------------*- C++ -*-===//
//
// Per weight, the mean of x² of the activations multiplying each input
// column, as llama-imatrix collects it. Read and written in llama.cpp's
// legacy .dat format (formats.md §4.4) so either tool's matrix can be used.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_IMPORTANCEMATRIX_H
#define LOWBIT_QUANT_IMPORTANCEMATRIX_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <string>
#include <vector>

namespace lowbit {

struct ImportanceMatrix {
  /// GGUF tensor name -> mean x² per input column.
  std::map<std::string, std::vector<float>> entries;
  /// Chunks of calibration text the statistics came from.
  int32_t chunks = 0;
  std::string dataset;

  static llvm::Expected<ImportanceMatrix> load(llvm::StringRef path);
  /// Writes the .dat file (values stored as mean · ncall with ncall = chunks,
  /// as llama-imatrix does).
  llvm::Error save(llvm::StringRef path) const;

  /// The entry for a weight given by its IR or GGUF name, or null.
  const std::vector<float> *find(llvm::StringRef weightName) const;
};

} // namespace lowbit

#endif // LOWBIT_QUANT_IMPORTANCEMATRIX_H
