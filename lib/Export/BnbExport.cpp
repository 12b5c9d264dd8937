//===- BnbExport.cpp - lowbit IR -> bitsandbytes directories --------------===//
#include "lowbit/Export/BnbExport.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Formats/GgmlQuants.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Import/TensorNames.h"
#include "lowbit/Quant/Bnb.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Float16.h"
#include "lowbit/Support/Progress.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

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

bool isBnb4Bit(QuantFormat f) {
  return f == QuantFormat::NF4 || f == QuantFormat::FP4;
}

bool isFloat(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

/// torch's dtype names, as quant_state and config.json spell them.
StringRef torchName(DType t) {
  return t == DType::F32 ? "float32" : t == DType::F16 ? "float16" : "bfloat16";
}

/// One weight of the IR and how it is written.
struct ExportedWeight {
  std::string irName, hfName;
  WeightRole role;
  std::vector<int64_t> shape;
  QuantSchemeAttr scheme; // null: a float tensor
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

/// Reorders the rows of a row-major buffer of `rowSource.size()` rows.
template <typename T>
void permuteRows(std::vector<T> &v, ArrayRef<int64_t> rowSource) {
  if (rowSource.empty())
    return;
  size_t width = v.size() / rowSource.size();
  std::vector<T> out(v.size());
  for (size_t r = 0; r < rowSource.size(); ++r)
    std::memcpy(out.data() + r * width, v.data() + rowSource[r] * width,
                sizeof(T) * width);
  v = std::move(out);
}

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

/// The shortest decimal that reads back as the same float, in Python's
/// spelling (1e-05, 10000.0), as transformers writes config values.
std::string pythonFloat(double v) {
  float f = float(v);
  char buf[64];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(buf, sizeof(buf), "%.*g", digits, double(f));
    if (float(std::strtod(buf, nullptr)) == f)
      break;
  }
  return pythonFloatRepr(std::strtod(buf, nullptr));
}

bool isGgufFile(StringRef path) {
  auto head = MemoryBuffer::getFileSlice(path, 4, 0, /*IsVolatile=*/false);
  return head && (*head)->getBuffer() == "GGUF";
}

struct Exporter {
  const LoadedModel &model;
  const BnbExportOptions &options;
  StringRef dir;
  std::vector<ExportedWeight> weights;
  bool fourBit = false, int8 = false;
  Bnb4BitType type = Bnb4BitType::NF4;
  std::optional<bool> doubleQuant; // known once the first weight is read
  double threshold = 6.0;          // LLM.int8()'s outlier threshold
  DType dtype = DType::F16;        // the model's float type
  bool hasOutput = false;
  bool irInterleaved = false;
  std::string tokenizer;

  Exporter(const LoadedModel &model, const BnbExportOptions &options,
           StringRef dir)
      : model(model), options(options), dir(dir) {}

  Error check();
  Error writeWeights(StringRef path);
  Error writeConfig(StringRef tempDir);
  Error copyTokenizer(StringRef tempDir);
  Error addFloat(SafetensorsWriter &writer, const ExportedWeight &w,
                 ArrayRef<int64_t> rowSource);
  Error add4Bit(SafetensorsWriter &writer, const ExportedWeight &w,
                ArrayRef<int64_t> rowSource);
  Error addInt8(SafetensorsWriter &writer, const ExportedWeight &w,
                ArrayRef<int64_t> rowSource);
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
                     "a bitsandbytes checkpoint needs a SentencePiece "
                     "tokenizer.model", tokenizer);

  StringSet<> seen;
  std::string floatLinear, fourBitLinear, int8Linear, embedding;
  Error error = Error::success();
  module.walk([&](mlir::lowbit::WeightOp op) {
    if (error || !seen.insert(op.getName()).second)
      return;
    std::string name = op.getName().str();
    std::optional<ParsedWeightName> parsed = parseWeightName(name);
    // LLM.int8()'s calibrated outlier columns: bitsandbytes finds outliers
    // at run time, its checkpoints store only CB and SCB.
    if (!parsed && StringRef(name).ends_with(".outliers"))
      return;
    if (!parsed) {
      error = fileError(dir, "weight '{0}' is not a Llama-family tensor", name);
      return;
    }
    ExportedWeight w{name, weightName(Naming::HuggingFace, parsed->role, parsed->layer),
                     parsed->role, {}, nullptr};
    mlir::Type t = op.getResult().getType();
    if (auto q = dyn_cast<QuantizedWeightType>(t)) {
      w.shape.assign(q.getShape().begin(), q.getShape().end());
      w.scheme = q.getScheme();
      QuantFormat f = w.scheme.getFormat();
      if (!isLinear(parsed->role)) {
        error = fileError(dir, "weight '{0}' is {1}-encoded, but bitsandbytes "
                          "checkpoints keep embeddings, norms and the output "
                          "head in float", name,
                          mlir::lowbit::stringifyQuantFormat(f));
        return;
      }
      if (isBnb4Bit(f)) {
        if (fourBitLinear.empty()) {
          fourBitLinear = name;
          type = f == QuantFormat::NF4 ? Bnb4BitType::NF4 : Bnb4BitType::FP4;
        } else if ((f == QuantFormat::NF4) != (type == Bnb4BitType::NF4)) {
          error = fileError(dir, "weight '{0}' is {1} but '{2}' is {3}; a "
                            "bitsandbytes checkpoint has one 4-bit type",
                            name, mlir::lowbit::stringifyQuantFormat(f),
                            fourBitLinear, bnb4BitTypeName(type));
          return;
        }
      } else if (f == QuantFormat::Int8Row) {
        if (int8Linear.empty())
          int8Linear = name;
      } else {
        error = fileError(dir, "weight '{0}' is {1}-encoded; a bitsandbytes "
                          "checkpoint stores nf4/fp4 (--lowbit-bnb-4bit) or "
                          "LLM.int8() (--lowbit-llm-int8) linears", name,
                          mlir::lowbit::stringifyQuantFormat(f));
        return;
      }
    } else if (auto r = dyn_cast<mlir::RankedTensorType>(t)) {
      w.shape.assign(r.getShape().begin(), r.getShape().end());
      if (isLinear(parsed->role) && floatLinear.empty())
        floatLinear = name;
    }
    if (parsed->role == WeightRole::Embedding)
      embedding = name;
    hasOutput |= parsed->role == WeightRole::Output;
    weights.push_back(std::move(w));
  });
  if (error)
    return error;
  fourBit = !fourBitLinear.empty();
  int8 = !int8Linear.empty();
  if (!fourBit && !int8)
    return fileError(dir, "the model's decoder linears are not quantized; a "
                     "bitsandbytes checkpoint stores nf4/fp4 or LLM.int8() "
                     "weights: run lowbit-opt --lowbit-bnb-4bit or "
                     "--lowbit-llm-int8 first");
  if (fourBit && int8)
    return fileError(dir, "the model mixes 4-bit ('{0}') and LLM.int8() "
                     "('{1}') linears; transformers loads a bitsandbytes "
                     "checkpoint either in 4-bit or in 8-bit", fourBitLinear,
                     int8Linear);
  if (!floatLinear.empty())
    return fileError(dir, "weight '{0}' is not quantized; a bitsandbytes "
                     "checkpoint needs every decoder linear {1}", floatLinear,
                     fourBit ? "in 4-bit (--lowbit-bnb-4bit)"
                             : "in LLM.int8() (--lowbit-llm-int8)");
  if (int8)
    if (auto t = module->getAttrOfType<mlir::FloatAttr>("lowbit.llm_int8_threshold"))
      threshold = t.getValueAsDouble();

  // The model's float type: the embedding's, as transformers' torch_dtype.
  if (const TensorRef *e = embedding.empty() ? nullptr : model.weights.find(embedding))
    if (isFloat(e->dtype))
      dtype = e->dtype;
  module.walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() == "lowbit.rope")
      if (auto b = dyn_cast_or_null<mlir::BoolAttr>(op->getAttr("interleaved")))
        irInterleaved = b.getValue();
  });
  return Error::success();
}

Error Exporter::addFloat(SafetensorsWriter &writer, const ExportedWeight &w,
                         ArrayRef<int64_t> rowSource) {
  Expected<const TensorRef *> t = model.weights.get(w.irName);
  if (!t)
    return t.takeError();
  const TensorRef &stored = **t;
  if (isFloat(stored.dtype)) {
    // Kept in its own type, byte for byte.
    std::vector<uint8_t> bytes(stored.data, stored.data + stored.bytes);
    permuteRows(bytes, rowSource);
    writer.addTensor(w.hfName, stored.dtype, stored.shape, std::move(bytes));
    return Error::success();
  }
  std::vector<float> values;
  if (Error e = dequantize(stored, values))
    return e;
  permuteRows(values, rowSource);
  if (dtype == DType::F32) {
    writer.addTensor(w.hfName, DType::F32, stored.shape, bytesOf(values));
    return Error::success();
  }
  std::vector<uint16_t> half(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    half[i] = dtype == DType::F16 ? floatToFp16(values[i]) : floatToBf16(values[i]);
  writer.addTensor(w.hfName, dtype, stored.shape, bytesOf(half));
  return Error::success();
}

Error Exporter::add4Bit(SafetensorsWriter &writer, const ExportedWeight &w,
                        ArrayRef<int64_t> rowSource) {
  int64_t n = w.shape[0], k = w.shape[1];
  Expected<Bnb4BitWeight> read = readBnb4BitWeight(
      model.weights, w.irName, type, w.scheme.getGroupSize(), n, k);
  if (!read)
    return read.takeError();
  Bnb4BitWeight &q = *read;
  if (!doubleQuant)
    doubleQuant = q.doubleQuant;
  else if (*doubleQuant != q.doubleQuant)
    return fileError(dir, "weight '{0}' is {1}double-quantized but earlier "
                     "linears are {2}; bnb_4bit_use_double_quant is one "
                     "setting for the whole checkpoint", w.irName,
                     q.doubleQuant ? "" : "not ", *doubleQuant ? "" : "not");
  if (!rowSource.empty()) {
    // Blocks divide the row width, so whole rows of codes and absmax move;
    // nested blocks of 256 absmax values would be regrouped.
    if (q.doubleQuant)
      return fileError(dir, "weight '{0}' has q/k rows in llama.cpp's order "
                       "(a GGUF import) and double-quantized absmax values, "
                       "which cannot be reordered into Hugging Face's order: "
                       "quantize without double-quant or start from the "
                       "Hugging Face model", w.irName);
    permuteRows(q.packed, rowSource);
    permuteRows(q.absmax, rowSource);
  }
  StringRef prefix = StringRef(w.hfName).drop_back(strlen(".weight"));
  std::string p = (prefix + ".weight").str();
  writer.addTensor(p, DType::U8, {q.packedBytes(), 1}, q.packed);
  if (q.doubleQuant) {
    writer.addTensor(p + ".absmax", DType::U8, {q.numBlocks()}, q.absmaxCodes);
    writer.addTensor(p + ".nested_absmax", DType::F32, {q.numNestedBlocks()},
                     bytesOf(q.nestedAbsmax));
    ArrayRef<float> map = bnbDynamicMap();
    writer.addTensor(p + ".nested_quant_map", DType::F32, {int64_t(map.size())},
                     bytesOf(std::vector<float>(map.begin(), map.end())));
  } else {
    writer.addTensor(p + ".absmax", DType::F32, {q.numBlocks()}, bytesOf(q.absmax));
  }
  ArrayRef<float> code = bnb4BitCodebook(type);
  writer.addTensor(p + ".quant_map", DType::F32, {int64_t(code.size())},
                   bytesOf(std::vector<float>(code.begin(), code.end())));
  std::string json = bnbQuantStateJson(q, torchName(dtype));
  writer.addTensor(p + ".quant_state.bitsandbytes__" + bnb4BitTypeName(type).str(),
                   DType::U8, {int64_t(json.size())},
                   std::vector<uint8_t>(json.begin(), json.end()));
  return Error::success();
}

Error Exporter::addInt8(SafetensorsWriter &writer, const ExportedWeight &w,
                        ArrayRef<int64_t> rowSource) {
  int64_t n = w.shape[0], k = w.shape[1];
  const TensorRef *cb = model.weights.find(w.irName);
  const TensorRef *scb = model.weights.find(w.irName + ".scb");
  if (!cb || cb->dtype != DType::I8 || cb->shape != std::vector<int64_t>{n, k} ||
      !scb || scb->dtype != DType::F32 || scb->shape != std::vector<int64_t>{n})
    return fileError(dir, "int8_row weight '{0}' needs an i8 [{1}, {2}] tensor "
                     "'{0}' and an f32 [{1}] tensor '{0}.scb' in the weight "
                     "store", w.irName, n, k);
  std::vector<int8_t> codes(size_t(n * k));
  std::memcpy(codes.data(), cb->data, codes.size());
  std::vector<float> scales(static_cast<size_t>(n));
  std::memcpy(scales.data(), scb->data, scales.size() * sizeof(float));
  permuteRows(codes, rowSource);
  permuteRows(scales, rowSource);
  StringRef prefix = StringRef(w.hfName).drop_back(strlen(".weight"));
  writer.addTensor(w.hfName, DType::I8, {n, k}, bytesOf(codes));
  writer.addTensor((prefix + ".SCB").str(), DType::F32, {n}, bytesOf(scales));
  // Linear8bitLt's layout marker: 0 = row-major.
  writer.addTensor((prefix + ".weight_format").str(), DType::U8, {}, {0});
  return Error::success();
}

Error Exporter::writeWeights(StringRef path) {
  const ModelConfig &cfg = model.config;
  SafetensorsWriter writer;
  Progress progress("bnb export", int64_t(weights.size()), options.showProgress);
  int64_t done = 0;
  for (const ExportedWeight &w : weights) {
    progress.update(++done, w.hfName);
    // q/k rows of a llama GGUF import are in adjacent-pair order; Hugging
    // Face checkpoints use rotate-half order.
    std::vector<int64_t> rowSource;
    bool isQ = w.role == WeightRole::Query || w.role == WeightRole::QueryBias;
    bool isK = w.role == WeightRole::Key || w.role == WeightRole::KeyBias;
    if (irInterleaved && (isQ || isK))
      rowSource = rotateHalfRowSource(w.shape[0], isQ ? cfg.numHeads : cfg.numKvHeads);
    Error e = !w.scheme ? addFloat(writer, w, rowSource)
              : isBnb4Bit(w.scheme.getFormat()) ? add4Bit(writer, w, rowSource)
                                                : addInt8(writer, w, rowSource);
    if (e)
      return e;
  }
  progress.finish();
  return writer.write(path);
}

Error Exporter::writeConfig(StringRef tempDir) {
  const ModelConfig &cfg = model.config;
  SmallString<256> p(tempDir);
  sys::path::append(p, "config.json");
  std::error_code ec;
  raw_fd_ostream os(p, ec, sys::fs::OF_Text);
  if (ec)
    return fileError(p, "cannot create: {0}", ec.message());
  auto raw = [](json::OStream &j, StringRef key, const std::string &text) {
    j.attributeBegin(key);
    j.rawValue(text);
    j.attributeEnd();
  };
  StringRef arch = cfg.arch == "qwen2"     ? "Qwen2ForCausalLM"
                   : cfg.arch == "mistral" ? "MistralForCausalLM"
                                           : "LlamaForCausalLM";
  {
    json::OStream j(os, 2);
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
      raw(j, "rms_norm_eps", pythonFloat(cfg.rmsNormEps));
      raw(j, "rope_theta", pythonFloat(cfg.ropeTheta));
      j.attribute("tie_word_embeddings", !hasOutput);
      j.attribute("torch_dtype", torchName(dtype));
      j.attribute("use_cache", true);
      j.attribute("vocab_size", cfg.vocabSize);
      // BitsAndBytesConfig.to_dict(), keys sorted as transformers writes
      // config.json.
      j.attributeObject("quantization_config", [&] {
        j.attribute("_load_in_4bit", fourBit);
        j.attribute("_load_in_8bit", int8);
        j.attribute("bnb_4bit_compute_dtype", fourBit ? torchName(dtype) : "float32");
        j.attribute("bnb_4bit_quant_storage", "uint8");
        j.attribute("bnb_4bit_quant_type", fourBit ? bnb4BitTypeName(type) : "fp4");
        j.attribute("bnb_4bit_use_double_quant", doubleQuant.value_or(false));
        j.attribute("llm_int8_enable_fp32_cpu_offload", false);
        j.attribute("llm_int8_has_fp16_weight", false);
        j.attribute("llm_int8_skip_modules", nullptr);
        raw(j, "llm_int8_threshold", pythonFloat(threshold));
        j.attribute("load_in_4bit", fourBit);
        j.attribute("load_in_8bit", int8);
        j.attribute("quant_method", "bitsandbytes");
      });
    });
  }
  os << "\n";
  os.close();
  if (os.has_error())
    return fileError(p, "write failed: {0}", os.error().message());
  return Error::success();
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

Error lowbit::exportBnbCheckpoint(const LoadedModel &model, StringRef dir,
                                  const BnbExportOptions &options) {
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
    if (Error e = exporter.writeConfig(temp))
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
