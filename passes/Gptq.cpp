//===- Gptq.cpp - --lowbit-gptq -------------------------------------------===//
//
// Drives GPTQ (lib/Quant/Gptq) over the decoder's linears: Hessians come
// from layer-by-layer calibration through the already quantized model
// (lib/Calibration/Layerwise) or, with sequential=false, from the float
// model's statistics file.
//
//===----------------------------------------------------------------------===//
#include "PassSupport.h"
#include "ResumableSideFile.h"
#include "lowbit/Calibration/Layerwise.h"
#include "lowbit/Calibration/Statistics.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Quant/Gptq.h"
#include "lowbit/Support/Progress.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "lowbit/Formats/CompanionTensors.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_GPTQ
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {

struct GptqPass : mlir::lowbit::impl::GptqBase<GptqPass> {
  using Base::Base;

  ::lowbit::GptqOptions gptqOptions() const {
    ::lowbit::GptqOptions o;
    o.scheme.bits = bits;
    o.scheme.groupSize = groupSize;
    o.scheme.symmetric = sym;
    o.scheme.mseGrid = mse;
    o.actOrder = actOrder;
    o.staticGroups = staticGroups;
    o.dampPercent = dampPercent;
    o.blockSize = blockSize;
    o.singlePrecision = singlePrecision;
    return o;
  }

  bool keepsGIdx() const { return actOrder && !staticGroups; }

  /// Quantizes `w` [rows, cols] against `hessian` and writes the result to
  /// the side file at once.
  llvm::Error quantizeOne(StringRef name, std::vector<float> &w, int64_t rows,
                          int64_t cols, std::vector<float> hessian) {
    if (llvm::Error e = ::lowbit::checkFinite(name, w.data(), int64_t(w.size()),
                                              cols))
      return e;
    llvm::Expected<::lowbit::GptqResult> r = ::lowbit::gptqQuantize(
        w.data(), rows, cols, std::move(hessian), gptqOptions());
    if (!r)
      return llvm::createStringError("GPTQ of '" + name.str() +
                                     "': " + llvm::toString(r.takeError()));
    w = std::move(r->dequantized);
    ::lowbit::SafetensorsStreamWriter &out = side->writer();
    using ::lowbit::Companion;
    if (llvm::Error e = out.write(name, llvm::ArrayRef(r->tensor.codes)))
      return e;
    if (llvm::Error e = out.write(::lowbit::companionName(name, Companion::Scales),
                                  llvm::ArrayRef(r->tensor.scales)))
      return e;
    if (llvm::Error e = out.write(::lowbit::companionName(name, Companion::Zeros),
                                  llvm::ArrayRef(r->tensor.zeros)))
      return e;
    if (keepsGIdx())
      if (llvm::Error e = out.write(
              ::lowbit::companionName(name, Companion::GroupIndex),
              llvm::ArrayRef(r->gIdx)))
        return e;
    written.insert(name);
    return llvm::Error::success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      module.emitError("--lowbit-gptq: " + message);
      signalPassFailure();
    };
    if (sideFile.empty())
      return fail("needs side-file=PATH");
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
      return fail("bits must be 2, 3, 4 or 8, not " + Twine(int(bits)));
    if (groupSize == 0 || groupSize < -1)
      return fail("group-size must be positive or -1, not " +
                  Twine(int64_t(groupSize)));
    if (!(dampPercent > 0 && dampPercent < 1))
      return fail("damp must be in (0, 1), not " + llvm::formatv("{0}", double(dampPercent)).str());
    if (blockSize <= 0)
      return fail("block-size must be positive, not " + Twine(int64_t(blockSize)));

    SmallVector<mlir::lowbit::WeightOp> targets =
        mlir::lowbit::decoderLinearWeights(module);
    for (mlir::lowbit::WeightOp op : targets) {
      int64_t k = cast<RankedTensorType>(op.getType()).getShape()[1];
      if (groupSize > 0 && k % groupSize)
        return fail("group size " + Twine(int64_t(groupSize)) +
                    " does not divide input width " + Twine(k) + " of '" +
                    op.getName() + "'");
    }
    if (targets.empty())
      return fail("the module has no float decoder linears to quantize");
    llvm::Expected<uint64_t> budget = mlir::lowbit::parseMemorySize(memoryBudget);
    if (!budget)
      return fail(llvm::toString(budget.takeError()));
    budgetBytes = *budget;
    ::lowbit::WeightStore weights;
    if (llvm::Error e = ::lowbit::openModuleWeights(module, weights))
      return fail(llvm::toString(std::move(e)));

    std::vector<::lowbit::SafetensorsTensorInfo> declared;
    for (mlir::lowbit::WeightOp op : targets) {
      ArrayRef<int64_t> shape = cast<RankedTensorType>(op.getType()).getShape();
      mlir::lowbit::declareAffineTensors(declared, op.getName(), shape[0],
                                         shape[1], groupSize, keepsGIdx());
    }
    std::string path = mlir::lowbit::absolutePath(sideFile);
    auto opened = mlir::lowbit::ResumableSideFile::open(
        path, declared, module, weights, *this, resume && sequential);
    if (!opened)
      return fail(llvm::toString(opened.takeError()));
    side = std::move(*opened);
    if (resume && !sequential)
      llvm::errs() << "note: --lowbit-gptq: resume= applies to sequential "
                      "runs; this one starts afresh\n";

    llvm::Error result = sequential ? runSequential(module, weights)
                                    : runFromStatistics(module, weights, targets);
    // (A resumed run wrote the first layers' results before.)
    if (!result && !side->resumed())
      for (mlir::lowbit::WeightOp op : targets)
        if (!written.contains(op.getName())) {
          result = llvm::createStringError("no GPTQ result for '" +
                                           op.getName() + "'");
          break;
        }
    if (!result)
      result = side->commit();
    if (result) {
      side->abandon();
      return fail(llvm::toString(std::move(result)));
    }
    mlir::lowbit::retypeAsAffine(targets, bits, groupSize, sym, keepsGIdx());
    mlir::lowbit::recordSideFile(module, path);
  }

  llvm::Error runSequential(ModuleOp module, const ::lowbit::WeightStore &weights) {
    return mlir::lowbit::quantizeLinearsSequentially(
        module, weights, file, windows, windowLength, seed, bosWindows,
        trueSequential,
        [&](StringRef name, std::vector<float> &w, int64_t rows, int64_t cols,
            std::vector<float> hessian) {
          return quantizeOne(name, w, rows, cols, std::move(hessian));
        },
        side.get(), budgetBytes, mlir::lowbit::absolutePath(sideFile));
  }

  llvm::Error runFromStatistics(ModuleOp module,
                                const ::lowbit::WeightStore &weights,
                                ArrayRef<mlir::lowbit::WeightOp> targets) {
    auto statsPath = module->getAttrOfType<StringAttr>("lowbit.calibration");
    if (!statsPath)
      return llvm::createStringError(
          "sequential=false needs the float model's Hessians: run "
          "--lowbit-calibrate first");
    llvm::Expected<::lowbit::ModelConfig> config =
        ::lowbit::configFromModule(module);
    if (!config)
      return config.takeError();
    llvm::Expected<::lowbit::CalibrationStatistics> stats =
        ::lowbit::CalibrationStatistics::load(statsPath.getValue(), *config);
    if (!stats)
      return stats.takeError();
    ::lowbit::Progress progress("gptq", int64_t(targets.size()));
    int64_t done = 0;
    for (mlir::lowbit::WeightOp op : targets) {
      const ::lowbit::LinearStatistics *s = stats->lookup(op.getName());
      if (!s || s->hessian.empty())
        return llvm::createStringError(
            "the statistics in '" + statsPath.getValue() + "' have no Hessian for '" +
            op.getName() + "' (calibrate with hessian=true)");
      llvm::Expected<const ::lowbit::TensorRef *> t = weights.get(op.getName());
      if (!t)
        return t.takeError();
      std::vector<float> w;
      if (llvm::Error e = ::lowbit::dequantize(**t, w))
        return e;
      if (llvm::Error e = quantizeOne(op.getName(), w, (*t)->shape[0],
                                      (*t)->shape[1], s->hessian))
        return e;
      progress.update(++done, op.getName());
    }
    progress.finish();
    return llvm::Error::success();
  }

  std::shared_ptr<mlir::lowbit::ResumableSideFile> side; // shared: passes are copyable
  llvm::StringSet<> written;
  uint64_t budgetBytes = 0;
};
} // namespace
