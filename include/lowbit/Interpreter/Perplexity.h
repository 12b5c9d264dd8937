//===- Perplexity.h - The peers' perplexity protocols -----------*- C++ -*-===//
#ifndef LOWBIT_INTERPRETER_PERPLEXITY_H
#define LOWBIT_INTERPRETER_PERPLEXITY_H

#include "lowbit/Runtime/Engine.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace lowbit {

class Tokenizer;

enum class PerplexityProtocol {
  /// P1 (Hugging Face): no BOS, non-overlapping windows of ctx tokens, all
  /// ctx-1 next-token predictions scored.
  HuggingFace,
  /// P2 (llama.cpp llama-perplexity): BOS-prefixed stream, each window's
  /// first token replaced by BOS, only the second half scored.
  LlamaCpp,
};

struct PerplexityOptions {
  PerplexityProtocol protocol = PerplexityProtocol::HuggingFace;
  int64_t contextLength = 512;
  int64_t maxWindows = -1; // -1: every full window
  bool showProgress = true;
};

struct PerplexityResult {
  double perplexity = 0;
  int64_t windows = 0;
  int64_t scoredTokens = 0;
  int64_t totalTokens = 0;
  double seconds = 0;
};

/// Text -> token ids without BOS/EOS: the model's tokenizer.
using TextEncoder = std::function<std::vector<int32_t>(llvm::StringRef)>;

/// Perplexity of `model` on `text` under `options.protocol`; `bosId` is the
/// token P2 puts first in every window.
llvm::Expected<PerplexityResult>
computePerplexity(Engine &model, const TextEncoder &encode, int32_t bosId,
                  llvm::StringRef text, const PerplexityOptions &options);

/// The same with a lowbit::Tokenizer (its BOS id).
llvm::Expected<PerplexityResult>
computePerplexity(Engine &model, const Tokenizer &tokenizer,
                  llvm::StringRef text, const PerplexityOptions &options);

} // namespace lowbit

#endif // LOWBIT_INTERPRETER_PERPLEXITY_H
