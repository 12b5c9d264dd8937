//===- Awq.cpp - --lowbit-awq ---------------------------------------------===//
//
// Drives AWQ (lib/Quant/Awq) layer by layer: for each group of linears that
// share an input, search the per-channel scale s on the layer's calibration
// inputs, multiply the group's weight columns by s and divide the producer
// of the input (rms_norm weight, or the rows of the up / v linear) by s, then
// search clipping ranges on the scaled inputs and round.
//
// The interpreter that feeds the next layer keeps the float norms and holds
// each linear's fake-quantized weight in the basis of its unscaled input
// (columns divided by s again), which computes the same function as the
// folded model. The side file holds the folded model: codes of the scaled
// weights and the rescaled norms and biases.
//
//===----------------------------------------------------------------------===//
#include "PassSupport.h"
#include "ResumableSideFile.h"
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Calibration/Layerwise.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Quant/Awq.h"
#include "lowbit/Quant/GgmlBlockGrid.h"
#include "lowbit/Quant/GgmlQuantize.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Quant/GgufBudget.h"
#include "lowbit/Quant/GgufMixes.h"
#include "lowbit/Quant/Gptq.h"
#include "lowbit/Support/Float16.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>

namespace mlir::lowbit {
#define GEN_PASS_DEF_AWQ
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {
struct QuantizedLinear {
  int64_t rows = 0, cols = 0;
  ::lowbit::AffineTensor tensor;
};

/// Where a group's 1/s goes: a norm weight, or the rows (and bias) of the
/// linear producing the input.
struct FoldTarget {
  std::string norm;      // rms_norm weight name, or
  std::string linear;    // producer linear weight name
  std::string bias;      // its bias, if any
};

static std::string weightNameOf(Value v) {
  if (auto w = v.getDefiningOp<mlir::lowbit::WeightOp>())
    return w.getName().str();
  return "";
}

/// The producer of a group's input that can absorb 1/s, if any.
static std::optional<FoldTarget> foldTargetOf(const ::lowbit::LinearGroup &group) {
  Operation *def = group.input.getDefiningOp();
  if (!def)
    return std::nullopt;
  FoldTarget t;
  if (auto norm = dyn_cast<mlir::lowbit::RmsNormOp>(def)) {
    t.norm = weightNameOf(norm.getWeight());
    return t.norm.empty() ? std::nullopt : std::optional(t);
  }
  // down: swiglu(gate, up) is linear in up, channel by channel.
  // o: attention output channels are combinations of v's channels of the
  // same head, so v's rows can absorb 1/s when every head has its own v
  // (no grouped-query sharing: widths equal).
  Value producer;
  StringRef kind = def->getName().getStringRef();
  if (kind == "lowbit.swiglu")
    producer = def->getOperand(1);
  else if (kind == "lowbit.attention")
    producer = def->getOperand(2);
  else
    return std::nullopt;
  auto linear = producer.getDefiningOp<mlir::lowbit::LinearOp>();
  if (!linear)
    return std::nullopt;
  if (cast<RankedTensorType>(producer.getType()).getDimSize(1) != group.inFeatures)
    return std::nullopt;
  t.linear = weightNameOf(linear.getWeight());
  if (linear.getBias())
    t.bias = weightNameOf(linear.getBias());
  if (t.linear.empty())
    return std::nullopt;
  return t;
}

struct AwqPass : mlir::lowbit::impl::AwqBase<AwqPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      module.emitError("--lowbit-awq: " + message);
      signalPassFailure();
    };
    if (sideFile.empty())
      return fail("needs side-file=PATH");
    if (!ftype.empty()) {
      if (gptq)
        return fail("ftype= writes the folded float model; GPTQ rounding into "
                    "ggml blocks is --lowbit-gguf-quantize's gptq=true");
      if (llvm::Error e = chooseGgmlTypes(module))
        return fail(llvm::toString(std::move(e)));
    }
    if (bits < 2 || bits > 8)
      return fail("bits must be 2..8, not " + Twine(int(bits)));
    if (gptq && bits != 2 && bits != 3 && bits != 4 && bits != 8)
      return fail("gptq=true needs bits 2, 3, 4 or 8, not " + Twine(int(bits)));
    if (groupSize <= 0)
      return fail("group-size must be positive, not " + Twine(int64_t(groupSize)));
    if (grid < 1 || grid > 1000)
      return fail("grid must be 1..1000, not " + Twine(int(grid)));
    if (samples < 1)
      return fail("samples must be positive, not " + Twine(int64_t(samples)));
    if (blockWindows < 0)
      return fail("block-windows must be 0 or more, not " +
                  Twine(int64_t(blockWindows)));

    SmallVector<mlir::lowbit::WeightOp> targets =
        mlir::lowbit::decoderLinearWeights(module);
    for (mlir::lowbit::WeightOp op : targets) {
      int64_t k = cast<RankedTensorType>(op.getType()).getShape()[1];
      if (k % groupSize && ftype.empty())
        return fail("group size " + Twine(int64_t(groupSize)) +
                    " does not divide input width " + Twine(k) + " of '" +
                    op.getName() + "'");
    }
    if (targets.empty())
      return fail("the module has no float decoder linears to quantize");
    ::lowbit::WeightStore weights;
    if (llvm::Error e = ::lowbit::openModuleWeights(module, weights))
      return fail(llvm::toString(std::move(e)));

    ::lowbit::LayerwiseOptions options;
    std::string text;
    if (llvm::Error e = mlir::lowbit::resolveCalibrationText(
            module, file, windows, windowLength, seed, bosWindows, text,
            options.calibration))
      return fail(llvm::toString(std::move(e)));
    options.perGroup = false;
    options.collectHessian = gptq || scaleOnHessian;
    options.quantizedInputs = sequential;
    options.alignSamples = alignSamples;
    options.sampleRows = samples;
    options.probeWindows = blockWindows;
    auto tokenizer = mlir::lowbit::moduleTokenizer(module);
    if (!tokenizer)
      return fail(llvm::toString(tokenizer.takeError()));
    llvm::Expected<uint64_t> budget = mlir::lowbit::parseMemorySize(memoryBudget);
    if (!budget)
      return fail(llvm::toString(budget.takeError()));
    options.memoryBudget = *budget;

    // Every tensor the side file will hold, declared up front so each
    // layer's results are written as soon as it is done.
    llvm::Expected<std::vector<std::vector<::lowbit::LinearGroup>>> layers =
        ::lowbit::collectLinearGroups(module);
    if (!layers)
      return fail(llvm::toString(layers.takeError()));
    std::vector<::lowbit::SafetensorsTensorInfo> declared;
    llvm::StringSet<> seen;
    for (mlir::lowbit::WeightOp op : targets) {
      if (!seen.insert(op.getName()).second)
        continue;
      ArrayRef<int64_t> shape = cast<RankedTensorType>(op.getType()).getShape();
      if (ftype.empty())
        mlir::lowbit::declareAffineTensors(declared, op.getName(), shape[0],
                                           shape[1], groupSize, /*gIdx=*/false);
      else
        declared.push_back({op.getName().str(), ::lowbit::DType::F32, shape.vec()});
    }
    for (const std::vector<::lowbit::LinearGroup> &groups : *layers)
      for (const ::lowbit::LinearGroup &group : groups)
        if (std::optional<FoldTarget> fold = foldTargetOf(group)) {
          const std::string &name = fold->norm.empty() ? fold->bias : fold->norm;
          if (!name.empty() && seen.insert(name).second) {
            declared.push_back({name, ::lowbit::DType::F32, {group.inFeatures}});
            rescaledNames.insert(name);
          }
        }
    std::string path = mlir::lowbit::absolutePath(sideFile);
    options.spillPrefix = path;
    auto opened = mlir::lowbit::ResumableSideFile::open(path, declared, module,
                                                        weights, *this, resume);
    if (!opened)
      return fail(llvm::toString(opened.takeError()));
    side = std::move(*opened);
    options.checkpoint = side.get();

    llvm::Error result = ::lowbit::calibrateLayerwise(
        module, weights, **tokenizer, text, options,
        [&](ArrayRef<::lowbit::LinearGroup> groups,
            ArrayRef<::lowbit::GroupInputs> inputs,
            ::lowbit::LayerwiseWeights &dense) -> llvm::Error {
          if (llvm::Error e = quantizeLayer(groups, inputs, dense))
            return e;
          return writeLayer(groups);
        });
    if (!result)
      result = side->commit();
    if (result) {
      side->abandon();
      return fail(llvm::toString(std::move(result)));
    }

    // Rescaled norms and biases, and ftype='s folded linears, are f32 now.
    Type f32 = Float32Type::get(module.getContext());
    module.walk([&](mlir::lowbit::WeightOp op) {
      if (!rescaledNames.contains(op.getName()) &&
          (ftype.empty() || !seen.contains(op.getName())))
        return;
      auto type = cast<RankedTensorType>(op.getType());
      op.getResult().setType(RankedTensorType::get(type.getShape(), f32));
    });
    if (ftype.empty())
      mlir::lowbit::retypeAsAffine(targets, bits, groupSize, /*symmetric=*/false,
                                   /*actOrder=*/false);
    mlir::lowbit::recordSideFile(module, path);
  }

  /// Writes one layer's results to the side file and drops them.
  llvm::Error writeLayer(ArrayRef<::lowbit::LinearGroup> groups) {
    ::lowbit::SafetensorsStreamWriter &out = side->writer();
    using ::lowbit::Companion;
    for (const ::lowbit::LinearGroup &group : groups) {
      for (const std::string &name : group.weights) {
        if (!ftype.empty()) {
          auto it = foldedWeights.find(name);
          if (it == foldedWeights.end())
            return llvm::createStringError("no AWQ result for '" + name + "'");
          if (llvm::Error e = out.write(name, ArrayRef(it->second)))
            return e;
          foldedWeights.erase(it);
          continue;
        }
        auto it = results.find(name);
        if (it == results.end())
          return llvm::createStringError("no AWQ result for '" + name + "'");
        const ::lowbit::AffineTensor &t = it->second.tensor;
        if (llvm::Error e = out.write(name, ArrayRef(t.codes)))
          return e;
        if (llvm::Error e = out.write(::lowbit::companionName(name, Companion::Scales),
                                      ArrayRef(t.scales)))
          return e;
        if (llvm::Error e = out.write(::lowbit::companionName(name, Companion::Zeros),
                                      ArrayRef(t.zeros)))
          return e;
        results.erase(it);
      }
      if (std::optional<FoldTarget> fold = foldTargetOf(group)) {
        const std::string &name = fold->norm.empty() ? fold->bias : fold->norm;
        auto it = rescaled.find(name);
        if (name.empty() || it == rescaled.end())
          continue;
        if (llvm::Error e = out.write(name, ArrayRef(it->second)))
          return e;
        rescaled.erase(it);
      }
    }
    return llvm::Error::success();
  }

  llvm::Error quantizeLayer(ArrayRef<::lowbit::LinearGroup> groups,
                            ArrayRef<::lowbit::GroupInputs> inputs,
                            ::lowbit::LayerwiseWeights &dense) {
    ::lowbit::AwqGrid awqGrid;
    awqGrid.bits = bits;
    awqGrid.groupSize = groupSize;
    awqGrid.zeroPoint = true;

    // NaN/Inf weights would poison the scale search and the codes.
    for (const ::lowbit::LinearGroup &group : groups)
      for (const std::string &name : group.weights)
        if (std::vector<float> *w = dense.get(name))
          if (llvm::Error e = ::lowbit::checkFinite(
                  name, w->data(), int64_t(w->size()), group.inFeatures))
            return e;

    // 1. Scales of every group, searched on the layer as it stands.
    std::vector<std::vector<float>> scales(groups.size());
    // Whether the interpreter sees the group's input unscaled (norm folds
    // stay out of the interpreter) or already divided by s (producer rows).
    std::vector<bool> inputUnscaled(groups.size(), true);
    llvm::StringMap<std::vector<float>> rowScale; // producer linear -> 1/s
    for (size_t g = 0; g < groups.size(); ++g) {
      const ::lowbit::LinearGroup &group = groups[g];
      int64_t k = group.inFeatures;
      std::optional<FoldTarget> fold = foldTargetOf(group);
      scales[g].assign(size_t(k), 1.0f);
      if (!fold)
        continue;
      std::vector<const float *> ws;
      std::vector<int64_t> rows;
      for (const std::string &name : group.weights) {
        std::vector<float> *w = dense.get(name);
        if (!w)
          return llvm::createStringError("no weight '" + name + "'");
        ws.push_back(w->data());
        rows.push_back(int64_t(w->size()) / k);
      }
      const ::lowbit::GroupInputs &in = inputs[g];
      // q/k/v are scored on the attention output, gate/up on the MLP's, as
      // the reference does; single linears on their own output.
      ::lowbit::AwqLossCallback blockLoss;
      std::string probeError;
      if (Operation *end = blockEndOf(group, groups); end && dense.probe()) {
        ::lowbit::BlockProbe *probe = dense.probe();
        blockLoss = [&, end, probe](ArrayRef<std::vector<float>> fakes) {
          llvm::Expected<double> e = probe->error(group, end, fakes);
          if (e)
            return *e;
          probeError = llvm::toString(e.takeError());
          return std::nan("");
        };
      }
      // The Hessian 2XᵀX/n scores the linears' outputs on every token.
      const float *gram = scaleOnHessian ? in.statistics.hessian.data() : nullptr;
      ::lowbit::AwqFakeQuantizer ggmlQuantizer;
      if (!ftype.empty())
        ggmlQuantizer = [&](size_t j, const float *scaled, int64_t begin,
                            int64_t end, int64_t cols, ArrayRef<float> s,
                            float *out) {
          fakeQuantizeGgmlRows(ggmlTypes.lookup(group.weights[j]), scaled,
                               begin, end, cols, in.statistics.meanSquare, s,
                               out);
        };
      llvm::Expected<::lowbit::AwqScaleResult> found = ::lowbit::searchAwqScales(
          in.sample.data(), in.sampleRows, k, ws, rows,
          in.statistics.meanAbs.data(), awqGrid, grid, blockLoss, gram,
          ggmlQuantizer);
      if (!probeError.empty()) {
        llvm::consumeError(found.takeError());
        return llvm::createStringError(probeError);
      }
      if (!found)
        return found.takeError();
      scales[g] = std::move(found->scales);
      std::vector<float> inverse(scales[g].size());
      for (size_t c = 0; c < inverse.size(); ++c)
        inverse[c] = 1.0f / scales[g][c];
      if (!fold->norm.empty()) {
        std::vector<float> *norm = dense.get(fold->norm);
        if (!norm || norm->size() != inverse.size())
          return llvm::createStringError("cannot fold AWQ scales into '" +
                                         fold->norm + "'");
        // Rounded to fp16, as checkpoints store norms, so an exported model
        // computes exactly what this IR does.
        std::vector<float> folded(*norm);
        for (size_t c = 0; c < folded.size(); ++c)
          folded[c] = ::lowbit::fp16ToFloat(::lowbit::floatToFp16(folded[c] * inverse[c]));
        rescaled[fold->norm] = std::move(folded);
      } else {
        if (!fold->bias.empty()) {
          std::vector<float> *bias = dense.get(fold->bias);
          if (!bias || bias->size() != inverse.size())
            return llvm::createStringError("cannot fold AWQ scales into '" +
                                           fold->bias + "'");
          // The bias also feeds the next linear through the scaled rows:
          // the interpreter's copy changes with them.
          for (size_t c = 0; c < bias->size(); ++c)
            (*bias)[c] = ::lowbit::fp16ToFloat(::lowbit::floatToFp16((*bias)[c] * inverse[c]));
          rescaled[fold->bias] = *bias;
        }
        rowScale[fold->linear] = std::move(inverse);
        inputUnscaled[g] = false;
      }
    }

    // 2. Clip and round every linear in its folded form.
    for (size_t g = 0; g < groups.size(); ++g) {
      const ::lowbit::LinearGroup &group = groups[g];
      int64_t k = group.inFeatures;
      const std::vector<float> &s = scales[g];
      const ::lowbit::GroupInputs &in = inputs[g];
      std::vector<float> x(in.sample);
      for (int64_t r = 0; r < in.sampleRows; ++r)
        for (int64_t c = 0; c < k; ++c)
          x[size_t(r * k + c)] /= s[size_t(c)];
      for (const std::string &name : group.weights) {
        std::vector<float> *w = dense.get(name);
        int64_t rows = int64_t(w->size()) / k;
        auto rs = rowScale.find(name);
        std::vector<float> folded(*w);
        for (int64_t r = 0; r < rows; ++r) {
          float rowFactor = rs != rowScale.end() ? rs->second[size_t(r)] : 1.0f;
          for (int64_t c = 0; c < k; ++c)
            folded[size_t(r * k + c)] *= rowFactor * s[size_t(c)];
        }
        if (!ftype.empty()) {
          // The folded float weight is the result; the interpreter gets its
          // ggml rounding for the layers calibrated after this one.
          std::vector<float> fake(folded.size());
          fakeQuantizeGgmlRows(ggmlTypes.lookup(name), folded.data(), 0, rows,
                               k, in.statistics.meanSquare, s, fake.data());
          foldedWeights[name] = std::move(folded);
          if (inputUnscaled[g])
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t c = 0; c < k; ++c)
                fake[size_t(r * k + c)] /= s[size_t(c)];
          *w = std::move(fake);
          continue;
        }
        if (clip && !isQueryOrKey(name)) {
          llvm::Expected<std::vector<float>> clipMax = ::lowbit::searchAwqClip(
              x.data(), in.sampleRows, k, folded.data(), rows, awqGrid, grid);
          if (!clipMax)
            return clipMax.takeError();
          int64_t groupsPerRow = k / groupSize;
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < k; ++c) {
              float m = (*clipMax)[size_t(r * groupsPerRow + c / groupSize)];
              float &v = folded[size_t(r * k + c)];
              v = std::clamp(v, -m, m);
            }
        }
        QuantizedLinear &q = results[name];
        q.rows = rows;
        q.cols = k;
        std::vector<float> fake(folded.size());
        if (gptq) {
          // The Hessian of the scaled input x/s is S⁻¹ H S⁻¹.
          std::vector<float> h = in.statistics.hessian;
          for (int64_t i = 0; i < k; ++i)
            for (int64_t j = 0; j < k; ++j)
              h[size_t(i * k + j)] /= s[size_t(i)] * s[size_t(j)];
          ::lowbit::GptqOptions o;
          o.scheme.bits = bits;
          o.scheme.groupSize = groupSize;
          llvm::Expected<::lowbit::GptqResult> r = ::lowbit::gptqQuantize(
              folded.data(), rows, k, std::move(h), o);
          if (!r)
            return llvm::createStringError("GPTQ of '" + name +
                                           "': " + llvm::toString(r.takeError()));
          q.tensor = std::move(r->tensor);
          fake = std::move(r->dequantized);
        } else {
          llvm::Expected<::lowbit::AffineTensor> t =
              ::lowbit::quantizeAwq(folded.data(), rows, k, awqGrid, nullptr);
          if (!t)
            return llvm::createStringError("AWQ of '" + name +
                                           "': " + llvm::toString(t.takeError()));
          q.tensor = std::move(*t);
          ::lowbit::dequantizeAffine(q.tensor.codes.data(), q.tensor.scales.data(),
                                     q.tensor.zeros.data(), rows, k, groupSize,
                                     fake.data());
        }
        // Back to the basis of the interpreter's input; rows keep their 1/s.
        if (inputUnscaled[g])
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < k; ++c)
              fake[size_t(r * k + c)] /= s[size_t(c)];
        *w = std::move(fake);
      }
    }
    return llvm::Error::success();
  }

  /// The ggml type llama-quantize's `ftype` mix gives each decoder linear.
  llvm::Error chooseGgmlTypes(ModuleOp module) {
    llvm::Expected<::lowbit::GgufFileType> mix = ::lowbit::parseGgufFileType(ftype);
    if (!mix)
      return mix.takeError();
    if (!::lowbit::hasGgmlBlockGrid(mix->defaultType))
      return llvm::createStringError("ftype '" + ftype +
                                     "' is not a ggml block format");
    llvm::Expected<::lowbit::ModelConfig> config = ::lowbit::configFromModule(module);
    if (!config)
      return config.takeError();
    ::lowbit::ModelShape shape{config->numLayers, config->numHeads,
                               config->numKvHeads};
    for (mlir::lowbit::WeightOp op : mlir::lowbit::decoderLinearWeights(module)) {
      auto parsed = ::lowbit::parseWeightName(op.getName());
      int64_t k = cast<RankedTensorType>(op.getType()).getShape()[1];
      if (!parsed)
        return llvm::createStringError("'" + op.getName() +
                                       "' has no Llama-family role");
      llvm::Expected<::lowbit::DType> type = ::lowbit::chooseGgufType(
          *mix, parsed->role, parsed->layer, k, shape);
      if (!type)
        return type.takeError();
      ggmlTypes[op.getName()] = *type;
    }
    return llvm::Error::success();
  }

  /// Rows [begin, end) of `scaled` (a weight times s) rounded as `type` with
  /// llama.cpp's importance-weighted fit, the importance being the mean
  /// square of the scaled input x/s; rows of a float fallback type pass.
  static void fakeQuantizeGgmlRows(::lowbit::DType type, const float *scaled,
                                   int64_t begin, int64_t end, int64_t cols,
                                   ArrayRef<float> meanSquare, ArrayRef<float> s,
                                   float *out) {
    if (!::lowbit::hasGgmlBlockGrid(type)) {
      std::copy(scaled + begin * cols, scaled + end * cols, out + begin * cols);
      return;
    }
    std::vector<float> importance(size_t(cols), 1.0f);
    if (meanSquare.size() == size_t(cols))
      for (int64_t c = 0; c < cols; ++c)
        importance[size_t(c)] = meanSquare[size_t(c)] / (s[size_t(c)] * s[size_t(c)]);
    // Rows fit the type's blocks (chooseGgufType checked), so this cannot fail.
    llvm::cantFail(::lowbit::fakeQuantizeGgmlRows(type, scaled, begin, end, cols,
                                                  importance.data(), out));
  }


  static std::optional<::lowbit::WeightRole> roleOf(StringRef name) {
    auto parsed = ::lowbit::parseWeightName(name);
    if (!parsed)
      return std::nullopt;
    return parsed->role;
  }

  /// The op whose output scores a group's scales: o for q/k/v, down for
  /// gate/up; null for groups scored on their own output.
  static Operation *blockEndOf(const ::lowbit::LinearGroup &group,
                               ArrayRef<::lowbit::LinearGroup> layer) {
    ::lowbit::WeightRole endRole;
    if (llvm::any_of(group.weights, [](const std::string &n) {
          return roleOf(n) == ::lowbit::WeightRole::Query;
        }))
      endRole = ::lowbit::WeightRole::AttnOutput;
    else if (llvm::any_of(group.weights, [](const std::string &n) {
               return roleOf(n) == ::lowbit::WeightRole::Gate;
             }))
      endRole = ::lowbit::WeightRole::Down;
    else
      return nullptr;
    for (const ::lowbit::LinearGroup &other : layer)
      for (size_t j = 0; j < other.weights.size(); ++j)
        if (roleOf(other.weights[j]) == endRole)
          return other.linears[j];
    return nullptr;
  }

  static bool isQueryOrKey(StringRef name) {
    std::optional<::lowbit::WeightRole> role = roleOf(name);
    return role == ::lowbit::WeightRole::Query || role == ::lowbit::WeightRole::Key;
  }

  llvm::StringMap<QuantizedLinear> results;
  // ftype=: each linear's ggml type, and its folded float weight.
  llvm::StringMap<::lowbit::DType> ggmlTypes;
  llvm::StringMap<std::vector<float>> foldedWeights;
  llvm::StringMap<std::vector<float>> rescaled;
  // Side-file names of the rescaled norms and biases; the side file itself
  // (shared: passes are copyable).
  llvm::StringSet<> rescaledNames;
  std::shared_ptr<mlir::lowbit::ResumableSideFile> side;
};
} // namespace
