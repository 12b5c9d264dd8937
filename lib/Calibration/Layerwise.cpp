//===- Layerwise.cpp - Layer-by-layer calibration for GPTQ and AWQ --------===//
#include "lowbit/Calibration/Layerwise.h"
#include "FrameStore.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Interpreter/Interpreter.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Progress.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cblas.h>
#include <unistd.h>

#include <limits>
#include <map>
#include <numeric>
#include <optional>

using namespace llvm;
using namespace lowbit;

std::vector<float> *LayerwiseWeights::get(StringRef name) {
  return interpreter.denseWeight(name);
}

BlockProbe::~BlockProbe() = default;
LayerwiseCheckpoint::~LayerwiseCheckpoint() = default;

void BlockProbe::startLayer(std::vector<ExecutionFrame> frames) {
  layerStart = std::move(frames);
  atGroup.clear();
  reference.clear();
}

Error BlockProbe::runTo(ExecutionFrame &frame, mlir::Operation *end) {
  // Stopping before the op after `end` leaves `end`'s result live.
  mlir::Operation *stop = end->getNextNode();
  if (!stop)
    return createStringError("block probe: '" + end->getName().getStringRef() +
                             "' ends @forward");
  interpreter.resetCache();
  return interpreter.run(frame, stop);
}

Expected<std::vector<ExecutionFrame> *>
BlockProbe::framesBefore(mlir::Operation *op) {
  auto it = atGroup.find(op);
  if (it != atGroup.end())
    return &it->second;
  std::vector<ExecutionFrame> frames = layerStart;
  for (ExecutionFrame &frame : frames) {
    interpreter.resetCache();
    if (Error e = interpreter.run(frame, op))
      return std::move(e);
    if (frame.finished)
      return createStringError("block probe: the group lies outside the layer");
  }
  return &(atGroup[op] = std::move(frames));
}

Expected<double> BlockProbe::error(const LinearGroup &group, mlir::Operation *end,
                                   ArrayRef<std::vector<float>> candidates) {
  if (candidates.size() != group.weights.size())
    return createStringError("block probe: one candidate per weight expected");
  if (end->getNumResults() != 1)
    return createStringError("block probe: the end op must have one result");
  mlir::Operation *first = group.linears.front();
  if (end->getBlock() != first->getBlock() ||
      (end != first && !first->isBeforeInBlock(end)))
    return createStringError("block probe: the end op precedes the group");
  Expected<std::vector<ExecutionFrame> *> start =
      framesBefore(group.linears.front());
  if (!start)
    return start.takeError();
  mlir::Value result = end->getResult(0);
  auto output = [&](ExecutionFrame frame) -> Expected<std::vector<float>> {
    if (Error e = runTo(frame, end))
      return std::move(e);
    const Activation *out = interpreter.valueOf(frame, result);
    if (!out)
      return createStringError("block probe: the end op's result is not live");
    return out->data;
  };
  std::vector<std::vector<float>> &ref = reference[end];
  if (ref.empty())
    for (const ExecutionFrame &frame : **start) {
      Expected<std::vector<float>> out = output(frame);
      if (!out)
        return out.takeError();
      ref.push_back(std::move(*out));
    }

  // Swap the candidates in, run, swap the held weights back.
  std::vector<std::vector<float> *> held;
  for (size_t j = 0; j < candidates.size(); ++j) {
    std::vector<float> *w = interpreter.denseWeight(group.weights[j]);
    if (!w || w->size() != candidates[j].size())
      return createStringError("block probe: candidate for '" +
                               group.weights[j] + "' has the wrong size");
    held.push_back(w);
  }
  std::vector<std::vector<float>> saved(candidates.begin(), candidates.end());
  for (size_t j = 0; j < held.size(); ++j)
    std::swap(*held[j], saved[j]);
  double sum = 0;
  size_t count = 0;
  Error failure = Error::success();
  for (size_t w = 0; w < (*start)->size(); ++w) {
    Expected<std::vector<float>> out = output((**start)[w]);
    if (!out) {
      failure = out.takeError();
      break;
    }
    for (size_t i = 0; i < out->size(); ++i) {
      double d = double((*out)[i]) - ref[w][i];
      sum += d * d;
    }
    count += out->size();
  }
  for (size_t j = 0; j < held.size(); ++j)
    std::swap(*held[j], saved[j]);
  if (failure)
    return std::move(failure);
  return count ? sum / double(count) : 0.0;
}

Expected<std::vector<std::vector<LinearGroup>>>
lowbit::collectLinearGroups(mlir::ModuleOp module, bool includeOutput) {
  auto forward = module.lookupSymbol<mlir::func::FuncOp>("forward");
  if (!forward || forward.getBody().empty())
    return createStringError("module has no @forward function");
  std::map<int64_t, std::vector<LinearGroup>> byLayer;
  // Input value -> (layer, index of its group in that layer).
  DenseMap<mlir::Value, std::pair<int64_t, size_t>> groupOf;
  LinearGroup output;
  for (mlir::Operation &op : forward.getBody().front()) {
    auto linear = dyn_cast<mlir::lowbit::LinearOp>(op);
    if (!linear)
      continue;
    auto weight = linear.getWeight().getDefiningOp<mlir::lowbit::WeightOp>();
    if (!weight)
      continue;
    std::optional<ParsedWeightName> parsed = parseWeightName(weight.getName());
    if (parsed && includeOutput && parsed->role == WeightRole::Output) {
      output.weights.push_back(weight.getName().str());
      output.linears.push_back(&op);
      output.input = linear.getInput();
      output.inFeatures = cast<mlir::RankedTensorType>(linear.getInput().getType())
                              .getDimSize(1);
      continue;
    }
    if (!parsed || !isDecoderLinear(parsed->role))
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
  if (!output.weights.empty()) {
    output.layer = byLayer.rbegin()->first + 1;
    layers.push_back({std::move(output)});
  }
  return std::move(layers);
}

namespace {
/// Accumulates one group's inputs across windows.
struct GroupCollector {
  StatisticsAccumulator statistics;
  std::vector<float> sample;
  int64_t sampleRows = 0;

  /// Σ (x_f − x)ᵀ x over the tokens, with floatTargets.
  std::vector<float> shift;
  int64_t k = 0;

  GroupCollector(int64_t k, bool hessian, bool floatTargets)
      : statistics(k, hessian), k(k) {
    if (floatTargets)
      shift.assign(size_t(k * k), 0.0f);
  }

  void addFloat(const Activation &floatInput, const Activation &x) {
    std::vector<float> gap(floatInput.data.begin(),
                           floatInput.data.begin() + x.rows * x.cols);
    for (size_t i = 0; i < gap.size(); ++i)
      gap[i] -= x.data[i];
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(k), int(k),
                int(x.rows), 1.0f, gap.data(), int(k), x.data.data(), int(k),
                1.0f, shift.data(), int(k));
  }

  void add(const Activation &x, int64_t rowsPerWindow, int64_t window,
           bool aligned) {
    statistics.add(x.data.data(), x.rows);
    if (rowsPerWindow <= 0)
      return;
    // Every stride-th row, from an offset that moves with the window so the
    // sample covers all positions; or, aligned, positions 0, stride, ... of
    // every window. Position 0 carries the attention sink, which every later
    // token reads; the reference AWQ's clip search takes tokens 0::n/512 of
    // its windows, the aligned spacing.
    int64_t stride = std::max<int64_t>(1, x.rows / rowsPerWindow);
    for (int64_t i = 0, r = aligned ? 0 : window % stride;
         i < rowsPerWindow && r < x.rows;
         ++i, r += stride) {
      sample.insert(sample.end(), x.row(r), x.row(r) + x.cols);
      ++sampleRows;
    }
  }

  GroupInputs finish(const LinearGroup &group) {
    GroupInputs inputs;
    inputs.statistics = statistics.finish(group.weights);
    statistics.releaseHessian();
    if (!shift.empty()) {
      float scale = inputs.statistics.samples > 0
                        ? float(2.0 / double(inputs.statistics.samples))
                        : 0.0f;
      for (float &v : shift)
        v *= scale;
      inputs.floatShift = std::move(shift);
    }
    inputs.sample = std::move(sample);
    inputs.sampleRows = sampleRows;
    return inputs;
  }
};
} // namespace

namespace {
/// What one layer needs besides the activations: its weights in fp32 and
/// GPTQ's work on its widest Hessian (double sums, then a float copy and a
/// double factorization).
uint64_t layerBytes(const std::vector<LinearGroup> &groups,
                    const WeightStore &weights, bool hessian) {
  uint64_t total = 0, widest = 0;
  for (const LinearGroup &group : groups) {
    for (const std::string &name : group.weights)
      if (const TensorRef *t = weights.find(name))
        total += uint64_t(t->numElements()) * 4;
    widest = std::max<uint64_t>(widest, uint64_t(group.inFeatures));
  }
  return total + (hessian ? widest * widest * 12 : 0);
}
} // namespace

uint64_t lowbit::defaultMemoryBudget() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) / 2
                               : uint64_t(8) << 30;
}

Error lowbit::calibrateLayerwise(mlir::ModuleOp module,
                                 const WeightStore &weights,
                                 const Tokenizer &tokenizer, StringRef textPath,
                                 const LayerwiseOptions &options,
                                 LayerwiseQuantizeFn quantize) {
  const CalibrationOptions &calib = options.calibration;
  Expected<std::vector<std::vector<int32_t>>> windows =
      calibrationWindowsOfFile(module, tokenizer, textPath, calib);
  if (!windows)
    return windows.takeError();
  Expected<std::vector<std::vector<LinearGroup>>> layers =
      collectLinearGroups(module, options.includeOutput && options.perGroup);
  if (!layers)
    return layers.takeError();
  InterpreterOptions streaming;
  streaming.streamWeights = true;
  Expected<std::unique_ptr<Interpreter>> created =
      Interpreter::create(module, weights, streaming);
  if (!created)
    return created.takeError();
  Interpreter &interpreter = **created;
  std::optional<BlockProbe> probe;
  if (!options.perGroup && options.probeWindows > 0)
    probe.emplace(interpreter);
  LayerwiseWeights writable(interpreter, probe ? &*probe : nullptr);
  if (options.floatTargets && !options.perGroup)
    return createStringError("float targets need the per-group order");
  // The float model, run beside the one being quantized (floatTargets).
  std::unique_ptr<Interpreter> reference;
  if (options.floatTargets) {
    Expected<std::unique_ptr<Interpreter>> made =
        Interpreter::create(module, weights, streaming);
    if (!made)
      return made.takeError();
    reference = std::move(*made);
  }

  std::vector<int32_t> positions(size_t(calib.windowLength));
  std::iota(positions.begin(), positions.end(), 0);
  std::vector<ExecutionFrame> initial, referenceInitial;
  initial.reserve(windows->size());
  for (const std::vector<int32_t> &window : *windows) {
    initial.push_back(interpreter.begin(window, positions));
    if (reference)
      referenceInitial.push_back(reference->begin(window, positions));
  }
  int64_t rowsPerWindow =
      options.sampleRows > 0
          ? (options.sampleRows + calib.windows - 1) / calib.windows
          : 0;

  // Advances `frame` to just before `stop` and returns the live `input`.
  auto advanceIn = [&](Interpreter &in, ExecutionFrame &frame,
                       mlir::Operation *stop,
                       mlir::Value input) -> Expected<const Activation *> {
    in.resetCache();
    if (Error e = in.run(frame, stop))
      return std::move(e);
    const Activation *x = in.valueOf(frame, input);
    if (!x)
      return createStringError("layer-by-layer calibration lost the input of "
                               "a linear group (unexpected IR order)");
    return x;
  };
  auto advance = [&](ExecutionFrame &frame, mlir::Operation *stop,
                     mlir::Value input) {
    return advanceIn(interpreter, frame, stop, input);
  };

  size_t firstLayer = 0;
  if (options.checkpoint) {
    Expected<int64_t> resumed = options.checkpoint->restore(interpreter, initial);
    if (!resumed)
      return resumed.takeError();
    if (*resumed < 0 || *resumed > int64_t(layers->size()) ||
        (*resumed > 0 && initial.size() != windows->size()))
      return createStringError("the resume point does not match this run");
    firstLayer = size_t(*resumed);
    if (firstLayer > 0 && reference)
      return createStringError("float targets cannot resume: the float "
                               "model's activations are not saved");
  }

  // The budget holds one layer's work; the activations get the rest.
  uint64_t budget = options.memoryBudget ? options.memoryBudget : defaultMemoryBudget();
  uint64_t layerNeed = 0;
  for (const std::vector<LinearGroup> &groups : *layers)
    layerNeed = std::max(layerNeed, layerBytes(groups, weights,
                                               options.collectHessian));
  if (budget <= layerNeed)
    return createStringError(
        "a memory budget of " + memorySizeText(budget) +
        " cannot hold one decoder layer's work: it needs " +
        memorySizeText(layerNeed) +
        " (fp32 weights and the widest Hessian) plus room for the "
        "calibration activations");
  uint64_t activationBudget = budget - layerNeed;
  std::string spillPrefix =
      options.spillPrefix.empty() ? textPath.str() : options.spillPrefix;
  FrameStore frames(interpreter, std::move(initial),
                    reference ? activationBudget / 2 : activationBudget,
                    spillPrefix, calib.showProgress);
  std::optional<FrameStore> referenceFrames;
  if (reference)
    referenceFrames.emplace(*reference, std::move(referenceInitial),
                            activationBudget / 2, spillPrefix + ".float",
                            calib.showProgress);

  auto stepsOf = [&](const std::vector<LinearGroup> &groups) {
    return options.perGroup ? int64_t(groups.size()) : 1;
  };
  int64_t totalSteps = 0, done = 0;
  for (size_t i = 0; i < layers->size(); ++i)
    (i < firstLayer ? done : totalSteps) += stepsOf((*layers)[i]);
  if (firstLayer > 0 && calib.showProgress)
    errs() << formatv("quantize: resuming at layer {0} ({1} of {2} layers "
                      "already done)\n",
                      (*layers)[firstLayer].front().layer, firstLayer,
                      layers->size());
  done = 0;
  Progress progress("quantize", totalSteps, calib.showProgress);
  for (size_t layerIndex = firstLayer; layerIndex < layers->size(); ++layerIndex) {
    const std::vector<LinearGroup> &groups = (*layers)[layerIndex];
    if (layerIndex == firstLayer) // a resume never runs the layers before
      interpreter.releaseLayersBefore(groups.front().layer);
    if (options.checkpoint && layerIndex > firstLayer) {
      // Resume point: every window at this layer's first linear.
      for (size_t w = 0; w < frames.size(); ++w)
        if (Error e = frames.with(w, [&](ExecutionFrame &frame) -> Error {
              Expected<const Activation *> x = advance(
                  frame, groups.front().linears.front(), groups.front().input);
              return x ? Error::success() : x.takeError();
            }))
          return e;
      if (Error e = options.checkpoint->save(
              int64_t(layerIndex), interpreter, frames.size(),
              [&](size_t w, function_ref<void(const ExecutionFrame &)> use) {
                return frames.with(w, [&](ExecutionFrame &frame) {
                  use(frame);
                  return Error::success();
                });
              }))
        return e;
    }
    if (options.perGroup) {
      for (const LinearGroup &group : groups) {
        GroupCollector collector(group.inFeatures, options.collectHessian,
                                 bool(reference));
        for (size_t w = 0; w < frames.size(); ++w)
          if (Error e = frames.with(w, [&](ExecutionFrame &frame) -> Error {
                Expected<const Activation *> x =
                    advance(frame, group.linears.front(), group.input);
                if (!x)
                  return x.takeError();
                collector.add(**x, rowsPerWindow, int64_t(w),
                              options.alignSamples);
                if (!reference)
                  return Error::success();
                return referenceFrames->with(
                    w, [&](ExecutionFrame &floatFrame) -> Error {
                      Expected<const Activation *> f = advanceIn(
                          *reference, floatFrame, group.linears.front(),
                          group.input);
                      if (!f)
                        return f.takeError();
                      if ((*f)->rows != (*x)->rows || (*f)->cols != (*x)->cols)
                        return createStringError(
                            "the float model's inputs of a linear group "
                            "differ in shape");
                      collector.addFloat(**f, **x);
                      return Error::success();
                    });
              }))
            return e;
        if (&group == &groups.front()) {
          interpreter.releaseLayersBefore(group.layer); // every window is past them
          if (reference)
            reference->releaseLayersBefore(group.layer);
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
    // the originals can run the layer again once it is quantized (or, with
    // float inputs, take the copy on to the next layer before that).
    std::vector<GroupCollector> collectors;
    for (const LinearGroup &group : groups)
      collectors.emplace_back(group.inFeatures, options.collectHessian, false);
    // The probe replays evenly spread windows from the start of the layer.
    int64_t probeCount =
        probe ? std::min<int64_t>(options.probeWindows, int64_t(frames.size())) : 0;
    std::vector<ExecutionFrame> probeStarts;
    mlir::Operation *nextLayer = layerIndex + 1 < layers->size()
                                     ? (*layers)[layerIndex + 1].front().linears.front()
                                     : nullptr;
    for (size_t w = 0; w < frames.size(); ++w)
      if (Error e = frames.with(w, [&](ExecutionFrame &frame) -> Error {
            if (Expected<const Activation *> x =
                    advance(frame, groups.front().linears.front(),
                            groups.front().input);
                !x)
              return x.takeError();
            if (probeCount && int64_t(probeStarts.size()) < probeCount &&
                int64_t(w) == int64_t(probeStarts.size()) *
                                  int64_t(frames.size()) / probeCount)
              probeStarts.push_back(frame);
            ExecutionFrame copy = frame;
            for (size_t g = 0; g < groups.size(); ++g) {
              Expected<const Activation *> x =
                  advance(copy, groups[g].linears.front(), groups[g].input);
              if (!x)
                return x.takeError();
              collectors[g].add(**x, rowsPerWindow, int64_t(w),
                                options.alignSamples);
            }
            if (!options.quantizedInputs && nextLayer) {
              interpreter.resetCache();
              if (Error e = interpreter.run(copy, nextLayer))
                return e;
              frame = std::move(copy);
            }
            return Error::success();
          }))
        return e;
    interpreter.releaseLayersBefore(groups.front().layer); // every window is past them
    if (probe)
      probe->startLayer(std::move(probeStarts));
    std::vector<GroupInputs> inputs;
    for (size_t g = 0; g < groups.size(); ++g)
      inputs.push_back(collectors[g].finish(groups[g]));
    collectors.clear();
    if (Error e = quantize(groups, inputs, writable))
      return e;
    progress.update(++done, formatv("layer {0}", groups.front().layer).str());
  }
  interpreter.releaseLayersBefore(std::numeric_limits<int64_t>::max());
  if (reference)
    reference->releaseLayersBefore(std::numeric_limits<int64_t>::max());
  progress.finish();
  return Error::success();
}
