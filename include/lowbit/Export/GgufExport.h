//===- GgufExport.h - lowbit IR to a GGUF file llama.cpp loads --*- C++ -*-===//
#ifndef LOWBIT_EXPORT_GGUFEXPORT_H
#define LOWBIT_EXPORT_GGUFEXPORT_H

#include "lowbit/Quant/GgufMixes.h"

#include <optional>

#include "llvm/Support/Error.h"

namespace lowbit {

struct LoadedModel;

struct GgufExportOptions {
  /// The llama.cpp file type to produce: matrices get its types (with
  /// llama-quantize's per-tensor mix unless `pure`). Unset ("auto"): weights
  /// already in a ggml block format keep it and float matrices become F16.
  /// Vectors (norms, biases) are always F32, as convert_hf_to_gguf writes them.
  std::optional<GgufFileType> fileType;
  bool pure = false;
  std::string name; // general.name
  /// Progress lines on stderr.
  bool showProgress = true;
};

/// Writes `model` as a llama.cpp-loadable GGUF v3 file (formats.md §2): the
/// hyper-parameters, the SentencePiece vocabulary and every weight the IR
/// names, with q/k rows permuted into llama.cpp's rope order when needed.
llvm::Error exportGguf(const LoadedModel &model, llvm::StringRef path,
                       const GgufExportOptions &options);

} // namespace lowbit

#endif // LOWBIT_EXPORT_GGUFEXPORT_H
