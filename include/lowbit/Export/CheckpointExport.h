//===- CheckpointExport.h - lowbit IR to GPTQ / AWQ checkpoints -*- C++ -*-===//
#ifndef LOWBIT_EXPORT_CHECKPOINTEXPORT_H
#define LOWBIT_EXPORT_CHECKPOINTEXPORT_H

#include "lowbit/Formats/AffinePacking.h"

#include "llvm/Support/Error.h"

namespace lowbit {

struct LoadedModel;

enum class CheckpointKind { Gptq, Awq };

struct CheckpointExportOptions {
  CheckpointKind kind = CheckpointKind::Gptq;
  /// GPTQ zero-point convention; v1 ("gptq", what AutoGPTQ and transformers
  /// read) cannot store an asymmetric zero of 0, v2 ("gptq_v2") can.
  GptqZeroFormat gptqFormat = GptqZeroFormat::V1;
  /// Progress lines and warnings on stderr.
  bool showProgress = true;
};

/// Writes `model` as a Hugging Face checkpoint directory `dir`:
/// model.safetensors with the decoder's linears packed in the GPTQ or AWQ
/// GEMM layout (formats.md §5, §6) and every other weight in fp16,
/// config.json with its `quantization_config`, quantize_config.json (GPTQ)
/// or quant_config.json (AWQ), and the tokenizer files. The linears must be
/// affine-quantized with one bits/group size/symmetry. The directory is
/// built under a temporary name and renamed at the end; on error nothing is
/// left behind. An existing `dir` must be empty.
llvm::Error exportQuantizedCheckpoint(const LoadedModel &model,
                                      llvm::StringRef dir,
                                      const CheckpointExportOptions &options);

} // namespace lowbit

#endif // LOWBIT_EXPORT_CHECKPOINTEXPORT_H
