//===- LlmInt8.cpp - --lowbit-llm-int8 ------------------------------------===//
//
// LLM.int8() as an IR rewrite: every decoder linear gets an int8_row weight
// (CB, SCB), and a linear whose input has outlier columns in the calibration
// statistics becomes
//
//   %inl, %out = lowbit.split_columns %x {columns = ...}
//   %y = lowbit.add (lowbit.linear %inl, CB/SCB), (lowbit.linear %out, f16 cols)
//
// so the decomposition is visible to every later pass and to the interpreter.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Formats/CompanionTensors.h"
#include "PassSupport.h"
#include "lowbit/Calibration/Statistics.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/SafetensorsStreamWriter.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Quant/Int8Row.h"
#include "lowbit/Support/Float16.h"
#include "lowbit/Support/Progress.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LLMINT8
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using mlir::lowbit::AddOp;
using mlir::lowbit::LinearOp;
using mlir::lowbit::SplitColumnsOp;
using mlir::lowbit::WeightOp;
using ::lowbit::DType;

namespace {
/// One weight to quantize and the linears that read it.
struct Target {
  WeightOp weight;
  SmallVector<LinearOp> linears;
  SmallVector<int64_t> outliers; // input columns, increasing
};

struct LlmInt8Pass : mlir::lowbit::impl::LlmInt8Base<LlmInt8Pass> {
  using Base::Base;

  void runOnOperation() override;
};
} // namespace

void LlmInt8Pass::runOnOperation() {
  ModuleOp module = getOperation();
  auto fail = [&](const Twine &message) {
    module.emitError(message);
    signalPassFailure();
  };
  if (sideFile.empty())
    return fail("--lowbit-llm-int8 needs side-file=PATH");
  if (!std::isfinite(double(threshold)) || !(threshold > 0)) {
    std::string text;
    if (std::isnan(double(threshold)))
      text = "nan";
    else if (std::isinf(double(threshold)))
      text = threshold > 0 ? "inf" : "-inf";
    else
      llvm::raw_string_ostream(text) << threshold;
    return fail("--lowbit-llm-int8: threshold must be a positive finite "
                "number, not " + text);
  }
  // Outlier columns come from calibration; bitsandbytes finds them in every
  // batch at run time instead.
  auto statsPath = module->getAttrOfType<StringAttr>("lowbit.calibration");
  if (!statsPath)
    return fail("--lowbit-llm-int8: needs calibration statistics to find "
                "outlier columns, and the module has no lowbit.calibration "
                "attribute: run --lowbit-calibrate first");
  llvm::Expected<::lowbit::ModelConfig> config =
      ::lowbit::configFromModule(module);
  if (!config)
    return fail(llvm::toString(config.takeError()));
  llvm::Expected<::lowbit::CalibrationStatistics> stats =
      ::lowbit::CalibrationStatistics::load(statsPath.getValue(), *config);
  if (!stats)
    return fail("--lowbit-llm-int8: " + llvm::toString(stats.takeError()));
  ::lowbit::WeightStore weights;
  if (llvm::Error e = ::lowbit::openModuleWeights(module, weights))
    return fail(llvm::toString(std::move(e)));

  // Check everything before writing anything.
  SmallVector<Target> targets;
  for (WeightOp op : mlir::lowbit::decoderLinearWeights(module)) {
    Target t{op, {}, {}};
    for (OpOperand &use : op.getResult().getUses()) {
      auto linear = dyn_cast<LinearOp>(use.getOwner());
      if (!linear || use.getOperandNumber() != 1)
        return fail("--lowbit-llm-int8: weight '" + op.getName() +
                    "' is used other than as a lowbit.linear weight");
      t.linears.push_back(linear);
    }
    int64_t k = cast<RankedTensorType>(op.getType()).getShape()[1];
    const ::lowbit::LinearStatistics *s = stats->lookup(op.getName());
    if (!s)
      return fail("--lowbit-llm-int8: the calibration statistics '" +
                  statsPath.getValue() + "' have no entry for '" +
                  op.getName() + "'");
    if (s->inFeatures != k || int64_t(s->absMax.size()) != k)
      return fail("--lowbit-llm-int8: the calibration statistics '" +
                  statsPath.getValue() + "' of '" + op.getName() + "' have " +
                  Twine(int64_t(s->absMax.size())) +
                  " input channels, the weight has " + Twine(k));
    for (int64_t c = 0; c < k; ++c)
      if (s->absMax[size_t(c)] >= threshold)
        t.outliers.push_back(c);
    targets.push_back(std::move(t));
  }
  if (targets.empty())
    return;

  // Each weight goes to the side file as soon as it is quantized.
  std::vector<::lowbit::SafetensorsTensorInfo> declared;
  for (Target &t : targets) {
    std::string name = t.weight.getName().str();
    ArrayRef<int64_t> shape = cast<RankedTensorType>(t.weight.getType()).getShape();
    if (!t.outliers.empty())
      declared.push_back({name + ".outliers", DType::F16,
                          {shape[0], int64_t(t.outliers.size())}});
    declared.push_back({name, DType::I8, {shape[0], shape[1]}});
    declared.push_back({::lowbit::companionName(name, ::lowbit::Companion::RowScales),
                        DType::F32, {shape[0]}});
  }
  std::string path = mlir::lowbit::absolutePath(sideFile);
  auto writer = ::lowbit::SafetensorsStreamWriter::create(path, declared);
  if (!writer)
    return fail(llvm::toString(writer.takeError()));
  int64_t withOutliers = 0, outlierColumns = 0;
  auto quantizeOne = [&](Target &t) -> llvm::Error {
    StringRef name = t.weight.getName();
    const ::lowbit::TensorRef *stored = weights.find(name);
    if (!stored)
      return llvm::createStringError("no tensor named '" + name +
                                     "' in the weight store");
    std::vector<float> w;
    if (llvm::Error e = ::lowbit::dequantize(*stored, w))
      return e;
    weights.releasePages(*stored);
    if (llvm::Error e = ::lowbit::checkFinite(name, w.data(), int64_t(w.size()),
                                              stored->shape[1]))
      return e;
    int64_t rows = stored->shape[0], cols = stored->shape[1];
    ::lowbit::Int8RowTensor q = ::lowbit::quantizeInt8Rows(w.data(), rows, cols);
    ::lowbit::SafetensorsStreamWriter &out = **writer;
    if (!t.outliers.empty()) {
      // The 16-bit path multiplies the int8 weight's own columns,
      // dequantized, as bitsandbytes does (not the original weights).
      int64_t n = int64_t(t.outliers.size());
      std::vector<uint16_t> half(size_t(rows * n));
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < n; ++i)
          half[size_t(r * n + i)] = ::lowbit::floatToFp16(
              float(q.codes[size_t(r * cols + t.outliers[size_t(i)])]) *
              (q.scales[size_t(r)] / 127.0f));
      if (llvm::Error e = out.write((name + ".outliers").str(), ArrayRef(half)))
        return e;
      ++withOutliers;
      outlierColumns += n;
    }
    if (llvm::Error e = out.write(name, ArrayRef(q.codes)))
      return e;
    return out.write(::lowbit::companionName(name, ::lowbit::Companion::RowScales),
                     ArrayRef(q.scales));
  };
  ::lowbit::Progress progress("llm-int8", int64_t(targets.size()));
  int64_t done = 0;
  for (Target &t : targets) {
    progress.update(++done, t.weight.getName());
    if (llvm::Error e = quantizeOne(t)) {
      (*writer)->discard();
      return fail(llvm::toString(std::move(e)));
    }
  }
  progress.finish();
  if (llvm::Error e = (*writer)->commit()) {
    (*writer)->discard();
    return fail(llvm::toString(std::move(e)));
  }

  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  auto scheme = mlir::lowbit::QuantSchemeAttr::get(
      ctx, mlir::lowbit::QuantFormat::Int8Row);
  // q, k and v (gate and up) read one input and share its outlier columns:
  // one split serves them all.
  DenseMap<std::pair<Value, Attribute>, SplitColumnsOp> splits;
  for (Target &t : targets) {
    WeightOp weight = t.weight;
    ArrayRef<int64_t> shape = cast<RankedTensorType>(weight.getType()).getShape();
    int64_t rows = shape[0];
    weight.getResult().setType(
        mlir::lowbit::QuantizedWeightType::get(ctx, shape, scheme));
    if (t.outliers.empty())
      continue;
    int64_t n = int64_t(t.outliers.size());
    b.setInsertionPointAfter(weight);
    auto outlierWeight = WeightOp::create(
        b, weight.getLoc(), RankedTensorType::get({rows, n}, b.getF16Type()),
        (weight.getName() + ".outliers").str());
    auto columns = b.getDenseI64ArrayAttr(t.outliers);
    for (LinearOp linear : t.linears) {
      Value x = linear.getInput();
      SplitColumnsOp &split = splits[{x, columns}];
      if (!split) {
        if (Operation *def = x.getDefiningOp())
          b.setInsertionPointAfter(def);
        else
          b.setInsertionPointToStart(x.getParentBlock());
        auto xType = cast<RankedTensorType>(x.getType());
        auto outType = RankedTensorType::get({xType.getDimSize(0), n},
                                             xType.getElementType());
        split = SplitColumnsOp::create(b, linear.getLoc(), xType, outType, x,
                                       columns);
      }
      b.setInsertionPoint(linear);
      Type yType = linear.getType();
      auto int8Part = LinearOp::create(b, linear.getLoc(), yType,
                                       split.getInliers(), weight.getResult(),
                                       linear.getBias());
      auto outlierPart = LinearOp::create(b, linear.getLoc(), yType,
                                          split.getOutliers(),
                                          outlierWeight.getResult(), Value());
      auto sum = AddOp::create(b, linear.getLoc(), yType, int8Part.getResult(),
                               outlierPart.getResult());
      linear.getResult().replaceAllUsesWith(sum.getResult());
      linear.erase();
    }
  }
  module->setAttr("lowbit.llm_int8_threshold",
                  b.getF32FloatAttr(float(threshold)));
  mlir::lowbit::recordSideFile(module, path);
  llvm::errs() << "llm-int8: " << withOutliers << " of " << targets.size()
               << " linears have outlier columns (" << outlierColumns
               << " weight columns in 16-bit)\n";
}
