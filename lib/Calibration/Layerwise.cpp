//===- Layerwise.cpp - Layer-by-layer calibration for GPTQ and AWQ --------===//
#include "lowbit/Calibration/Layerwise.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Executor/Interpreter.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Import/TensorNames.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Progress.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <map>
#include <numeric>

using namespace llvm;
using namespace lowbit;

std::vector<float> *LayerwiseWeights::get(StringRef name) {
  return interpreter.denseWeight(name);
}

static bool isDecoderLinearRole(WeightRole role) {
  switch (role) {
  case WeightRole::Query: case WeightRole::Key: case WeightRole::Value:
  case WeightRole::AttnOutput: case WeightRole::Gate: case WeightRole::Up:
  case WeightRole::Down:
    return true;
  default:
    return false;
  }
}

Expected<std::vector<std::vector<LinearGroup>>>
lowbit::collectLinearGroups(mlir::ModuleOp module) {
  auto forward = module.lookupSymbol<mlir::func::FuncOp>("forward");
  if (!forward || forward.getBody().empty())
    return createStringError("module has no @forward function");
  std::map<int64_t, std::vector<LinearGroup>> byLayer;
  // Input value -> (layer, index of its group in that layer).
  DenseMap<mlir::Value, std::pair<int64_t, size_t>> groupOf;
  for (mlir::Operation &op : forward.getBody().front()) {
    auto linear = dyn_cast<mlir::lowbit::LinearOp>(op);
    if (!linear)
      continue;
    auto weight = linear.getWeight().getDefiningOp<mlir::lowbit::WeightOp>();
    if (!weight)
      continue;
    std::optional<ParsedWeightName> parsed = parseWeightName(weight.getName());
    if (!parsed || !isDecoderLinearRole(parsed->role))
      continue;
    auto it = groupOf.find(linear.getInput());
    if (it != groupOf.end() && it->second.first == parsed->layer) {
      LinearGroup &group = byLayer[it->second.first][it->second.second];
      group.weights.push_back(weight.getName().str());
      group.linears.push_back(&op);
      continue;
    }
    std::vector<LinearGroup> &groups = byLayer[parsed->layer];
    groupOf[linear.getInput()] = {parsed->layer, groups.size()};
    LinearGroup group;
    group.layer = parsed->layer;
    group.weights.push_back(weight.getName().str());
    group.linears.push_back(&op);
    group.input = linear.getInput();
    group.inFeatures =
        cast<mlir::RankedTensorType>(linear.getInput().getType()).getDimSize(1);
    groups.push_back(std::move(group));
  }
  std::vector<std::vector<LinearGroup>> layers;
  for (auto &[layer, groups] : byLayer)
    layers.push_back(std::move(groups));
  if (layers.empty())
    return createStringError(
        "module has no decoder-layer lowbit.linear to quantize");
  return std::move(layers);
}

namespace {
/// Accumulates one group's inputs across windows.
struct GroupCollector {
  StatisticsAccumulator statistics;
  std::vector<float> sample;
  int64_t sampleRows = 0;

  GroupCollector(int64_t k, bool hessian) : statistics(k, hessian) {}

  void add(const Activation &x, int64_t rowsPerWindow, int64_t window) {
    statistics.add(x.data.data(), x.rows);
    if (rowsPerWindow <= 0)
      return;
    int64_t stride = std::max<int64_t>(1, x.rows / rowsPerWindow);
    for (int64_t i = 0, r = window % stride; i < rowsPerWindow && r < x.rows;
         ++i, r += stride) {
      sample.insert(sample.end(), x.row(r), x.row(r) + x.cols);
      ++sampleRows;
    }
  }

  GroupInputs finish(const LinearGroup &group) {
    GroupInputs inputs;
    inputs.statistics = statistics.finish(group.weights);
    inputs.sample = std::move(sample);
    inputs.sampleRows = sampleRows;
    return inputs;
  }
};
} // namespace

Error lowbit::calibrateLayerwise(mlir::ModuleOp module,
                                 const WeightStore &weights,
                                 const Tokenizer &tokenizer, StringRef textPath,
                                 const LayerwiseOptions &options,
                                 LayerwiseQuantizeFn quantize) {
  Expected<ModelConfig> config = configFromModule(module);
  if (!config)
    return config.takeError();
  auto buffer = MemoryBuffer::getFile(textPath, /*IsText=*/true);
  if (!buffer)
    return fileError(textPath, "cannot open: {0}", buffer.getError().message());
  const CalibrationOptions &calib = options.calibration;
  Expected<std::vector<std::vector<int32_t>>> windows =
      calibrationWindows(tokenizer, (*buffer)->getBuffer(), textPath,
                         config->contextLength, calib);
  if (!windows)
    return windows.takeError();
  Expected<std::vector<std::vector<LinearGroup>>> layers =
      collectLinearGroups(module);
  if (!layers)
    return layers.takeError();
  Expected<std::unique_ptr<Interpreter>> created =
      Interpreter::create(module, weights);
  if (!created)
    return created.takeError();
  Interpreter &interpreter = **created;
  LayerwiseWeights writable(interpreter);

  std::vector<int32_t> positions(size_t(calib.windowLength));
  std::iota(positions.begin(), positions.end(), 0);
  std::vector<ExecutionFrame> frames;
  frames.reserve(windows->size());
  for (const std::vector<int32_t> &window : *windows)
    frames.push_back(interpreter.begin(window, positions));
  int64_t rowsPerWindow =
      options.sampleRows > 0
          ? (options.sampleRows + calib.windows - 1) / calib.windows
          : 0;

  // Advances `frame` to just before `stop` and returns the live `input`.
  auto advance = [&](ExecutionFrame &frame, mlir::Operation *stop,
                     mlir::Value input) -> Expected<const Activation *> {
    interpreter.resetCache();
    if (Error e = interpreter.run(frame, stop))
      return std::move(e);
    const Activation *x = interpreter.valueOf(frame, input);
    if (!x)
      return createStringError("layer-by-layer calibration lost the input of "
                               "a linear group (unexpected IR order)");
    return x;
  };

  int64_t totalSteps = 0;
  for (const std::vector<LinearGroup> &groups : *layers)
    totalSteps += options.perGroup ? int64_t(groups.size()) : 1;
  Progress progress("quantize", totalSteps, calib.showProgress);
  int64_t done = 0;
  for (const std::vector<LinearGroup> &groups : *layers) {
    if (options.perGroup) {
      for (const LinearGroup &group : groups) {
        GroupCollector collector(group.inFeatures, options.collectHessian);
        for (size_t w = 0; w < frames.size(); ++w) {
          Expected<const Activation *> x =
              advance(frames[w], group.linears.front(), group.input);
          if (!x)
            return x.takeError();
          collector.add(**x, rowsPerWindow, int64_t(w));
        }
        GroupInputs inputs = collector.finish(group);
        if (Error e = quantize({group}, {inputs}, writable))
          return e;
        progress.update(++done, formatv("layer {0} {1}", group.layer,
                                        group.weights.front())
                                    .str());
      }
      continue;
    }
    // Whole layer: collect every group on a copy of each window's frame, so
    // the originals can run the layer again once it is quantized.
    std::vector<GroupCollector> collectors;
    for (const LinearGroup &group : groups)
      collectors.emplace_back(group.inFeatures, options.collectHessian);
    for (size_t w = 0; w < frames.size(); ++w) {
      if (Expected<const Activation *> x =
              advance(frames[w], groups.front().linears.front(),
                      groups.front().input);
          !x)
        return x.takeError();
      ExecutionFrame copy = frames[w];
      for (size_t g = 0; g < groups.size(); ++g) {
        Expected<const Activation *> x =
            advance(copy, groups[g].linears.front(), groups[g].input);
        if (!x)
          return x.takeError();
        collectors[g].add(**x, rowsPerWindow, int64_t(w));
      }
    }
    std::vector<GroupInputs> inputs;
    for (size_t g = 0; g < groups.size(); ++g)
      inputs.push_back(collectors[g].finish(groups[g]));
    collectors.clear();
    if (Error e = quantize(groups, inputs, writable))
      return e;
    progress.update(++done, formatv("layer {0}", groups.front().layer).str());
  }
  progress.finish();
  return Error::success();
}
