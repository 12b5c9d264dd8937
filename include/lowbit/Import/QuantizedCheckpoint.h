//===- QuantizedCheckpoint.h - GPTQ and AWQ Hugging Face checkpoints -*- C++ -*-===//
//
// A GPTQ or AWQ checkpoint stores each quantized linear as packed int32
// tensors (PREFIX.qweight, .qzeros, .scales, GPTQ's .g_idx) instead of
// PREFIX.weight. Importing one unpacks them into lowbit's affine layout
// (NAME u8 codes, NAME.scales, NAME.zeros, NAME.g_idx) in a safetensors side
// file, so the IR names NAME = PREFIX.weight typed as an affine qweight.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_IMPORT_QUANTIZEDCHECKPOINT_H
#define LOWBIT_IMPORT_QUANTIZEDCHECKPOINT_H

#include "lowbit/Formats/AffinePacking.h"
#include "lowbit/Formats/HfConfig.h"

#include "llvm/Support/Error.h"

#include <optional>
#include <string>

namespace lowbit {

struct ModelSource;
class WeightStore;

/// What a checkpoint's quantization config declares.
struct CheckpointQuantization {
  enum class Method { Gptq, Awq };
  Method method = Method::Gptq;
  int bits = 4;
  int64_t groupSize = 128; // -1: one group per output channel
  bool symmetric = true;
  bool descAct = false; // as declared; each g_idx decides act-order
  GptqZeroFormat zeroFormat = GptqZeroFormat::V1;
  std::string configFile; // where it was read, for messages
};

/// The quantization a Hugging Face directory declares: config.json's
/// `quantization_config`, else quantize_config.json (GPTQ), else
/// quant_config.json (AWQ). nullopt for an unquantized model; an error for
/// a method or layout lowbit cannot read (bitsandbytes, marlin, AWQ GEMV...).
llvm::Expected<std::optional<CheckpointQuantization>>
readCheckpointQuantization(llvm::StringRef dir);

/// Unpacks every linear of `src`'s model that the checkpoint stores packed,
/// writes the unpacked tensors to `sideFile` (empty: a temporary file that
/// is removed as soon as it is mapped) and adds it to `weights`. Records the
/// affine schemes in `src`, and the side file when it is kept.
llvm::Error unpackQuantizedCheckpoint(const CheckpointQuantization &quant,
                                      ModelSource &src, WeightStore &weights,
                                      llvm::StringRef sideFile);

} // namespace lowbit

#endif // LOWBIT_IMPORT_QUANTIZEDCHECKPOINT_H
