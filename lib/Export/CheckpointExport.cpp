//===- CheckpointExport.cpp - lowbit IR -> GPTQ / AWQ directories ---------===//
#include "lowbit/Export/CheckpointExport.h"
#include "lowbit/Export/CheckpointDirectory.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Float16.h"
#include "lowbit/Support/Progress.h"

#include "llvm/Support/JSON.h"
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

namespace {

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

struct Exporter {
  const LoadedModel &model;
  const CheckpointExportOptions &options;
  StringRef dir;
  bool gptq;
  std::vector<CheckpointWeight> weights;
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
  void writeQuantizationConfig(json::OStream &j, bool legacyAwqKeys);
};

Error Exporter::check() {
  Expected<std::string> tok = checkpointTokenizer(model, dir, formatName());
  if (!tok)
    return tok.takeError();
  tokenizer = std::move(*tok);
  mlir::ModuleOp module = model.module.get();

  auto add = [&](CheckpointWeight w) -> Error {
    bool linear = isDecoderLinear(w.role);
    if (w.scheme && w.scheme.getFormat() != QuantFormat::Affine) {
      if (linear)
        return fileError(dir, "weight '{0}' is {1}-encoded; a {2} checkpoint "
                         "stores affine codes (integer codes with per-group "
                         "scales and zeros, from --lowbit-rtn, --lowbit-gptq "
                         "or --lowbit-awq)", w.irName,
                         mlir::lowbit::stringifyQuantFormat(w.scheme.getFormat()),
                         formatName());
      w.scheme = nullptr; // any other encoding is written as fp16
    }
    if (linear && !w.scheme)
      return fileError(dir, "weight '{0}' is not quantized; {1} checkpoint "
                       "needs every decoder linear affine-quantized: run a "
                       "quantization pass first (lowbit-opt --lowbit-rtn, "
                       "--lowbit-gptq or --lowbit-awq)", w.irName,
                       gptq ? "a GPTQ" : "an AWQ");
    if (!linear && w.scheme)
      return fileError(dir, "weight '{0}' is affine-quantized, but {1} "
                       "checkpoints keep embeddings, norms and the output "
                       "head in fp16", w.irName, formatName());
    hasOutput |= w.role == WeightRole::Output;
    weights.push_back(std::move(w));
    return Error::success();
  };
  if (Error e = forEachCheckpointWeight(module, dir, add))
    return e;
  irInterleaved = hasInterleavedRope(module);

  for (const CheckpointWeight &w : weights) {
    if (!w.scheme)
      continue;
    if (!scheme) {
      scheme = w.scheme;
    } else if (w.scheme.getBits() != scheme.getBits() ||
               w.scheme.getGroupSize() != scheme.getGroupSize() ||
               w.scheme.getSymmetric() != scheme.getSymmetric()) {
      return fileError(dir, "weight '{0}' has bits = {1}, group_size = {2}, "
                       "symmetric = {3} but an earlier linear has {4}, {5}, "
                       "{6}; a {7} checkpoint has one scheme for all linears",
                       w.irName, w.scheme.getBits(), w.scheme.getGroupSize(),
                       w.scheme.getSymmetric(), scheme.getBits(),
                       scheme.getGroupSize(), scheme.getSymmetric(), formatName());
    }
    descAct |= w.scheme.getActOrder();
    int64_t n = w.shape[0], k = w.shape[1];
    int64_t bits = w.scheme.getBits(), g = w.scheme.getGroupSize();
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
      if (w.scheme.getActOrder())
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
  SafetensorsWriter writer;
  Progress progress(gptq ? "gptq export" : "awq export", int64_t(weights.size()),
                    options.showProgress);
  int64_t done = 0, rounded = 0, scales = 0, changedFloats = 0, floats = 0;
  for (const CheckpointWeight &w : weights) {
    progress.update(++done, w.hfName);
    std::vector<int64_t> rowSource =
        huggingFaceRowSource(model.config, w.role, w.shape[0], irInterleaved);

    if (!w.scheme) {
      Expected<const TensorRef *> t = model.weights.get(w.irName);
      if (!t)
        return t.takeError();
      std::vector<float> values;
      if (Error e = dequantize(**t, values))
        return e;
      if (Error e = checkFinite(w.irName, values.data(), int64_t(values.size()),
                                (*t)->shape.back()))
        return fileError(model.weights.fileOf(w.irName), "{0}",
                         toString(std::move(e)));
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
        model.weights, w.irName, int(w.scheme.getBits()),
        w.scheme.getGroupSize(), w.scheme.getActOrder());
    if (!a)
      return a.takeError();
    if (a->rows != w.shape[0] || a->cols != w.shape[1])
      return fileError(model.weights.fileOf(w.irName), "affine weight '{0}' "
                       "has codes [{1}, {2}] but its IR type is [{3}, {4}]",
                       w.irName, a->rows, a->cols, w.shape[0], w.shape[1]);
    permuteRows(a->codes, rowSource);
    permuteRows(a->scales, rowSource);
    permuteRows(a->zeros, rowSource);
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
  auto config = [&](json::OStream &j) {
    j.object([&] {
      writeModelConfigKeys(j, model.config, /*tieWordEmbeddings=*/!hasOutput,
                           "float16", shortestFloat);
      j.attributeBegin("quantization_config");
      writeQuantizationConfig(j, /*legacyAwqKeys=*/false);
      j.attributeEnd();
    });
  };
  if (Error e = writeJsonFile(tempDir, "config.json", config))
    return e;
  StringRef name = gptq ? "quantize_config.json" : "quant_config.json";
  return writeJsonFile(tempDir, name, [&](json::OStream &j) {
    writeQuantizationConfig(j, /*legacyAwqKeys=*/!gptq);
  });
}

} // namespace

Error lowbit::exportQuantizedCheckpoint(const LoadedModel &model, StringRef dir,
                                        const CheckpointExportOptions &options) {
  Exporter exporter(model, options, dir);
  if (Error e = exporter.check())
    return e;
  return writeCheckpointDirectory(
      dir, exporter.tokenizer,
      [&](StringRef path) { return exporter.writeWeights(path); },
      [&](StringRef temp) { return exporter.writeConfigs(temp); });
}
