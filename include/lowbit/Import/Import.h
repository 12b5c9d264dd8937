//===- Import.h - Hugging Face and GGUF models to lowbit IR -----*- C++ -*-===//
#ifndef LOWBIT_IMPORT_IMPORT_H
#define LOWBIT_IMPORT_IMPORT_H

#include "lowbit/Formats/HfConfig.h"
#include "lowbit/Formats/TensorNames.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <map>

namespace lowbit {

class GgufFile;
class WeightStore;

/// Everything the IR of a model is built from.
struct ModelSource {
  ModelConfig config;
  Naming naming = Naming::HuggingFace;
  /// True when q/k rows are in GGUF's adjacent-pair order (llama GGUF files).
  bool interleavedRope = false;
  std::vector<std::string> weightFiles;
  std::string tokenizer; // tokenizer.model path or the GGUF file
  /// Weights the store holds as affine codes (unpacked GPTQ/AWQ linears),
  /// by name, and the side files holding them (lowbit.side_files).
  struct AffineScheme {
    int bits;
    int64_t groupSize;
    bool symmetric;
    bool actOrder;
  };
  std::map<std::string, AffineScheme> affineWeights;
  std::vector<std::string> sideFiles;
};

struct HfImportOptions {
  /// Where the unpacked codes of a GPTQ/AWQ checkpoint go. Empty: a
  /// temporary file, removed once mapped (the weights stay usable, but the
  /// IR does not name them).
  std::string sideFile;
};

/// Builds the @forward function of a Llama-family decoder, referring to each
/// weight by name; the weight store provides shapes and encodings and proves
/// every weight exists.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
buildModelModule(mlir::MLIRContext *ctx, const ModelSource &source,
                 const WeightStore &weights);

/// Reads a Hugging Face model directory (config.json, *.safetensors,
/// tokenizer.model) into a ModelSource and opens its weights.
/// GPTQ and AWQ checkpoints are unpacked (QuantizedCheckpoint.h).
llvm::Expected<ModelSource> readHfDirectory(llvm::StringRef dir,
                                            WeightStore &weights,
                                            const HfImportOptions &options = {});
/// Reads a GGUF file's metadata into a ModelSource and opens its weights.
llvm::Expected<ModelSource> readGgufModel(llvm::StringRef path,
                                          WeightStore &weights);
/// Hyper-parameters from GGUF metadata (llama and qwen2 architectures).
llvm::Expected<ModelConfig> configFromGguf(const GgufFile &file);

/// The token embedding in `weights` (either naming) must be [vocab_size,
/// hidden_size]: checked before a tokenizer is padded to vocab_size, so a
/// configuration cannot size that table beyond what the weights hold.
llvm::Error checkEmbeddingRows(const ModelConfig &config,
                               const WeightStore &weights);

/// ModelConfig <-> #lowbit.config.
mlir::Attribute configToAttr(mlir::MLIRContext *ctx, const ModelConfig &config);
llvm::Expected<ModelConfig> configFromModule(mlir::ModuleOp module);

} // namespace lowbit

#endif // LOWBIT_IMPORT_IMPORT_H
