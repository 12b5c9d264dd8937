//===- GgufQuantize.cpp - --lowbit-gguf-quantize --------------------------===//
//
// llama-quantize as a pass: each weight matrix gets the type llama.cpp's mix
// gives its role and layer, is packed into ggml blocks in a GGUF side file,
// and its lowbit.weight op is retyped as a !lowbit.qweight of that format.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Passes/Passes.h"
#include "GgufBudgetChoice.h"
#include "PassSupport.h"
#include "ResumableSideFile.h"
#include "lowbit/Quant/Encode.h"
#include "lowbit/Quant/GgufMixes.h"
#include "lowbit/Calibration/Imatrix.h"
#include "lowbit/Quant/GgmlBlockGrid.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Quant/GptqGgml.h"
#include "lowbit/Support/Progress.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <optional>

namespace mlir::lowbit {
#define GEN_PASS_DEF_GGUFQUANTIZE
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using ::lowbit::DType;

namespace {
/// A tensor encoded before the main loop (by GPTQ), with its type.
struct GgufQuantizePass
    : mlir::lowbit::impl::GgufQuantizeBase<GgufQuantizePass> {
  using Base::Base;

  /// The type llama-quantize's mix gives `name`, or an error for a name
  /// without a Llama-family role.
  llvm::Expected<DType> typeOf(StringRef name, const ::lowbit::GgufFileType &fileType,
                               const ::lowbit::ModelShape &shape, int64_t rowLength,
                               bool hasOutput) const {
    if (!budgeted.empty()) {
      auto it = budgeted.find(name);
      if (it != budgeted.end())
        return it->second;
    }
    return mixTypeOf(name, fileType, shape, rowLength, hasOutput);
  }

  /// The type llama-quantize's mix `fileType` gives `name`.
  llvm::Expected<DType> mixTypeOf(StringRef name,
                                  const ::lowbit::GgufFileType &fileType,
                                  const ::lowbit::ModelShape &shape,
                                  int64_t rowLength, bool hasOutput) const {
    auto parsed = ::lowbit::parseWeightName(name);
    if (!parsed)
      return llvm::createStringError("'" + name.str() +
                                     "' has no Llama-family role");
    ::lowbit::WeightRole role = parsed->role;
    if (role == ::lowbit::WeightRole::Embedding && !hasOutput)
      role = ::lowbit::WeightRole::Output; // tied: the embedding is the output
    return ::lowbit::chooseGgufType(fileType, role, parsed->layer, rowLength,
                                    shape, pure);
  }

  /// GPTQ of every decoder linear into its mix type, layer by layer through
  /// the already quantized model. Each encoding goes to `encodingsPath` (a
  /// safetensors of raw bytes, written through, resumable) as soon as it is
  /// made; the GGUF writer reads them from there.
  llvm::Error runGptq(ModuleOp module, const ::lowbit::WeightStore &weights,
                      const ::lowbit::GgufFileType &fileType,
                      const ::lowbit::ModelShape &shape, bool hasOutput,
                      StringRef encodingsPath) {
    if (!(dampPercent > 0 && dampPercent < 1))
      return llvm::createStringError(
          "damp must be in (0, 1), not " +
          llvm::formatv("{0}", double(dampPercent)).str());
    if (floatTargets && resume)
      return llvm::createStringError(
          "float-targets=true cannot resume (the float model's activations "
          "are not saved); drop resume=true");
    if (descentSweeps < 0 || descentSweeps > 1000)
      return llvm::createStringError("descent-sweeps must be in [0, 1000], not " +
                                     std::to_string(descentSweeps));
    llvm::Expected<uint64_t> budgetBytes =
        mlir::lowbit::parseMemorySize(memoryBudget);
    if (!budgetBytes)
      return budgetBytes.takeError();
    std::vector<::lowbit::SafetensorsTensorInfo> declared;
    llvm::StringSet<> seen;
    // With float targets the output head is quantized last, aimed at the
    // float model's logits (a tied head is the embedding: left alone).
    SmallVector<mlir::lowbit::WeightOp> targets =
        mlir::lowbit::decoderLinearWeights(module);
    if (floatTargets && hasOutput)
      module.walk([&](mlir::lowbit::WeightOp op) {
        auto parsed = ::lowbit::parseWeightName(op.getName());
        auto type = dyn_cast<RankedTensorType>(op.getType());
        if (parsed && parsed->role == ::lowbit::WeightRole::Output && type &&
            type.getRank() == 2)
          targets.push_back(op);
      });
    for (mlir::lowbit::WeightOp op : targets) {
      if (!seen.insert(op.getName()).second)
        continue;
      ArrayRef<int64_t> dims = cast<RankedTensorType>(op.getType()).getShape();
      llvm::Expected<DType> type =
          typeOf(op.getName(), fileType, shape, dims.back(), hasOutput);
      if (!type)
        return type.takeError();
      std::optional<uint64_t> bytes = ::lowbit::tensorBytes(*type, dims);
      if (!bytes)
        return llvm::createStringError("'" + op.getName() +
                                       "' does not fit its type's blocks");
      declared.push_back({op.getName().str(), DType::U8, {int64_t(*bytes)}});
    }
    auto opened = mlir::lowbit::ResumableSideFile::open(
        encodingsPath, declared, module, weights, *this, resume);
    if (!opened)
      return opened.takeError();
    std::unique_ptr<mlir::lowbit::ResumableSideFile> side = std::move(*opened);
    llvm::StringSet<> written;
    llvm::Error result = runGptqInto(module, weights, fileType, shape,
                                     hasOutput, *side, *budgetBytes,
                                     encodingsPath, written);
    // (A resumed run wrote the first layers' encodings before.)
    if (!result && !side->resumed())
      for (const ::lowbit::SafetensorsTensorInfo &t : declared)
        if (!written.contains(t.name)) {
          result = llvm::createStringError("no GPTQ result for '" + t.name + "'");
          break;
        }
    if (!result)
      result = side->commit();
    if (result)
      side->abandon();
    return result;
  }

  llvm::Error runGptqInto(ModuleOp module, const ::lowbit::WeightStore &weights,
                          const ::lowbit::GgufFileType &fileType,
                          const ::lowbit::ModelShape &shape, bool hasOutput,
                          mlir::lowbit::ResumableSideFile &side,
                          uint64_t budgetBytes, StringRef encodingsPath,
                          llvm::StringSet<> &written) {
    ::lowbit::SafetensorsStreamWriter &encoded = side.writer();
    // GPTQ's layer-output error and what the descent left, summed over the
    // matrices, for the closing line.
    double gptqError = 0, finalError = 0;
    int64_t matrices = 0;
    llvm::Error result = mlir::lowbit::quantizeLinearsSequentially(
        module, weights, file, windows, windowLength, seed, bosWindows,
        /*trueSequential=*/true,
        [&](StringRef name, std::vector<float> &w, int64_t rows, int64_t cols,
            std::vector<float> hessian) -> llvm::Error {
          llvm::Expected<DType> type =
              typeOf(name, fileType, shape, cols, hasOutput);
          if (!type)
            return type.takeError();
          if (llvm::Error e = ::lowbit::checkFinite(name, w.data(),
                                                    int64_t(w.size()), cols))
            return e;
          if (!::lowbit::hasGgmlBlockGrid(*type)) {
            // A float fallback (rows too short for the mix's blocks).
            ::lowbit::TensorRef ref{name.str(), DType::F32, {rows, cols},
                                    reinterpret_cast<const uint8_t *>(w.data()),
                                    uint64_t(w.size() * sizeof(float))};
            llvm::Expected<std::vector<uint8_t>> bytes =
                ::lowbit::encodeTensor(ref, *type);
            if (!bytes)
              return bytes.takeError();
            written.insert(name);
            return encoded.write(name, ArrayRef(*bytes));
          }
          ::lowbit::GgmlGptqOptions o;
          o.type = *type;
          o.actOrder = actOrder;
          o.dampPercent = dampPercent;
          o.descentSweeps = descentSweeps;
          llvm::Expected<::lowbit::GgmlGptqResult> r =
              ::lowbit::gptqQuantizeGgml(w.data(), rows, cols, std::move(hessian), o);
          if (!r)
            return llvm::createStringError("GPTQ of '" + name.str() + "': " +
                                           llvm::toString(r.takeError()));
          gptqError += r->gptqLoss;
          finalError += r->loss;
          ++matrices;
          w = std::move(r->dequantized);
          written.insert(name);
          return encoded.write(name, ArrayRef(r->bytes));
        },
        &side, budgetBytes, encodingsPath, floatTargets ? dampPercent : 0.0,
        /*includeOutput=*/floatTargets);
    if (!result && descentSweeps > 0 && gptqError > 0)
      llvm::errs() << llvm::formatv(
          "gguf-quantize: coordinate descent ({0} sweeps) lowered GPTQ's "
          "layer-output error by {1:F1}% over {2} matrices\n",
          int64_t(descentSweeps), 100.0 * (1.0 - finalError / gptqError),
          matrices);
    return result;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      module.emitError(message);
      signalPassFailure();
    };
    if (sideFile.empty())
      return fail("--lowbit-gguf-quantize needs side-file=PATH");
    llvm::Expected<::lowbit::GgufFileType> fileType =
        ::lowbit::parseGgufFileType(ftype);
    if (!fileType)
      return fail("--lowbit-gguf-quantize: " + llvm::toString(fileType.takeError()));
    if (getDTypeInfo(fileType->defaultType).blockElems == 1)
      return fail("--lowbit-gguf-quantize: '" + ftype +
                  "' is a float type; use --lowbit-convert-weights");
    llvm::Expected<::lowbit::ModelConfig> config = ::lowbit::configFromModule(module);
    if (!config)
      return fail(llvm::toString(config.takeError()));
    ::lowbit::WeightStore weights;
    if (llvm::Error e = ::lowbit::openModuleWeights(module, weights))
      return fail(llvm::toString(std::move(e)));
    std::optional<::lowbit::ImportanceMatrix> importance;
    if (!imatrix.empty()) {
      auto m = ::lowbit::loadImportance(imatrix, *config);
      if (!m)
        return fail(llvm::toString(m.takeError()));
      importance = std::move(*m);
    }

    // The weights to quantize: float matrices with a Llama-family role.
    struct Item {
      std::string name;
      ::lowbit::ParsedWeightName role;
    };
    std::vector<Item> items;
    llvm::StringSet<> seen;
    bool hasOutput = false;
    module.walk([&](mlir::lowbit::WeightOp op) {
      auto type = dyn_cast<RankedTensorType>(op.getType());
      auto parsed = ::lowbit::parseWeightName(op.getName());
      if (!type || type.getRank() != 2 || !parsed)
        return;
      hasOutput |= parsed->role == ::lowbit::WeightRole::Output;
      if (seen.insert(op.getName()).second)
        items.push_back({op.getName().str(), *parsed});
    });
    if (items.empty()) {
      // Like llama-quantize without --allow-requantize: quantized weights
      // are not quantized again, and saying nothing would look like success.
      module.emitWarning("--lowbit-gguf-quantize: no float weights to "
                         "quantize; the model's quantized weights are kept as "
                         "they are and no side file is written");
      return;
    }

    ::lowbit::ModelShape shape{config->numLayers, config->numHeads,
                               config->numKvHeads};
    if (!budget.empty()) {
      if (pure)
        return fail("--lowbit-gguf-quantize: budget= and pure=true exclude "
                    "each other");
      if (sensitivityWindows < 1)
        return fail("--lowbit-gguf-quantize: sensitivity-windows must be "
                    "positive, not " + Twine(int64_t(sensitivityWindows)));
      mlir::lowbit::GgufBudgetRequest request;
      request.budget = budget;
      request.file = file;
      request.windows = sensitivityWindows;
      request.windowLength = windowLength;
      request.seed = seed;
      request.bosWindows = bosWindows;
      std::vector<std::string> names;
      for (const Item &item : items)
        names.push_back(item.name);
      auto chosenTypes = mlir::lowbit::chooseBudgetedGgufTypes(
          module, weights, names, request,
          [&](StringRef mix, StringRef name,
              int64_t rowLength) -> llvm::Expected<DType> {
            llvm::Expected<::lowbit::GgufFileType> t =
                ::lowbit::parseGgufFileType(mix);
            if (!t)
              return t.takeError();
            return mixTypeOf(name, *t, shape, rowLength, hasOutput);
          });
      if (!chosenTypes)
        return fail("--lowbit-gguf-quantize: " +
                    llvm::toString(chosenTypes.takeError()));
      budgeted = std::move(*chosenTypes);
    }
    // GPTQ's encodings, written through to a temporary file beside the
    // side file and removed once the GGUF holds them.
    std::string encodingsPath = mlir::lowbit::absolutePath(sideFile) + ".gptq";
    std::optional<::lowbit::WeightStore> encodings;
    auto removeEncodings = llvm::make_scope_exit([&] {
      if (encodings) {
        encodings.reset();
        (void)llvm::sys::fs::remove(encodingsPath);
      }
    });
    if (gptq) {
      if (llvm::Error e = runGptq(module, weights, *fileType, shape, hasOutput,
                                  encodingsPath))
        return fail("--lowbit-gguf-quantize: " + llvm::toString(std::move(e)));
      encodings.emplace();
      if (llvm::Error e = encodings->addFile(encodingsPath))
        return fail("--lowbit-gguf-quantize: " + llvm::toString(std::move(e)));
    } else if (actOrder || descentSweeps.hasValue() ||
               (!file.empty() && budget.empty())) {
      return fail("--lowbit-gguf-quantize: file=, act-order= and "
                  "descent-sweeps= need gptq=true (file= also serves budget=)");
    }
    // Each tensor is encoded when the writer reaches it and its mapped input
    // released after, so one encoded tensor is in memory at a time (plus the
    // GPTQ encodings, made before).
    struct Planned {
      const ::lowbit::TensorRef *tensor;
      DType type;
      const std::vector<float> *columns; // importance, if any
      const ::lowbit::TensorRef *encoded; // GPTQ's bytes, if any
    };
    ::lowbit::GgufWriter writer;
    std::vector<Planned> plan;
    llvm::StringMap<DType> chosen;
    int64_t covered = 0;
    for (const Item &item : items) {
      const ::lowbit::TensorRef *t = weights.find(item.name);
      if (!t)
        return fail("no tensor named '" + item.name + "' in the weight store");
      llvm::Expected<DType> type =
          typeOf(item.name, *fileType, shape, t->shape.back(), hasOutput);
      if (!type)
        return fail(llvm::toString(type.takeError()));
      // Like llama-quantize, tensors the imatrix does not cover (the
      // embedding, usually the output) are quantized without it.
      const std::vector<float> *columns =
          importance ? importance->find(item.name) : nullptr;
      covered += columns != nullptr;
      plan.push_back({t, *type, columns,
                      encodings ? encodings->find(item.name) : nullptr});
      writer.addDeferredTensor(item.name, *type, t->shape);
      chosen[item.name] = *type;
    }
    if (importance && covered == 0)
      return fail(imatrix + ": names none of this model's weights (an imatrix "
                  "for a different model?)");

    ::lowbit::Progress progress("gguf-quantize " + ftype, int64_t(plan.size()));
    std::vector<uint8_t> current;
    std::string path = mlir::lowbit::absolutePath(sideFile);
    if (llvm::Error e = writer.write(
            path, [&](size_t index) -> llvm::Expected<ArrayRef<uint8_t>> {
              Planned &p = plan[index];
              progress.update(int64_t(index + 1), p.tensor->name);
              // The writer is done with the previous tensor's bytes.
              if (index > 0 && plan[index - 1].encoded)
                encodings->releasePages(*plan[index - 1].encoded);
              if (p.encoded) // GPTQ's bytes, straight from their mapping
                return ArrayRef<uint8_t>(p.encoded->data, p.encoded->bytes);
              llvm::Expected<std::vector<uint8_t>> bytes =
                  ::lowbit::encodeTensor(*p.tensor, p.type, 0, p.columns);
              if (!bytes)
                return bytes.takeError();
              current = std::move(*bytes);
              weights.releasePages(*p.tensor);
              return ArrayRef<uint8_t>(current);
            }))
      return fail(llvm::toString(std::move(e)));
    progress.finish();

    MLIRContext *ctx = module.getContext();
    module.walk([&](mlir::lowbit::WeightOp op) {
      auto it = chosen.find(op.getName());
      if (it == chosen.end())
        return;
      auto tensor = cast<RankedTensorType>(op.getType());
      std::optional<mlir::lowbit::QuantFormat> format =
          mlir::lowbit::symbolizeQuantFormat(getDTypeInfo(it->second).name);
      if (!format) { // a float fallback (rows too short for any block)
        Type elem = Builder(ctx).getF16Type();
        op.getResult().setType(RankedTensorType::get(tensor.getShape(), elem));
        return;
      }
      op.getResult().setType(mlir::lowbit::QuantizedWeightType::get(
          ctx, tensor.getShape(), mlir::lowbit::QuantSchemeAttr::get(ctx, *format)));
    });

    mlir::lowbit::recordSideFile(module, path);
    module->setAttr("lowbit.gguf_file_type",
                    Builder(ctx).getI64IntegerAttr(fileType->id));
  }

  /// The types a budget chose, by weight name (empty without budget=).
  llvm::StringMap<DType> budgeted;
};
} // namespace
