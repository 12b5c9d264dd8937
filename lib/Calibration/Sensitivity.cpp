//===- Sensitivity.cpp - Output divergence of one perturbed weight --------===//
#include "lowbit/Calibration/Sensitivity.h"

#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Interpreter/Interpreter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Progress.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

using namespace llvm;
using namespace lowbit;

namespace {
/// log-softmax of every row of `logits`, in place.
void logSoftmaxRows(Activation &logits) {
  for (int64_t r = 0; r < logits.rows; ++r) {
    float *row = logits.row(r);
    float top = *std::max_element(row, row + logits.cols);
    double sum = 0;
    for (int64_t c = 0; c < logits.cols; ++c)
      sum += std::exp(double(row[c] - top));
    float shift = top + float(std::log(sum));
    for (int64_t c = 0; c < logits.cols; ++c)
      row[c] -= shift;
  }
}

/// Σ over rows of KL(p ‖ q) for log-probabilities `p` and logits `q`.
double summedDivergence(const Activation &logP, Activation &logitsQ) {
  logSoftmaxRows(logitsQ);
  double total = 0;
  for (int64_t r = 0; r < logP.rows; ++r) {
    const float *p = logP.row(r);
    const float *q = logitsQ.row(r);
    double kl = 0;
    for (int64_t c = 0; c < logP.cols; ++c)
      kl += std::exp(double(p[c])) * (double(p[c]) - q[c]);
    total += std::max(0.0, kl);
  }
  return total;
}
} // namespace

Expected<SensitivityResult>
lowbit::measureSensitivity(mlir::ModuleOp module, const WeightStore &weights,
                           const Tokenizer &tokenizer, StringRef textPath,
                           const CalibrationOptions &options,
                           ArrayRef<std::string> names, PerturbWeightFn perturb) {
  Expected<std::vector<std::vector<int32_t>>> windows =
      calibrationWindowsOfFile(module, tokenizer, textPath, options);
  if (!windows)
    return windows.takeError();
  Expected<std::unique_ptr<Interpreter>> created =
      Interpreter::create(module, weights);
  if (!created)
    return created.takeError();
  Interpreter &interpreter = **created;

  // Where each weight is first read in @forward, and which linears read it.
  mlir::func::FuncOp forward;
  module.walk([&](mlir::func::FuncOp f) {
    if (f.getName() == "forward")
      forward = f;
  });
  if (!forward)
    return createStringError("the module has no @forward function");
  DenseMap<mlir::Operation *, size_t> order;
  forward.walk([&](mlir::Operation *op) { order.try_emplace(op, order.size()); });
  StringMap<size_t> indexOf;
  for (size_t i = 0; i < names.size(); ++i)
    indexOf[names[i]] = i;
  SensitivityResult result;
  result.usage.resize(names.size());
  std::vector<mlir::Operation *> firstUser(names.size(), nullptr);
  std::vector<int64_t> observedRows(names.size(), 0);
  DenseMap<mlir::Operation *, size_t> linearOf; // linear -> tensor index
  std::vector<size_t> embeddings;
  forward.walk([&](mlir::lowbit::WeightOp op) {
    auto it = indexOf.find(op.getName());
    if (it == indexOf.end())
      return;
    size_t i = it->second;
    auto type = cast<mlir::ShapedType>(op.getType());
    result.usage[i].name = names[i];
    result.usage[i].rows = type.getDimSize(0);
    result.usage[i].cols = type.getDimSize(1);
    for (mlir::Operation *user : op->getUsers()) {
      if (!firstUser[i] || order.lookup(user) < order.lookup(firstUser[i]))
        firstUser[i] = user;
      if (auto linear = dyn_cast<mlir::lowbit::LinearOp>(user))
        linearOf[linear] = i;
      else if (isa<mlir::lowbit::EmbeddingOp>(user))
        embeddings.push_back(i);
    }
  });
  for (size_t i = 0; i < names.size(); ++i)
    if (!firstUser[i])
      return createStringError("no weight matrix named '" + names[i] +
                               "' is used by @forward");

  // Windows are cut at the start of each layer a tensor lives in (and of
  // the tensors outside the layers), so a perturbed run starts there from
  // the float model's activations instead of from the embedding.
  std::map<size_t, mlir::Operation *> checkpoints; // by @forward order
  std::vector<size_t> checkpointOf(names.size());
  {
    // Tensors outside the decoder layers get a checkpoint of their own.
    std::vector<int64_t> layerKey(names.size());
    std::map<int64_t, mlir::Operation *> byLayer;
    for (size_t i = 0; i < names.size(); ++i) {
      auto parsed = parseWeightName(names[i]);
      layerKey[i] = parsed && parsed->layer >= 0 ? parsed->layer : -2 - int64_t(i);
      mlir::Operation *&op = byLayer[layerKey[i]];
      if (!op || order.lookup(firstUser[i]) < order.lookup(op))
        op = firstUser[i];
    }
    for (size_t i = 0; i < names.size(); ++i) {
      mlir::Operation *op = byLayer[layerKey[i]];
      checkpointOf[i] = order.lookup(op);
      checkpoints[checkpointOf[i]] = op;
    }
  }

  // The float run: usage statistics, reference distributions, checkpoints.
  std::vector<std::vector<double>> sums(names.size());
  interpreter.setLinearObserver([&](mlir::Operation *linear, const Activation &x) {
    auto it = linearOf.find(linear);
    if (it == linearOf.end())
      return;
    std::vector<double> &s = sums[it->second];
    s.resize(size_t(x.cols), 0.0);
    for (int64_t r = 0; r < x.rows; ++r) {
      const float *row = x.row(r);
      for (int64_t c = 0; c < x.cols; ++c)
        s[size_t(c)] += double(row[c]) * row[c];
    }
    observedRows[it->second] += x.rows;
  });
  std::vector<int32_t> positions(size_t(options.windowLength));
  std::iota(positions.begin(), positions.end(), 0);
  std::vector<Activation> reference(windows->size());
  std::map<size_t, std::vector<ExecutionFrame>> saved;
  Progress progress("sensitivity", int64_t(names.size() + 1), options.showProgress);
  for (size_t w = 0; w < windows->size(); ++w) {
    interpreter.resetCache();
    ExecutionFrame frame = interpreter.begin((*windows)[w], positions);
    for (auto &[index, op] : checkpoints) {
      if (Error e = interpreter.run(frame, op))
        return std::move(e);
      saved[index].push_back(frame);
    }
    if (Error e = interpreter.run(frame))
      return std::move(e);
    reference[w] = std::move(frame.result);
    logSoftmaxRows(reference[w]);
  }
  interpreter.setLinearObserver({});
  progress.update(1, "float model");

  for (size_t i = 0; i < names.size(); ++i) {
    TensorUsage &u = result.usage[i];
    if (observedRows[i] > 0) {
      u.columnWeight.resize(sums[i].size());
      for (size_t c = 0; c < sums[i].size(); ++c)
        u.columnWeight[c] = float(sums[i][c] / double(observedRows[i]));
    } else if (llvm::is_contained(embeddings, i)) {
      u.rowWeight.assign(size_t(u.rows), 0.0f);
      for (const std::vector<int32_t> &tokens : *windows)
        for (int32_t t : tokens)
          if (t >= 0 && t < u.rows)
            u.rowWeight[size_t(t)] += 1.0f;
    }
  }

  int64_t scored = int64_t(windows->size()) * options.windowLength;
  result.divergence.assign(names.size(), 0.0);
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<float> *values = interpreter.denseWeight(names[i]);
    if (!values)
      return createStringError("the interpreter holds no weight '" + names[i] + "'");
    std::vector<float> original = *values;
    if (Error e = perturb(result.usage[i], *values)) {
      *values = std::move(original);
      return std::move(e);
    }
    double total = 0;
    for (size_t w = 0; w < windows->size(); ++w) {
      ExecutionFrame frame = saved[checkpointOf[i]][w];
      interpreter.resetCache();
      if (Error e = interpreter.run(frame)) {
        *values = std::move(original);
        return std::move(e);
      }
      total += summedDivergence(reference[w], frame.result);
    }
    *values = std::move(original);
    result.divergence[i] = total / double(scored);
    progress.update(int64_t(i) + 2, names[i]);
  }
  progress.finish();
  return std::move(result);
}
