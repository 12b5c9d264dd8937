//===- PassSupport.cpp ----------------------------------------------------===//
#include "lowbit/Formats/CompanionTensors.h"
#include "PassSupport.h"
#include "lowbit/Calibration/Calibrate.h"
#include "lowbit/Calibration/Layerwise.h"
#include "lowbit/Calibration/Statistics.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Quant/FloatTarget.h"
#include "lowbit/Formats/TensorNames.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"

#include <cstring>
#include <optional>

using namespace mlir;

std::string mlir::lowbit::absolutePath(llvm::StringRef path) {
  SmallString<256> p(path);
  llvm::sys::fs::make_absolute(p);
  return std::string(p);
}

void mlir::lowbit::recordSideFile(ModuleOp module, llvm::StringRef path) {
  Builder b(module.getContext());
  SmallVector<Attribute> sides;
  if (auto old = module->getAttrOfType<ArrayAttr>("lowbit.side_files"))
    for (Attribute a : old)
      if (cast<StringAttr>(a).getValue() != path)
        sides.push_back(a);
  sides.push_back(b.getStringAttr(path));
  module->setAttr("lowbit.side_files", b.getArrayAttr(sides));
}

SmallVector<mlir::lowbit::WeightOp>
mlir::lowbit::decoderLinearWeights(ModuleOp module) {
  using ::lowbit::WeightRole;
  SmallVector<WeightOp> targets;
  module.walk([&](WeightOp op) {
    auto type = dyn_cast<RankedTensorType>(op.getType());
    auto parsed = ::lowbit::parseWeightName(op.getName());
    if (!type || type.getRank() != 2 || !parsed)
      return;
    switch (parsed->role) {
    case WeightRole::Query: case WeightRole::Key: case WeightRole::Value:
    case WeightRole::AttnOutput: case WeightRole::Gate: case WeightRole::Up:
    case WeightRole::Down:
      targets.push_back(op);
      break;
    default:
      break;
    }
  });
  return targets;
}

llvm::Expected<std::unique_ptr<::lowbit::Tokenizer>>
mlir::lowbit::moduleTokenizer(ModuleOp module) {
  llvm::Expected<::lowbit::ModelConfig> config =
      ::lowbit::configFromModule(module);
  if (!config)
    return config.takeError();
  auto tokenizerPath = module->getAttrOfType<StringAttr>("lowbit.tokenizer");
  if (!tokenizerPath)
    return llvm::createStringError("module has no lowbit.tokenizer attribute");
  // The vocabulary is padded to vocab_size: the embedding bounds it first.
  ::lowbit::WeightStore weights;
  if (llvm::Error e = ::lowbit::openModuleWeights(module, weights))
    return std::move(e);
  if (llvm::Error e = ::lowbit::checkEmbeddingRows(*config, weights))
    return std::move(e);
  llvm::Expected<::lowbit::Vocabulary> vocab =
      ::lowbit::loadVocabulary(tokenizerPath.getValue(), *config);
  if (!vocab)
    return vocab.takeError();
  return ::lowbit::Tokenizer::create(*vocab, tokenizerPath.getValue());
}

llvm::Error mlir::lowbit::resolveCalibrationText(
    ModuleOp module, llvm::StringRef file, int64_t windows,
    int64_t windowLength, uint64_t seed, bool bosWindows, std::string &textPath,
    ::lowbit::CalibrationOptions &options) {
  if (!file.empty()) {
    textPath = file.str();
    options.windows = windows;
    options.windowLength = windowLength;
    options.seed = seed;
    options.bosWindows = bosWindows;
    return llvm::Error::success();
  }
  auto statsPath = module->getAttrOfType<StringAttr>("lowbit.calibration");
  if (!statsPath)
    return llvm::createStringError(
        "needs calibration text: give file=PATH or run --lowbit-calibrate "
        "first");
  llvm::Expected<::lowbit::CalibrationStatistics> stats =
      ::lowbit::CalibrationStatistics::load(statsPath.getValue());
  if (!stats)
    return stats.takeError();
  if (stats->text.empty())
    return llvm::createStringError(
        "the statistics in '" + statsPath.getValue() +
        "' do not record their calibration text: give file=PATH");
  textPath = stats->text;
  options.windows = stats->windows;
  options.windowLength = stats->windowLength;
  options.seed = stats->seed;
  options.bosWindows = stats->bosWindows;
  return llvm::Error::success();
}

void mlir::lowbit::retypeAsAffine(llvm::ArrayRef<WeightOp> ops, int bits,
                                  int64_t groupSize, bool symmetric,
                                  bool actOrder) {
  if (ops.empty())
    return;
  MLIRContext *ctx = ops.front()->getContext();
  auto scheme = QuantSchemeAttr::get(ctx, QuantFormat::Affine, bits, groupSize,
                                     symmetric, actOrder);
  for (WeightOp op : ops)
    op.getResult().setType(QuantizedWeightType::get(
        ctx, cast<RankedTensorType>(op.getType()).getShape(), scheme));
}

llvm::Error mlir::lowbit::quantizeLinearsSequentially(
    ModuleOp module, const ::lowbit::WeightStore &weights, llvm::StringRef file,
    int64_t windows, int64_t windowLength, uint64_t seed, bool bosWindows,
    bool trueSequential, LinearQuantizeFn quantize,
    ::lowbit::LayerwiseCheckpoint *checkpoint, uint64_t memoryBudget,
    llvm::StringRef spillPrefix, double floatTargetDamp, bool includeOutput) {
  ::lowbit::LayerwiseOptions options;
  options.floatTargets = floatTargetDamp > 0;
  options.includeOutput = includeOutput;
  options.checkpoint = checkpoint;
  options.memoryBudget = memoryBudget;
  options.spillPrefix = spillPrefix.str();
  std::string text;
  if (llvm::Error e = resolveCalibrationText(module, file, windows, windowLength,
                                             seed, bosWindows, text,
                                             options.calibration))
    return e;
  options.calibration.collectHessian = true;
  options.perGroup = trueSequential;
  options.collectHessian = true;
  auto tokenizer = moduleTokenizer(module);
  if (!tokenizer)
    return tokenizer.takeError();
  return ::lowbit::calibrateLayerwise(
      module, weights, **tokenizer, text, options,
      [&](llvm::ArrayRef<::lowbit::LinearGroup> groups,
          llvm::MutableArrayRef<::lowbit::GroupInputs> inputs,
          ::lowbit::LayerwiseWeights &dense) -> llvm::Error {
        for (size_t g = 0; g < groups.size(); ++g) {
          std::optional<::lowbit::FloatTarget> target;
          if (options.floatTargets) {
            auto made = ::lowbit::FloatTarget::create(
                inputs[g].statistics.hessian, std::move(inputs[g].floatShift),
                groups[g].inFeatures, floatTargetDamp);
            if (!made)
              return made.takeError();
            target = std::move(*made);
          }
          for (const std::string &name : groups[g].weights) {
            std::vector<float> *w = dense.get(name);
            if (!w)
              return llvm::createStringError("no weight '" + name + "'");
            int64_t cols = groups[g].inFeatures;
            int64_t rows = int64_t(w->size()) / cols;
            if (target)
              target->apply(*w, rows);
            std::vector<float> &hessian = inputs[g].statistics.hessian;
            bool last = &name == &groups[g].weights.back();
            if (llvm::Error e = quantize(
                    name, *w, rows, cols,
                    last ? std::move(hessian) : std::vector<float>(hessian)))
              return e;
          }
        }
        return llvm::Error::success();
      });
}

llvm::Expected<uint64_t> mlir::lowbit::parseMemorySize(llvm::StringRef text) {
  llvm::StringRef number = text.trim();
  if (number.empty())
    return 0;
  double scale = 1;
  switch (llvm::toUpper(number.back())) {
  case 'K': scale = 1024.0; break;
  case 'M': scale = 1024.0 * 1024; break;
  case 'G': scale = 1024.0 * 1024 * 1024; break;
  case 'T': scale = 1024.0 * 1024 * 1024 * 1024; break;
  default: break;
  }
  if (scale != 1)
    number = number.drop_back();
  double value;
  if (number.getAsDouble(value) || !(value > 0) || value * scale > 1e18)
    return llvm::createStringError(
        "memory size '" + text.str() +
        "' is not a positive number of bytes, optionally with K, M, G or T");
  return uint64_t(value * scale);
}
