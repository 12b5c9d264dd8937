//===- HfConfig.h - Model hyper-parameters ----------------------*- C++ -*-===//
#ifndef LOWBIT_FORMATS_HFCONFIG_H
#define LOWBIT_FORMATS_HFCONFIG_H

#include "llvm/Support/Error.h"

#include <string>

namespace lowbit {

/// The hyper-parameters of a decoder-only Llama-family model, independent of
/// where they were read from (config.json or GGUF metadata).
struct ModelConfig {
  std::string arch = "llama"; // llama, mistral or qwen2
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  int64_t contextLength = 2048;
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  int64_t bosTokenId = 1;
  int64_t eosTokenId = 2;
  bool tieWordEmbeddings = false;
  bool attentionBias = false; // q/k/v biases (Qwen2)

  /// Checks ranges and internal consistency before anything divides by or
  /// allocates by these values; `source` names the file for messages, which
  /// use config.json's key names, or GGUF's `<ggufArch>.*` keys when given.
  llvm::Error validate(llvm::StringRef source,
                       llvm::StringRef ggufArch = {}) const;
};

/// Reads `config.json` (Llama, Mistral, Qwen2). Rejects unsupported
/// architectures, activations and rope scaling with a message naming the file.
llvm::Expected<ModelConfig> readHfConfig(llvm::StringRef path);
/// The same for config.json text already in memory; `source` names it.
llvm::Expected<ModelConfig> parseHfConfig(llvm::StringRef text,
                                          llvm::StringRef source);

} // namespace lowbit

#endif // LOWBIT_FORMATS_HFCONFIG_H
