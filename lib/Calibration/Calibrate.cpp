//===- Calibrate.cpp - Statistics of every linear input on sample text ----===//
#include "lowbit/Calibration/Calibrate.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Interpreter/Interpreter.h"
#include "lowbit/Calibration/Layerwise.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Progress.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <limits>

#include <numeric>
#include <random>

using namespace llvm;
using namespace lowbit;

std::vector<int64_t> lowbit::sampleWindowStarts(int64_t tokens,
                                                int64_t windowLength,
                                                int64_t windows,
                                                uint64_t seed) {
  std::vector<int64_t> starts;
  if (windows <= 0 || windowLength <= 0 || tokens < windowLength)
    return starts;
  // std::uniform_int_distribution differs between standard libraries;
  // rejecting the top partial block of 2^64 keeps the draw uniform and the
  // same everywhere.
  uint64_t range = uint64_t(tokens - windowLength) + 1;
  uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  std::mt19937_64 rng(seed);
  starts.reserve(size_t(windows));
  for (int64_t i = 0; i < windows; ++i) {
    uint64_t v;
    do
      v = rng();
    while (v >= limit);
    starts.push_back(int64_t(v % range));
  }
  return starts;
}

namespace {
/// The linear inputs of a module, one per distinct activation.
struct LinearInputs {
  std::vector<std::vector<std::string>> weights;
  std::vector<int64_t> inFeatures;
  /// The one linear of each input whose observer call is recorded; the
  /// others reading the same activation would only repeat it.
  DenseMap<mlir::Operation *, unsigned> recordedBy;
};
} // namespace

static Expected<LinearInputs> collectLinearInputs(mlir::ModuleOp module) {
  LinearInputs inputs;
  DenseMap<mlir::Value, unsigned> indexOf;
  std::string error;
  module.walk([&](mlir::lowbit::LinearOp op) {
    auto weight = op.getWeight().getDefiningOp<mlir::lowbit::WeightOp>();
    if (!weight) {
      error = "a lowbit.linear whose weight is not a lowbit.weight";
      return mlir::WalkResult::interrupt();
    }
    auto [it, inserted] =
        indexOf.try_emplace(op.getInput(), unsigned(inputs.weights.size()));
    if (inserted) {
      inputs.weights.emplace_back();
      inputs.inFeatures.push_back(
          cast<mlir::RankedTensorType>(op.getInput().getType()).getDimSize(1));
      inputs.recordedBy[op] = it->second;
    }
    inputs.weights[it->second].push_back(weight.getName().str());
    return mlir::WalkResult::advance();
  });
  if (!error.empty())
    return createStringError("cannot calibrate " + error);
  if (inputs.weights.empty())
    return createStringError("cannot calibrate a module without lowbit.linear");
  return inputs;
}

/// BOS, then the text from a random character offset: enough characters for
/// the window at the densest tokenization seen in practice (4 per token,
/// and at least the 8000 the reference took).
static Expected<std::vector<std::vector<int32_t>>>
bosLedWindows(const Tokenizer &tokenizer, StringRef text, StringRef textName,
              const CalibrationOptions &options) {
  auto error = [&](const std::string &message) -> Error {
    if (textName.empty())
      return createStringError(message);
    return fileError(textName, "{0}", message);
  };
  int64_t span = std::min<int64_t>(int64_t(text.size()),
                                   std::max<int64_t>(8000, 4 * options.windowLength));
  std::vector<std::vector<int32_t>> windows;
  for (int64_t start : sampleWindowStarts(int64_t(text.size()), span,
                                          options.windows, options.seed)) {
    // Start on a character, not inside a UTF-8 sequence.
    int64_t begin = start;
    while (begin < int64_t(text.size()) && (uint8_t(text[begin]) & 0xC0) == 0x80)
      ++begin;
    std::vector<int> tokens = tokenizer.encode(text.substr(begin, span));
    if (int64_t(tokens.size()) < options.windowLength - 1)
      return error(formatv("calibration text from character {0} has {1} "
                           "tokens, fewer than one window of {2} after BOS",
                           begin, tokens.size(), options.windowLength - 1)
                       .str());
    std::vector<int32_t> window;
    window.reserve(size_t(options.windowLength));
    window.push_back(int32_t(tokenizer.vocabulary().bosId));
    window.insert(window.end(), tokens.begin(),
                  tokens.begin() + (options.windowLength - 1));
    windows.push_back(std::move(window));
  }
  return std::move(windows);
}

Expected<std::vector<std::vector<int32_t>>>
lowbit::calibrationWindows(const Tokenizer &tokenizer, StringRef text,
                           StringRef textName, int64_t contextLength,
                           const CalibrationOptions &options) {
  if (options.windows <= 0)
    return createStringError(
        formatv("calibration needs at least one window, not {0}",
                options.windows)
            .str());
  if (options.windowLength <= 0)
    return createStringError(
        formatv("calibration window length must be positive, not {0}",
                options.windowLength)
            .str());
  if (options.windowLength > contextLength)
    return createStringError(
        formatv("calibration window of {0} tokens exceeds the model's context "
                "length {1}",
                options.windowLength, contextLength)
            .str());
  if (options.bosWindows)
    return bosLedWindows(tokenizer, text, textName, options);
  std::vector<int> tokens = tokenizer.encode(text);
  if (int64_t(tokens.size()) < options.windowLength) {
    std::string message =
        formatv("calibration text has {0} tokens, fewer than one window of {1}",
                tokens.size(), options.windowLength)
            .str();
    if (textName.empty())
      return createStringError(message);
    return fileError(textName, "{0}", message);
  }
  std::vector<std::vector<int32_t>> windows;
  for (int64_t start :
       sampleWindowStarts(int64_t(tokens.size()), options.windowLength,
                          options.windows, options.seed))
    windows.emplace_back(tokens.begin() + start,
                         tokens.begin() + start + options.windowLength);
  return std::move(windows);
}

Expected<std::vector<std::vector<int32_t>>>
lowbit::calibrationWindowsOfFile(mlir::ModuleOp module,
                                 const Tokenizer &tokenizer, StringRef textPath,
                                 const CalibrationOptions &options) {
  Expected<ModelConfig> config = configFromModule(module);
  if (!config)
    return config.takeError();
  auto buffer = readInputFile(textPath, /*IsText=*/true);
  if (!buffer)
    return fileError(textPath, "cannot open: {0}", buffer.getError().message());
  return calibrationWindows(tokenizer, (*buffer)->getBuffer(), textPath,
                            config->contextLength, options);
}

static Expected<CalibrationStatistics>
calibrateImpl(mlir::ModuleOp module, const WeightStore &weights,
              const Tokenizer &tokenizer, StringRef text, StringRef textName,
              const CalibrationOptions &options) {
  Expected<ModelConfig> config = configFromModule(module);
  if (!config)
    return config.takeError();
  Expected<std::vector<std::vector<int32_t>>> windows = calibrationWindows(
      tokenizer, text, textName, config->contextLength, options);
  if (!windows)
    return windows.takeError();
  Expected<LinearInputs> inputs = collectLinearInputs(module);
  if (!inputs)
    return inputs.takeError();

  // Streaming: every window advances a layer at a time, so one decoder
  // layer is in fp32 at once and the output head is read in row blocks.
  InterpreterOptions streaming;
  streaming.streamWeights = true;
  Expected<std::unique_ptr<Interpreter>> interpreter =
      Interpreter::create(module, weights, streaming);
  if (!interpreter)
    return interpreter.takeError();
  std::vector<StatisticsAccumulator> accumulators;
  accumulators.reserve(inputs->inFeatures.size());
  for (int64_t k : inputs->inFeatures)
    accumulators.emplace_back(k, options.collectHessian);
  (*interpreter)
      ->setLinearObserver([&](mlir::Operation *linear, const Activation &x) {
        auto it = inputs->recordedBy.find(linear);
        if (it == inputs->recordedBy.end())
          return;
        StatisticsAccumulator &acc = accumulators[it->second];
        assert(x.cols == acc.inFeatures() && "activation width changed");
        acc.add(x.data.data(), x.rows);
      });

  // Stops: the first linear of each decoder layer, then the end.
  std::vector<std::pair<mlir::Operation *, int64_t>> stops;
  if (Expected<std::vector<std::vector<LinearGroup>>> layers =
          collectLinearGroups(module))
    for (const std::vector<LinearGroup> &groups : *layers)
      stops.push_back({groups.front().linears.front(), groups.front().layer});
  else
    consumeError(layers.takeError()); // no decoder linears: one stage
  stops.push_back({nullptr, std::numeric_limits<int64_t>::max()});

  std::vector<int32_t> positions(size_t(options.windowLength));
  std::iota(positions.begin(), positions.end(), 0);
  std::vector<ExecutionFrame> frames;
  for (int64_t w = 0; w < options.windows; ++w)
    frames.push_back((*interpreter)->begin((*windows)[w], positions));
  Progress progress("calibrate", int64_t(stops.size()), options.showProgress);
  for (size_t i = 0; i < stops.size(); ++i) {
    for (ExecutionFrame &frame : frames) {
      (*interpreter)->resetCache();
      if (Error e = (*interpreter)->run(frame, stops[i].first))
        return std::move(e);
      frame.result = Activation(); // logits are not needed
    }
    (*interpreter)->releaseLayersBefore(stops[i].second);
    progress.update(int64_t(i + 1), stops[i].first ? formatv("layer {0}", stops[i].second).str() : "output");
  }
  progress.finish();

  CalibrationStatistics stats;
  stats.model = ModelFingerprint::of(*config);
  stats.text = textName.str();
  stats.windows = options.windows;
  stats.windowLength = options.windowLength;
  stats.seed = options.seed;
  stats.bosWindows = options.bosWindows;
  for (size_t i = 0; i < accumulators.size(); ++i)
    if (Error e = stats.add(accumulators[i].finish(inputs->weights[i])))
      return std::move(e);
  return std::move(stats);
}

Expected<CalibrationStatistics>
lowbit::calibrate(mlir::ModuleOp module, const WeightStore &weights,
                  const Tokenizer &tokenizer, StringRef text,
                  const CalibrationOptions &options) {
  return calibrateImpl(module, weights, tokenizer, text, "", options);
}

Expected<CalibrationStatistics>
lowbit::calibrateFile(mlir::ModuleOp module, const WeightStore &weights,
                      const Tokenizer &tokenizer, StringRef textPath,
                      const CalibrationOptions &options) {
  auto buffer = readInputFile(textPath, /*IsText=*/true);
  if (!buffer)
    return fileError(textPath, "cannot open: {0}", buffer.getError().message());
  return calibrateImpl(module, weights, tokenizer, (*buffer)->getBuffer(),
                       textPath, options);
}
