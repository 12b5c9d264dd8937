//===- BnbExport.h - lowbit IR to bitsandbytes checkpoints -------*- C++ -*-===//
#ifndef LOWBIT_EXPORT_BNBEXPORT_H
#define LOWBIT_EXPORT_BNBEXPORT_H

#include "llvm/Support/Error.h"

namespace lowbit {

struct LoadedModel;

struct BnbExportOptions {
  /// Progress lines and warnings on stderr.
  bool showProgress = true;
};

/// Writes `model` as a Hugging Face checkpoint directory `dir` that
/// transformers loads with bitsandbytes (formats.md §7): model.safetensors
/// with the decoder's linears serialized as Linear4bit (nf4/fp4 weights from
/// --lowbit-bnb-4bit: packed codes, absmax, quant_map, nested statistics and
/// the quant_state JSON) or Linear8bitLt (int8_row weights from
/// --lowbit-llm-int8: CB, SCB, weight_format), every other tensor in its
/// own float type (anything else in the model's: the embedding's type),
/// config.json with the BitsAndBytesConfig `quantization_config`, and the
/// tokenizer files. Every decoder linear must be quantized one way; 4-bit
/// and int8 weights cannot be mixed. The directory is built under a
/// temporary name and renamed at the end; on error nothing is left behind.
/// An existing `dir` must be empty.
llvm::Error exportBnbCheckpoint(const LoadedModel &model, llvm::StringRef dir,
                                const BnbExportOptions &options);

} // namespace lowbit

#endif // LOWBIT_EXPORT_BNBEXPORT_H
