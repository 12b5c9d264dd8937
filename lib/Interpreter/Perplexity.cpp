//===- Perplexity.cpp - P1 and P2 perplexity (anchors.md) -----------------===//
#include "lowbit/Interpreter/Perplexity.h"
#include "lowbit/Interpreter/Kernels.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Support/Progress.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <numeric>

using namespace lowbit;

llvm::Expected<PerplexityResult>
lowbit::computePerplexity(Engine &model, const Tokenizer &tokenizer,
                          llvm::StringRef text,
                          const PerplexityOptions &options) {
  TextEncoder encode = [&](llvm::StringRef s) {
    std::vector<int> ids = tokenizer.encode(s);
    return std::vector<int32_t>(ids.begin(), ids.end());
  };
  return computePerplexity(model, encode, int32_t(tokenizer.vocabulary().bosId),
                           text, options);
}

llvm::Expected<PerplexityResult>
lowbit::computePerplexity(Engine &model, const TextEncoder &encode,
                          int32_t bos, llvm::StringRef text,
                          const PerplexityOptions &options) {
  const int64_t ctx = options.contextLength;
  if (ctx < 2)
    return llvm::createStringError("context length must be at least 2");
  if (ctx > model.contextLength())
    return llvm::createStringError(
        "context length " + std::to_string(ctx) + " exceeds the model's " +
        std::to_string(model.contextLength()));
  bool llamaCpp = options.protocol == PerplexityProtocol::LlamaCpp;
  // llama.cpp's protocol scores positions [ctx/2, ctx-1): at ctx 2 that is none.
  if (llamaCpp && ctx < 3)
    return llvm::createStringError(
        "context length 2 scores no token under protocol p2 (it scores the "
        "second half of each window); use at least 3");

  std::vector<int32_t> tokens;
  if (llamaCpp) {
    tokens.push_back(bos);
    // llama-perplexity -f drops one trailing newline from the file.
    if (text.ends_with("\n"))
      text = text.drop_back();
  }
  std::vector<int32_t> body = encode(text);
  tokens.insert(tokens.end(), body.begin(), body.end());

  int64_t windows = int64_t(tokens.size()) / ctx;
  if (options.maxWindows >= 0)
    windows = std::min(windows, options.maxWindows);
  if (windows == 0)
    return llvm::createStringError(
        "text has " + std::to_string(tokens.size()) +
        " tokens, fewer than one window of " + std::to_string(ctx));

  // llama-perplexity scores positions [ctx/2, ctx-1) of each window.
  const int64_t first = llamaCpp ? ctx / 2 : 0;
  std::vector<int32_t> positions(ctx);
  std::iota(positions.begin(), positions.end(), 0);
  PerplexityResult result;
  result.totalTokens = int64_t(tokens.size());
  double nll = 0;
  Progress progress("perplexity", windows, options.showProgress);
  for (int64_t w = 0; w < windows; ++w) {
    std::vector<int32_t> window(tokens.begin() + w * ctx,
                                tokens.begin() + (w + 1) * ctx);
    if (llamaCpp)
      window[0] = bos;
    model.reset();
    rt::Status status = model.forward(window.data(), positions.data(), ctx,
                                      /*allLogits=*/true);
    if (!status.ok())
      return llvm::createStringError(status.message());
    const float *logits = model.logits();
    const int64_t vocab = model.vocabSize();
    for (int64_t j = first; j + 1 < ctx; ++j) {
      nll -= logProbability(logits + j * vocab, vocab, window[j + 1]);
      ++result.scoredTokens;
    }
    progress.update(w + 1, llvm::formatv("ppl {0:F4}",
                                         std::exp(nll / result.scoredTokens))
                               .str());
  }
  progress.finish();
  result.windows = windows;
  result.perplexity = std::exp(nll / result.scoredTokens);
  if (!std::isfinite(result.perplexity))
    return llvm::createStringError(
        "perplexity is not finite: the model produced NaN or infinite "
        "logits (check the weights for NaN/Inf)");
  result.seconds = progress.elapsedSeconds();
  return result;
}
