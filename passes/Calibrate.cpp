//===- Calibrate.cpp - --lowbit-calibrate ---------------------------------===//
//
// Runs the model on calibration text, saves the statistics of every linear
// input (lib/Calibration) and points the module at the file through
// `lowbit.calibration`, where the quantization passes find it.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Calibration/Calibrate.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Calibration/Imatrix.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Support/InputFiles.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/FileSystem.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_CALIBRATE
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {
struct CalibratePass : mlir::lowbit::impl::CalibrateBase<CalibratePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      module.emitError(message);
      signalPassFailure();
    };
    if (file.empty())
      return fail("--lowbit-calibrate needs file=PATH (the calibration text)");
    if (output.empty())
      return fail("--lowbit-calibrate needs output=PATH (the statistics file)");

    llvm::Expected<::lowbit::ModelConfig> config =
        ::lowbit::configFromModule(module);
    if (!config)
      return fail(llvm::toString(config.takeError()));
    ::lowbit::WeightStore weights;
    if (llvm::Error e = ::lowbit::openModuleWeights(module, weights))
      return fail(llvm::toString(std::move(e)));
    // The vocabulary is padded to vocab_size: the embedding bounds it first.
    if (llvm::Error e = ::lowbit::checkEmbeddingRows(*config, weights))
      return fail(llvm::toString(std::move(e)));
    auto tokenizerPath = module->getAttrOfType<StringAttr>("lowbit.tokenizer");
    if (!tokenizerPath)
      return fail("module has no lowbit.tokenizer attribute");
    llvm::Expected<::lowbit::Vocabulary> vocab =
        ::lowbit::loadVocabulary(tokenizerPath.getValue(), *config);
    if (!vocab)
      return fail(llvm::toString(vocab.takeError()));
    auto tokenizer =
        ::lowbit::Tokenizer::create(*vocab, tokenizerPath.getValue());
    if (!tokenizer)
      return fail(llvm::toString(tokenizer.takeError()));

    ::lowbit::CalibrationOptions options;
    options.windows = windows;
    options.windowLength = windowLength;
    options.seed = seed;
    options.bosWindows = bosWindows;
    options.collectHessian = hessian;
    llvm::Expected<::lowbit::CalibrationStatistics> stats =
        ::lowbit::calibrateFile(module, weights, **tokenizer, file, options);
    if (!stats)
      return fail(llvm::toString(stats.takeError()));

    SmallString<256> path(output);
    llvm::sys::fs::make_absolute(path);
    // Both outputs are checked before either is written, so a refused one
    // leaves nothing behind.
    for (StringRef out : {StringRef(output), StringRef(imatrixOutput)})
      if (!out.empty())
        if (llvm::Error e = ::lowbit::checkNotAnInput(out))
          return fail(llvm::toString(std::move(e)));
    if (!imatrixOutput.empty() && llvm::sys::fs::equivalent(output, imatrixOutput))
      return fail("--lowbit-calibrate: output= and imatrix-output= name the same file");
    if (llvm::Error e = stats->save(path))
      return fail(llvm::toString(std::move(e)));
    if (!imatrixOutput.empty())
      if (llvm::Error e =
              ::lowbit::importanceFromCalibration(*stats).save(imatrixOutput))
        return fail(llvm::toString(std::move(e)));
    module->setAttr("lowbit.calibration",
                    Builder(module.getContext()).getStringAttr(path));
  }
};
} // namespace
