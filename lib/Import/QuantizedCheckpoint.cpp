//===- QuantizedCheckpoint.cpp - Unpack GPTQ and AWQ checkpoints ----------===//
#include "lowbit/Import/QuantizedCheckpoint.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/JsonKeys.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Progress.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace llvm;
using namespace lowbit;

namespace {
Expected<std::optional<json::Value>> readJson(StringRef path) {
  if (!sys::fs::exists(path))
    return std::nullopt;
  auto buf = readInputFile(path, /*IsText=*/true);
  if (!buf)
    return fileError(path, "cannot open: {0}", buf.getError().message());
  Expected<json::Value> root = json::parse((*buf)->getBuffer());
  if (!root)
    return fileError(path, "invalid JSON: {0}", toString(root.takeError()));
  if (!root->getAsObject())
    return fileError(path, "not a JSON object");
  return std::optional<json::Value>(std::move(*root));
}

Expected<CheckpointQuantization> parseQuantization(const json::Object &o,
                                                   StringRef file) {
  CheckpointQuantization q;
  q.configFile = file.str();
  JsonKeys keys(file, o);
  // quantize_config.json of older AutoGPTQ has no quant_method; AutoAWQ's
  // quant_config.json has w_bit and version instead.
  std::optional<StringRef> methodName;
  if (Error e = keys.string("quant_method", methodName))
    return std::move(e);
  std::string method = methodName.value_or("").lower();
  if (method.empty())
    method = o.get("w_bit") || o.get("version") || o.get("zero_point") ? "awq"
                                                                       : "gptq";
  if (method != "gptq" && method != "awq")
    return fileError(file, "quantization method '{0}' is not supported (lowbit "
                     "reads GPTQ and AWQ GEMM checkpoints)", method);
  q.method = method == "gptq" ? CheckpointQuantization::Method::Gptq
                              : CheckpointQuantization::Method::Awq;
  if (!keys.has("bits") && !keys.has("w_bit"))
    return fileError(file, "the quantization config has no 'bits'");
  int64_t bits = 0;
  if (Error e = keys.integer(keys.has("bits") ? "bits" : "w_bit", bits))
    return std::move(e);
  // Checked as read, before narrowing to int.
  if (bits < 2 || bits > 8)
    return fileError(file, "bits must be 2..8, not {0}", bits);
  q.bits = int(bits);
  if (Error e = keys.integer(keys.has("group_size") ? "group_size"
                                                    : "q_group_size",
                             q.groupSize))
    return std::move(e);
  if (q.groupSize == 0 || q.groupSize < -1)
    return fileError(file, "group_size must be positive or -1, not {0}",
                     q.groupSize);

  if (q.method == CheckpointQuantization::Method::Gptq) {
    if (q.bits != 2 && q.bits != 3 && q.bits != 4 && q.bits != 8)
      return fileError(file, "GPTQ bits must be 2, 3, 4 or 8, not {0}", q.bits);
    if (Error e = keys.boolean("sym", q.symmetric))
      return std::move(e);
    if (Error e = keys.boolean("desc_act", q.descAct))
      return std::move(e);
    std::optional<StringRef> checkpointFormat, format, pack;
    bool marlin = false;
    if (Error e = keys.string("checkpoint_format", checkpointFormat))
      return std::move(e);
    if (Error e = keys.string("format", format))
      return std::move(e);
    if (Error e = keys.boolean("is_marlin_format", marlin))
      return std::move(e);
    std::string layout = checkpointFormat.value_or(format.value_or("gptq")).lower();
    if (marlin)
      layout = "marlin";
    if (layout == "gptq")
      q.zeroFormat = GptqZeroFormat::V1;
    else if (layout == "gptq_v2")
      q.zeroFormat = GptqZeroFormat::V2;
    else
      return fileError(file, "GPTQ checkpoint_format '{0}' is not supported "
                       "(only \"gptq\" and \"gptq_v2\")", layout);
    if (Error e = keys.string("pack_dtype", pack))
      return std::move(e);
    if (pack && *pack != "int32" && *pack != "torch.int32")
      return fileError(file, "GPTQ pack_dtype '{0}' is not supported (only "
                       "int32)", *pack);
    return q;
  }

  std::optional<StringRef> versionName, format;
  if (Error e = keys.string("version", versionName))
    return std::move(e);
  if (Error e = keys.string("format", format))
    return std::move(e);
  std::string version = versionName.value_or(format.value_or("gemm")).lower();
  if (version != "gemm")
    return fileError(file, "AWQ version '{0}' is not supported (only GEMM)",
                     version);
  bool zeroPoint = true;
  if (Error e = keys.boolean("zero_point", zeroPoint))
    return std::move(e);
  if (!zeroPoint)
    return fileError(file, "AWQ without zero points (zero_point = false) is "
                     "not supported");
  if (q.bits != 4)
    return fileError(file, "AWQ GEMM checkpoints are 4-bit, but bits = {0}",
                     q.bits);
  q.symmetric = false;
  return q;
}

/// [N, K] of a linear, from the configuration.
std::pair<int64_t, int64_t> linearShape(const ModelConfig &c, WeightRole role) {
  int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  switch (role) {
  case WeightRole::Query: return {q, c.hiddenSize};
  case WeightRole::Key:
  case WeightRole::Value: return {kv, c.hiddenSize};
  case WeightRole::AttnOutput: return {c.hiddenSize, q};
  case WeightRole::Gate:
  case WeightRole::Up: return {c.intermediateSize, c.hiddenSize};
  case WeightRole::Down: return {c.hiddenSize, c.intermediateSize};
  case WeightRole::Output: return {c.vocabSize, c.hiddenSize};
  default: return {0, 0};
  }
}

/// One packed tensor of a linear, checked and copied out.
Expected<std::vector<int32_t>> readInt32(const WeightStore &weights,
                                         const std::string &name,
                                         std::vector<int64_t> shape) {
  const TensorRef *t = weights.find(name);
  if (!t)
    return createStringError("missing tensor '" + name + "'");
  if (t->dtype != DType::I32 || t->shape != shape)
    return createStringError(formatv("tensor '{0}' must be int32 of shape "
                                     "[{1}], not {2} [{3}]", name,
                     make_range(shape.begin(), shape.end()),
                     getDTypeInfo(t->dtype).name,
                     make_range(t->shape.begin(), t->shape.end())));
  std::vector<int32_t> out(size_t(t->numElements()));
  std::memcpy(out.data(), t->data, out.size() * sizeof(int32_t));
  return out;
}

Expected<std::vector<float>> readScales(const WeightStore &weights,
                                        const std::string &name,
                                        std::vector<int64_t> shape) {
  const TensorRef *t = weights.find(name);
  if (!t)
    return createStringError("missing tensor '" + name + "'");
  if (!getDTypeInfo(t->dtype).isFloat || t->shape != shape)
    return createStringError(formatv("tensor '{0}' must be a float tensor "
                                     "of shape [{1}], not {2} [{3}]", name,
                     make_range(shape.begin(), shape.end()),
                     getDTypeInfo(t->dtype).name,
                     make_range(t->shape.begin(), t->shape.end())));
  std::vector<float> out;
  if (Error e = dequantize(*t, out))
    return std::move(e);
  return out;
}

/// The GPTQ tensors of linear `prefix` ([N, K]), decoded.
Expected<AffineWeight> readGptqLinear(const WeightStore &weights,
                                      const std::string &prefix,
                                      const CheckpointQuantization &quant,
                                      int64_t n, int64_t k) {
  if (k % 32 || n % 32)
    return createStringError(formatv("GPTQ weight [{0}, {1}] (out, in) is not "
                                     "a multiple of 32 in both dimensions", n, k));
  int64_t groups = quant.groupSize < 0 ? 1 : k / quant.groupSize;
  Expected<std::vector<int32_t>> qweight =
      readInt32(weights, prefix + ".qweight", {k / 32 * quant.bits, n});
  if (!qweight)
    return qweight.takeError();
  Expected<std::vector<int32_t>> qzeros =
      readInt32(weights, prefix + ".qzeros", {groups, n / 32 * quant.bits});
  if (!qzeros)
    return qzeros.takeError();
  Expected<std::vector<float>> scales =
      readScales(weights, prefix + ".scales", {groups, n});
  if (!scales)
    return scales.takeError();
  std::vector<int32_t> gIdx; // optional: contiguous groups without it
  if (weights.find(prefix + ".g_idx")) {
    Expected<std::vector<int32_t>> g = readInt32(weights, prefix + ".g_idx", {k});
    if (!g)
      return g.takeError();
    gIdx = std::move(*g);
  }
  return decodeGptq(*qweight, *qzeros, *scales, gIdx, n, k, quant.bits,
                    quant.groupSize, quant.zeroFormat);
}

/// The AWQ GEMM tensors of linear `prefix` ([N, K]), decoded.
Expected<AffineWeight> readAwqLinear(const WeightStore &weights,
                                     const std::string &prefix,
                                     const CheckpointQuantization &quant,
                                     int64_t n, int64_t k) {
  if (n % 8)
    return createStringError(formatv("AWQ weight has {0} output channels, not "
                                     "a multiple of 8", n));
  int64_t groups = quant.groupSize < 0 ? 1 : k / quant.groupSize;
  Expected<std::vector<int32_t>> qweight =
      readInt32(weights, prefix + ".qweight", {k, n / 8});
  if (!qweight)
    return qweight.takeError();
  Expected<std::vector<int32_t>> qzeros =
      readInt32(weights, prefix + ".qzeros", {groups, n / 8});
  if (!qzeros)
    return qzeros.takeError();
  Expected<std::vector<float>> scales =
      readScales(weights, prefix + ".scales", {groups, n});
  if (!scales)
    return scales.takeError();
  return decodeAwq(*qweight, *qzeros, *scales, n, k, quant.groupSize);
}

std::vector<uint8_t> bytesOf(const void *data, size_t bytes) {
  std::vector<uint8_t> out(bytes);
  std::memcpy(out.data(), data, bytes);
  return out;
}
} // namespace

Expected<std::optional<CheckpointQuantization>>
lowbit::readCheckpointQuantization(StringRef dir) {
  SmallString<256> path(dir);
  sys::path::append(path, "config.json");
  Expected<std::optional<json::Value>> config = readJson(path);
  if (!config)
    return config.takeError();
  if (*config)
    if (const json::Object *q =
            (**config).getAsObject()->getObject("quantization_config")) {
      Expected<CheckpointQuantization> parsed = parseQuantization(*q, path);
      if (!parsed)
        return parsed.takeError();
      return std::optional<CheckpointQuantization>(*parsed);
    }
  for (const char *name : {"quantize_config.json", "quant_config.json"}) {
    SmallString<256> p(dir);
    sys::path::append(p, name);
    Expected<std::optional<json::Value>> root = readJson(p);
    if (!root)
      return root.takeError();
    if (!*root)
      continue;
    Expected<CheckpointQuantization> parsed =
        parseQuantization(*(**root).getAsObject(), p);
    if (!parsed)
      return parsed.takeError();
    return std::optional<CheckpointQuantization>(*parsed);
  }
  return std::nullopt;
}

Error lowbit::unpackQuantizedCheckpoint(const CheckpointQuantization &quant,
                                        ModelSource &src, WeightStore &weights,
                                        StringRef sideFile) {
  bool gptq = quant.method == CheckpointQuantization::Method::Gptq;
  const ModelConfig &cfg = src.config;
  std::vector<std::pair<WeightRole, int64_t>> linears;
  for (int64_t l = 0; l < cfg.numLayers; ++l)
    for (WeightRole role :
         {WeightRole::Query, WeightRole::Key, WeightRole::Value,
          WeightRole::AttnOutput, WeightRole::Gate, WeightRole::Up,
          WeightRole::Down})
      linears.push_back({role, l});
  linears.push_back({WeightRole::Output, 0}); // GPTQModel's lm_head = true

  SafetensorsWriter writer;
  Progress progress("unpack", int64_t(linears.size()));
  int64_t done = 0, unpacked = 0;
  for (auto [role, layer] : linears) {
    progress.update(++done);
    std::string name = weightName(Naming::HuggingFace, role, layer);
    std::string prefix = StringRef(name).drop_back(strlen(".weight")).str();
    if (!weights.find(prefix + ".qweight"))
      continue; // kept in float (modules_to_not_convert, dynamic, lm_head)
    auto [n, k] = linearShape(cfg, role);
    auto fail = [&](Error e) {
      return fileError(weights.fileOf(prefix + ".qweight"), "{0}: {1}", prefix,
                       toString(std::move(e)));
    };
    int64_t groupSize = quant.groupSize;
    if (groupSize > 0 && k % groupSize)
      return fail(createStringError(formatv(
          "group size {0} does not divide the input width {1} (lowbit needs "
          "whole groups)", groupSize, k)));
    int64_t groups = groupSize < 0 ? 1 : k / groupSize;
    Expected<AffineWeight> w = gptq ? readGptqLinear(weights, prefix, quant, n, k)
                                    : readAwqLinear(weights, prefix, quant, n, k);
    if (!w)
      return fail(w.takeError());
    bool actOrder = !w->gIdx.empty();
    writer.addTensor(name, DType::U8, {n, k}, std::move(w->codes));
    writer.addTensor(name + ".scales", DType::F32, {n, groups},
                     bytesOf(w->scales.data(), w->scales.size() * sizeof(float)));
    writer.addTensor(name + ".zeros", DType::F32, {n, groups},
                     bytesOf(w->zeros.data(), w->zeros.size() * sizeof(float)));
    if (actOrder)
      writer.addTensor(name + ".g_idx", DType::I32, {k},
                       bytesOf(w->gIdx.data(), w->gIdx.size() * sizeof(int32_t)));
    src.affineWeights[name] = {quant.bits, groupSize, quant.symmetric, actOrder};
    ++unpacked;
  }
  progress.finish();
  if (unpacked == 0)
    return fileError(quant.configFile, "declares a {0} checkpoint, but no "
                     "linear has a '.qweight' tensor",
                     gptq ? "GPTQ" : "AWQ");

  SmallString<256> path(sideFile);
  bool temporary = path.empty();
  if (temporary) {
    if (std::error_code ec =
            sys::fs::createTemporaryFile("lowbit-unpacked", "safetensors", path))
      return createStringError("cannot create a temporary file for the "
                               "unpacked weights: " + ec.message());
  } else {
    sys::fs::make_absolute(path);
    sys::path::remove_dots(path, /*remove_dot_dot=*/true);
  }
  Error e = writer.write(path);
  if (!e)
    e = weights.addSideFile(path);
  // The store keeps the file mapped, so a temporary can go at once.
  if (temporary)
    sys::fs::remove(path);
  if (e)
    return e;
  if (!temporary)
    src.sideFiles.push_back(std::string(path));
  return Error::success();
}
