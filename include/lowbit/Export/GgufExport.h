//===- GgufExport.h - lowbit IR to a GGUF file llama.cpp loads --*- C++ -*-===//
#ifndef LOWBIT_EXPORT_GGUFEXPORT_H
#define LOWBIT_EXPORT_GGUFEXPORT_H

#include "lowbit/Formats/DType.h"

#include "llvm/Support/Error.h"

namespace lowbit {

struct LoadedModel;

struct GgufExportOptions {
  /// Encoding of matrices (F32, F16, BF16 or Q8_0); vectors and norms stay
  /// F32 as convert_hf_to_gguf keeps them.
  DType matrixType = DType::F16;
  std::string name; // general.name
};

/// Writes `model` as a llama.cpp-loadable GGUF v3 file (formats.md §2): the
/// hyper-parameters, the SentencePiece vocabulary and every weight the IR
/// names, with q/k rows permuted into llama.cpp's rope order when needed.
llvm::Error exportGguf(const LoadedModel &model, llvm::StringRef path,
                       const GgufExportOptions &options);

} // namespace lowbit

#endif // LOWBIT_EXPORT_GGUFEXPORT_H
