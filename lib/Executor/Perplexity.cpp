//===- Perplexity.cpp - P1 and P2 perplexity (anchors.md) -----------------===//
#include "lowbit/Executor/Perplexity.h"
#include "lowbit/Executor/Interpreter.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Support/Progress.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <numeric>

using namespace lowbit;

llvm::Expected<PerplexityResult>
lowbit::computePerplexity(Interpreter &model, const Tokenizer &tokenizer,
                          llvm::StringRef text,
                          const PerplexityOptions &options) {
  const int64_t ctx = options.contextLength;
  if (ctx < 2)
    return llvm::createStringError("context length must be at least 2");
  bool llamaCpp = options.protocol == PerplexityProtocol::LlamaCpp;
  int32_t bos = int32_t(tokenizer.vocabulary().bosId);

  std::vector<int> tokens;
  if (llamaCpp) {
    tokens.push_back(bos);
    // llama-perplexity -f drops one trailing newline from the file.
    if (text.ends_with("\n"))
      text = text.drop_back();
  }
  std::vector<int> body = tokenizer.encode(text);
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
    model.resetCache();
    llvm::Expected<Activation> logits = model.forward(window, positions);
    if (!logits)
      return logits.takeError();
    for (int64_t j = first; j + 1 < ctx; ++j) {
      nll -= logProbability(logits->row(j), logits->cols, window[j + 1]);
      ++result.scoredTokens;
    }
    progress.update(w + 1, llvm::formatv("ppl {0:F4}",
                                         std::exp(nll / result.scoredTokens))
                               .str());
  }
  progress.finish();
  result.windows = windows;
  result.perplexity = std::exp(nll / result.scoredTokens);
  result.seconds = progress.elapsedSeconds();
  return result;
}
