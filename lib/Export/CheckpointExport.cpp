//===- CheckpointExport.cpp - lowbit IR -> GPTQ / AWQ directories ---------===//
#include "lowbit/Export/CheckpointExport.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Formats/GgmlQuants.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Import/TensorNames.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Float16.h"
#include "lowbit/Support/Progress.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace llvm;
using namespace lowbit;
using mlir::lowbit::QuantFormat;
using mlir::lowbit::QuantSchemeAttr;
using mlir::lowbit::QuantizedWeightType;

namespace {

bool isLinear(WeightRole role) {
  switch (role) {
  case WeightRole::Query: case WeightRole::Key: case WeightRole::Value:
  case WeightRole::AttnOutput: case WeightRole::Gate: case WeightRole::Up:
  case WeightRole::Down:
    return true;
  default:
    return false;
  }
}

/// One weight of the IR and how it is written.
struct ExportedWeight {
  std::string irName, hfName;
  WeightRole role;
  std::vector<int64_t> shape;
  QuantSchemeAttr affine; // null: written as fp16
};

/// For each row of Hugging Face's rotate-half q/k layout, the row of GGUF's
/// adjacent-pair layout holding it (formats.md §2.6).
std::vector<int64_t> rotateHalfRowSource(int64_t rows, int64_t heads) {
  int64_t d = rows / heads;
  std::vector<int64_t> src(static_cast<size_t>(rows));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < d / 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        src[h * d + j * (d / 2) + i] = h * d + 2 * i + j;
  return src;
}

template <typename T>
void permuteRows(std::vector<T> &v, ArrayRef<int64_t> rowSource) {
  int64_t rows = int64_t(rowSource.size()), width = int64_t(v.size()) / rows;
  std::vector<T> out(v.size());
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(out.data() + r * width, v.data() + rowSource[r] * width,
                sizeof(T) * width);
  v = std::move(out);
}

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

/// The shortest decimal that reads back as the same float (config.json
/// values such as rms_norm_eps = 1e-05, not 9.99999974737875e-06).
std::string shortestFloat(double v) {
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) { // rope_theta = 10000.0
    std::snprintf(buf, sizeof(buf), "%.1f", v);
    return buf;
  }
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*g", digits, v);
    if (float(std::strtod(buf, nullptr)) == float(v))
      break;
  }
  return buf;
}

bool isGgufFile(StringRef path) {
  auto head = MemoryBuffer::getFileSlice(path, 4, 0, /*IsVolatile=*/false);
  return head && (*head)->getBuffer() == "GGUF";
}

struct Exporter {
  const LoadedModel &model;
  const CheckpointExportOptions &options;
  StringRef dir;
  bool gptq;
  std::vector<ExportedWeight> weights;
  QuantSchemeAttr scheme; // the linears' common scheme
  bool descAct = false;
  bool hasOutput = false;
  bool irInterleaved = false;
  std::string tokenizer;

  Exporter(const LoadedModel &model, const CheckpointExportOptions &options,
           StringRef dir)
      : model(model), options(options), dir(dir),
        gptq(options.kind == CheckpointKind::Gptq) {}

  StringRef formatName() const { return gptq ? "GPTQ" : "AWQ"; }
  Error check();
  Error writeWeights(StringRef path);
  Error writeConfigs(StringRef tempDir);
  Error copyTokenizer(StringRef tempDir);
  void writeQuantizationConfig(json::OStream &j, bool legacyAwqKeys);
};

Error Exporter::check() {
  const ModelConfig &cfg = model.config;
  if (cfg.arch != "llama" && cfg.arch != "mistral" && cfg.arch != "qwen2")
    return fileError(dir, "cannot export architecture '{0}'", cfg.arch);
  mlir::ModuleOp module = model.module.get();
  auto tok = dyn_cast_or_null<mlir::StringAttr>(module->getAttr("lowbit.tokenizer"));
  if (!tok)
    return fileError(dir, "the module has no lowbit.tokenizer attribute");
  tokenizer = tok.getValue().str();
  if (isGgufFile(tokenizer))
    return fileError(dir, "the model's tokenizer is inside the GGUF file {0}; "
                     "a {1} checkpoint needs a SentencePiece tokenizer.model",
                     tokenizer, formatName());

  StringSet<> seen;
  Error error = Error::success();
  module.walk([&](mlir::lowbit::WeightOp op) {
    if (error || !seen.insert(op.getName()).second)
      return;
    std::string name = op.getName().str();
    std::optional<ParsedWeightName> parsed = parseWeightName(name);
    if (!parsed) {
      error = fileError(dir, "weight '{0}' is not a Llama-family tensor", name);
      return;
    }
    ExportedWeight w{name, weightName(Naming::HuggingFace, parsed->role, parsed->layer),
                     parsed->role, {}, nullptr};
    mlir::Type type = op.getResult().getType();
    if (auto q = dyn_cast<QuantizedWeightType>(type)) {
      w.shape.assign(q.getShape().begin(), q.getShape().end());
      if (q.getScheme().getFormat() == QuantFormat::Affine)
        w.affine = q.getScheme();
      else if (isLinear(parsed->role)) {
        error = fileError(dir, "weight '{0}' is {1}-encoded; a {2} checkpoint "
                          "stores affine codes (integer codes with per-group "
                          "scales and zeros, from --lowbit-rtn, --lowbit-gptq "
                          "or --lowbit-awq)", name,
                          mlir::lowbit::stringifyQuantFormat(q.getScheme().getFormat()),
                          formatName());
        return;
      }
    } else if (auto t = dyn_cast<mlir::RankedTensorType>(type)) {
      w.shape.assign(t.getShape().begin(), t.getShape().end());
    }
    if (isLinear(parsed->role) && !w.affine) {
      error = fileError(dir, "weight '{0}' is not quantized; {1} checkpoint "
                        "needs every decoder linear affine-quantized: run a "
                        "quantization pass first (lowbit-opt --lowbit-rtn, "
                        "--lowbit-gptq or --lowbit-awq)", name,
                        gptq ? "a GPTQ" : "an AWQ");
      return;
    }
    if (!isLinear(parsed->role) && w.affine) {
      error = fileError(dir, "weight '{0}' is affine-quantized, but {1} "
                        "checkpoints keep embeddings, norms and the output "
                        "head in fp16", name, formatName());
      return;
    }
    hasOutput |= parsed->role == WeightRole::Output;
    weights.push_back(std::move(w));
  });
  if (error)
    return error;
  module.walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() == "lowbit.rope")
      if (auto b = dyn_cast_or_null<mlir::BoolAttr>(op->getAttr("interleaved")))
        irInterleaved = b.getValue();
  });

  for (const ExportedWeight &w : weights) {
    if (!w.affine)
      continue;
    if (!scheme) {
      scheme = w.affine;
    } else if (w.affine.getBits() != scheme.getBits() ||
               w.affine.getGroupSize() != scheme.getGroupSize() ||
               w.affine.getSymmetric() != scheme.getSymmetric()) {
      return fileError(dir, "weight '{0}' has bits = {1}, group_size = {2}, "
                       "symmetric = {3} but an earlier linear has {4}, {5}, "
                       "{6}; a {7} checkpoint has one scheme for all linears",
                       w.irName, w.affine.getBits(), w.affine.getGroupSize(),
                       w.affine.getSymmetric(), scheme.getBits(),
                       scheme.getGroupSize(), scheme.getSymmetric(), formatName());
    }
    descAct |= w.affine.getActOrder();
    int64_t n = w.shape[0], k = w.shape[1];
    int64_t bits = w.affine.getBits(), g = w.affine.getGroupSize();
    if (g > 0 && k % g)
      return fileError(dir, "weight '{0}': group size {1} does not divide its "
                       "input width {2}", w.irName, g, k);
    if (gptq) {
      if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
        return fileError(dir, "weight '{0}' has {1}-bit codes; GPTQ "
                         "checkpoints store 2, 3, 4 or 8 bits", w.irName, bits);
      if (n % 32 || k % 32)
        return fileError(dir, "weight '{0}' is [{1}, {2}] (out, in); GPTQ "
                         "packing needs both to be multiples of 32", w.irName,
                         n, k);
    } else {
      if (bits != 4)
        return fileError(dir, "weight '{0}' has {1}-bit codes; AWQ GEMM "
                         "checkpoints store 4-bit codes only", w.irName, bits);
      if (w.affine.getActOrder())
        return fileError(dir, "weight '{0}' is act-order (GPTQ desc_act, a "
                         "g_idx column grouping); AWQ has contiguous groups "
                         "only: export it as GPTQ", w.irName);
      if (n % 8)
        return fileError(dir, "weight '{0}' has {1} output channels; AWQ GEMM "
                         "packs 8 per word", w.irName, n);
    }
  }
  if (!scheme)
    return fileError(dir, "the model has no decoder linears to export");
  return Error::success();
}

Error Exporter::writeWeights(StringRef path) {
  const ModelConfig &cfg = model.config;
  SafetensorsWriter writer;
  Progress progress(gptq ? "gptq export" : "awq export", int64_t(weights.size()),
                    options.showProgress);
  int64_t done = 0, rounded = 0, scales = 0, changedFloats = 0, floats = 0;
  for (const ExportedWeight &w : weights) {
    progress.update(++done, w.hfName);
    // q/k rows of a llama GGUF import are in adjacent-pair order; Hugging
    // Face checkpoints use rotate-half order.
    std::vector<int64_t> rowSource;
    bool isQ = w.role == WeightRole::Query || w.role == WeightRole::QueryBias;
    bool isK = w.role == WeightRole::Key || w.role == WeightRole::KeyBias;
    if (irInterleaved && (isQ || isK))
      rowSource = rotateHalfRowSource(w.shape[0], isQ ? cfg.numHeads : cfg.numKvHeads);

    if (!w.affine) {
      Expected<const TensorRef *> t = model.weights.get(w.irName);
      if (!t)
        return t.takeError();
      std::vector<float> values;
      if (Error e = dequantize(**t, values))
        return e;
      if (!rowSource.empty())
        permuteRows(values, rowSource);
      std::vector<uint16_t> half(values.size());
      for (size_t i = 0; i < values.size(); ++i) {
        half[i] = floatToFp16(values[i]);
        float back = fp16ToFloat(half[i]);
        changedFloats += back != values[i] && !std::isnan(values[i]);
      }
      floats += int64_t(values.size());
      writer.addTensor(w.hfName, DType::F16, (*t)->shape, bytesOf(half));
      continue;
    }

    Expected<AffineWeight> a = readAffineWeight(
        model.weights, w.irName, int(w.affine.getBits()),
        w.affine.getGroupSize(), w.affine.getActOrder());
    if (!a)
      return a.takeError();
    if (a->rows != w.shape[0] || a->cols != w.shape[1])
      return fileError(model.weights.fileOf(w.irName), "affine weight '{0}' "
                       "has codes [{1}, {2}] but its IR type is [{3}, {4}]",
                       w.irName, a->rows, a->cols, w.shape[0], w.shape[1]);
    if (!rowSource.empty()) {
      permuteRows(a->codes, rowSource);
      permuteRows(a->scales, rowSource);
      permuteRows(a->zeros, rowSource);
    }
    std::string prefix = StringRef(w.hfName).drop_back(strlen(".weight")).str();
    int64_t n = a->rows, k = a->cols, groups = a->groups();
    auto failed = [&](Error e) {
      return fileError(dir, "weight '{0}': {1}", w.irName, toString(std::move(e)));
    };
    if (gptq) {
      Expected<GptqTensors> t = encodeGptq(*a, options.gptqFormat);
      if (!t)
        return failed(t.takeError());
      writer.addTensor(prefix + ".qweight", DType::I32, {k / 32 * a->bits, n},
                       bytesOf(t->qweight));
      writer.addTensor(prefix + ".qzeros", DType::I32, {groups, n / 32 * a->bits},
                       bytesOf(t->qzeros));
      writer.addTensor(prefix + ".scales", DType::F16, {groups, n},
                       bytesOf(t->scales));
      writer.addTensor(prefix + ".g_idx", DType::I32, {k}, bytesOf(t->gIdx));
      rounded += t->roundedScales;
    } else {
      Expected<AwqTensors> t = encodeAwq(*a);
      if (!t)
        return failed(t.takeError());
      writer.addTensor(prefix + ".qweight", DType::I32, {k, n / 8},
                       bytesOf(t->qweight));
      writer.addTensor(prefix + ".qzeros", DType::I32, {groups, n / 8},
                       bytesOf(t->qzeros));
      writer.addTensor(prefix + ".scales", DType::F16, {groups, n},
                       bytesOf(t->scales));
      rounded += t->roundedScales;
    }
    scales += n * groups;
  }
  progress.finish();
  // Both are legitimate (the checkpoint format is fp16) but make the
  // checkpoint differ slightly from the IR, so say so.
  if (rounded && options.showProgress)
    WithColor::warning(errs(), "lowbit")
        << rounded << " of " << scales << " scales are not fp16 values and "
        << "were rounded; the checkpoint's weights differ slightly from the "
        << "IR's\n";
  if (changedFloats && options.showProgress)
    WithColor::warning(errs(), "lowbit")
        << changedFloats << " of " << floats << " values of the unquantized "
        << "tensors changed in the conversion to fp16 (out of fp16's range or "
        << "precision)\n";
  return writer.write(path);
}

void Exporter::writeQuantizationConfig(json::OStream &j, bool legacyAwqKeys) {
  int64_t bits = scheme.getBits(), g = scheme.getGroupSize();
  j.object([&] {
    if (gptq) {
      j.attribute("quant_method", "gptq");
      j.attribute("bits", bits);
      j.attribute("group_size", g);
      j.attribute("desc_act", descAct);
      j.attribute("sym", scheme.getSymmetric());
      j.attribute("static_groups", false);
      j.attribute("true_sequential", true);
      j.attribute("checkpoint_format",
                  options.gptqFormat == GptqZeroFormat::V1 ? "gptq" : "gptq_v2");
      j.attribute("pack_dtype", "int32");
      j.attribute("lm_head", false);
      j.attribute("model_name_or_path", nullptr);
      j.attribute("model_file_base_name", "model");
      j.attributeObject("meta", [&] {
        j.attributeArray("quantizer", [&] { j.value("lowbit"); });
      });
    } else if (legacyAwqKeys) { // AutoAWQ's quant_config.json
      j.attribute("zero_point", true);
      j.attribute("q_group_size", g);
      j.attribute("w_bit", bits);
      j.attribute("version", "GEMM");
      j.attribute("modules_to_not_convert", nullptr);
    } else {
      j.attribute("quant_method", "awq");
      j.attribute("zero_point", true);
      j.attribute("group_size", g);
      j.attribute("bits", bits);
      j.attribute("version", "gemm");
      j.attribute("modules_to_not_convert", nullptr);
    }
  });
}

Error Exporter::writeConfigs(StringRef tempDir) {
  const ModelConfig &cfg = model.config;
  auto writeJson = [&](StringRef name,
                       function_ref<void(json::OStream &)> body) -> Error {
    SmallString<256> p(tempDir);
    sys::path::append(p, name);
    std::error_code ec;
    raw_fd_ostream os(p, ec, sys::fs::OF_Text);
    if (ec)
      return fileError(p, "cannot create: {0}", ec.message());
    {
      json::OStream j(os, 2);
      body(j);
    }
    os << "\n";
    os.close();
    if (os.has_error())
      return fileError(p, "write failed: {0}", os.error().message());
    return Error::success();
  };
  auto raw = [](json::OStream &j, StringRef key, const std::string &text) {
    j.attributeBegin(key);
    j.rawValue(text);
    j.attributeEnd();
  };
  StringRef arch = cfg.arch == "qwen2"     ? "Qwen2ForCausalLM"
                   : cfg.arch == "mistral" ? "MistralForCausalLM"
                                           : "LlamaForCausalLM";
  if (Error e = writeJson("config.json", [&](json::OStream &j) {
        j.object([&] {
          j.attributeArray("architectures", [&] { j.value(arch); });
          j.attribute("model_type", cfg.arch);
          j.attribute("attention_bias", cfg.attentionBias);
          j.attribute("bos_token_id", cfg.bosTokenId);
          j.attribute("eos_token_id", cfg.eosTokenId);
          j.attribute("head_dim", cfg.headDim);
          j.attribute("hidden_act", "silu");
          j.attribute("hidden_size", cfg.hiddenSize);
          j.attribute("intermediate_size", cfg.intermediateSize);
          j.attribute("max_position_embeddings", cfg.contextLength);
          j.attribute("num_attention_heads", cfg.numHeads);
          j.attribute("num_hidden_layers", cfg.numLayers);
          j.attribute("num_key_value_heads", cfg.numKvHeads);
          raw(j, "rms_norm_eps", shortestFloat(cfg.rmsNormEps));
          raw(j, "rope_theta", shortestFloat(cfg.ropeTheta));
          j.attribute("tie_word_embeddings", !hasOutput);
          j.attribute("torch_dtype", "float16");
          j.attribute("use_cache", true);
          j.attribute("vocab_size", cfg.vocabSize);
          j.attributeBegin("quantization_config");
          writeQuantizationConfig(j, /*legacyAwqKeys=*/false);
          j.attributeEnd();
        });
      }))
    return e;
  return writeJson(gptq ? "quantize_config.json" : "quant_config.json",
                   [&](json::OStream &j) {
                     writeQuantizationConfig(j, /*legacyAwqKeys=*/!gptq);
                   });
}

Error Exporter::copyTokenizer(StringRef tempDir) {
  SmallString<256> to(tempDir);
  sys::path::append(to, "tokenizer.model");
  if (std::error_code ec = sys::fs::copy_file(tokenizer, to))
    return fileError(tokenizer, "cannot copy the tokenizer: {0}", ec.message());
  // The files transformers reads beside it, when the source has them.
  StringRef from = sys::path::parent_path(tokenizer);
  for (const char *name : {"tokenizer_config.json", "special_tokens_map.json",
                           "tokenizer.json", "added_tokens.json",
                           "generation_config.json"}) {
    SmallString<256> src(from), dst(tempDir);
    sys::path::append(src, name);
    sys::path::append(dst, name);
    if (!sys::fs::exists(src))
      continue;
    if (std::error_code ec = sys::fs::copy_file(src, dst))
      return fileError(src, "cannot copy: {0}", ec.message());
  }
  return Error::success();
}

} // namespace

Error lowbit::exportQuantizedCheckpoint(const LoadedModel &model, StringRef dir,
                                        const CheckpointExportOptions &options) {
  Exporter exporter(model, options, dir);
  if (Error e = exporter.check())
    return e;

  // Build beside the destination, then rename: a failed export leaves
  // nothing, and an existing non-empty directory is never touched.
  SmallString<256> target(dir);
  sys::fs::make_absolute(target);
  sys::path::remove_dots(target, /*remove_dot_dot=*/true);
  while (target.size() > 1 && sys::path::is_separator(target.back()))
    target.pop_back();
  if (sys::fs::exists(target)) {
    std::error_code ec;
    sys::fs::directory_iterator it(target, ec);
    if (!sys::fs::is_directory(target) || ec || it != sys::fs::directory_iterator())
      return fileError(dir, "already exists and is not an empty directory");
  }
  SmallString<256> temp;
  if (std::error_code ec = sys::fs::createUniqueDirectory(target + ".tmp", temp))
    return fileError(dir, "cannot create a directory beside it: {0}",
                     ec.message());
  auto build = [&]() -> Error {
    SmallString<256> weightsPath(temp);
    sys::path::append(weightsPath, "model.safetensors");
    if (Error e = exporter.writeWeights(weightsPath))
      return e;
    if (Error e = exporter.writeConfigs(temp))
      return e;
    if (Error e = exporter.copyTokenizer(temp))
      return e;
    if (std::error_code ec = sys::fs::rename(temp, target))
      return fileError(dir, "cannot move the finished checkpoint into place: "
                       "{0}", ec.message());
    return Error::success();
  };
  if (Error e = build()) {
    sys::fs::remove_directories(temp);
    return e;
  }
  return Error::success();
}
