//===- BnbExport.cpp - lowbit IR -> bitsandbytes directories --------------===//
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Export/BnbExport.h"
#include "lowbit/Export/CheckpointDirectory.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Quant/Bnb.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Float16.h"
#include "lowbit/Support/Progress.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace llvm;
using namespace lowbit;
using mlir::lowbit::QuantFormat;

namespace {

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

struct Exporter {
  const LoadedModel &model;
  const BnbExportOptions &options;
  StringRef dir;
  std::vector<CheckpointWeight> weights;
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
  Error addFloat(SafetensorsWriter &writer, const CheckpointWeight &w,
                 ArrayRef<int64_t> rowSource);
  Error add4Bit(SafetensorsWriter &writer, const CheckpointWeight &w,
                ArrayRef<int64_t> rowSource);
  Error addInt8(SafetensorsWriter &writer, const CheckpointWeight &w,
                ArrayRef<int64_t> rowSource);
};

Error Exporter::check() {
  Expected<std::string> tok = checkpointTokenizer(model, dir, "bitsandbytes");
  if (!tok)
    return tok.takeError();
  tokenizer = std::move(*tok);
  mlir::ModuleOp module = model.module.get();

  std::string floatLinear, fourBitLinear, int8Linear, embedding;
  auto add = [&](CheckpointWeight w) -> Error {
    if (w.scheme) {
      QuantFormat f = w.scheme.getFormat();
      if (!isDecoderLinear(w.role))
        return fileError(dir, "weight '{0}' is {1}-encoded, but bitsandbytes "
                         "checkpoints keep embeddings, norms and the output "
                         "head in float", w.irName,
                         mlir::lowbit::stringifyQuantFormat(f));
      if (isBnb4Bit(f)) {
        if (fourBitLinear.empty()) {
          fourBitLinear = w.irName;
          type = f == QuantFormat::NF4 ? Bnb4BitType::NF4 : Bnb4BitType::FP4;
        } else if ((f == QuantFormat::NF4) != (type == Bnb4BitType::NF4)) {
          return fileError(dir, "weight '{0}' is {1} but '{2}' is {3}; a "
                           "bitsandbytes checkpoint has one 4-bit type",
                           w.irName, mlir::lowbit::stringifyQuantFormat(f),
                           fourBitLinear, bnb4BitTypeName(type));
        }
      } else if (f == QuantFormat::Int8Row) {
        if (int8Linear.empty())
          int8Linear = w.irName;
      } else {
        return fileError(dir, "weight '{0}' is {1}-encoded; a bitsandbytes "
                         "checkpoint stores nf4/fp4 (--lowbit-bnb-4bit) or "
                         "LLM.int8() (--lowbit-llm-int8) linears", w.irName,
                         mlir::lowbit::stringifyQuantFormat(f));
      }
    } else if (isDecoderLinear(w.role) && floatLinear.empty()) {
      floatLinear = w.irName;
    }
    if (w.role == WeightRole::Embedding)
      embedding = w.irName;
    hasOutput |= w.role == WeightRole::Output;
    weights.push_back(std::move(w));
    return Error::success();
  };
  // LLM.int8()'s calibrated outlier columns: bitsandbytes finds outliers at
  // run time, its checkpoints store only CB and SCB.
  auto isOutliers = [](StringRef name) { return name.ends_with(".outliers"); };
  if (Error e = forEachCheckpointWeight(module, dir, add, isOutliers))
    return e;
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
  irInterleaved = hasInterleavedRope(module);
  return Error::success();
}

Error Exporter::addFloat(SafetensorsWriter &writer, const CheckpointWeight &w,
                         ArrayRef<int64_t> rowSource) {
  Expected<const TensorRef *> t = model.weights.get(w.irName);
  if (!t)
    return t.takeError();
  const TensorRef &stored = **t;
  std::vector<float> values;
  if (Error e = dequantize(stored, values))
    return e;
  if (Error e = checkFinite(w.irName, values.data(), int64_t(values.size()),
                            stored.shape.empty() ? 1 : stored.shape.back()))
    return fileError(model.weights.fileOf(w.irName), "{0}",
                     toString(std::move(e)));
  if (isFloat(stored.dtype)) {
    // Kept in its own type, byte for byte.
    std::vector<uint8_t> bytes(stored.data, stored.data + stored.bytes);
    permuteRows(bytes, rowSource);
    writer.addTensor(w.hfName, stored.dtype, stored.shape, std::move(bytes));
    return Error::success();
  }
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

Error Exporter::add4Bit(SafetensorsWriter &writer, const CheckpointWeight &w,
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
    writer.addTensor(companionName(p, Companion::Absmax), DType::U8, {q.numBlocks()}, q.absmaxCodes);
    writer.addTensor(companionName(p, Companion::NestedAbsmax), DType::F32, {q.numNestedBlocks()},
                     bytesOf(q.nestedAbsmax));
    ArrayRef<float> map = bnbDynamicMap();
    writer.addTensor(p + ".nested_quant_map", DType::F32, {int64_t(map.size())},
                     bytesOf(std::vector<float>(map.begin(), map.end())));
  } else {
    writer.addTensor(companionName(p, Companion::Absmax), DType::F32, {q.numBlocks()}, bytesOf(q.absmax));
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

Error Exporter::addInt8(SafetensorsWriter &writer, const CheckpointWeight &w,
                        ArrayRef<int64_t> rowSource) {
  int64_t n = w.shape[0], k = w.shape[1];
  const TensorRef *cb = model.weights.find(w.irName);
  const TensorRef *scb = model.weights.find(companionName(w.irName, Companion::RowScales));
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
  SafetensorsWriter writer;
  Progress progress("bnb export", int64_t(weights.size()), options.showProgress);
  int64_t done = 0;
  for (const CheckpointWeight &w : weights) {
    progress.update(++done, w.hfName);
    std::vector<int64_t> rowSource =
        huggingFaceRowSource(model.config, w.role, w.shape[0], irInterleaved);
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
  return writeJsonFile(tempDir, "config.json", [&](json::OStream &j) {
    j.object([&] {
      writeModelConfigKeys(j, model.config, /*tieWordEmbeddings=*/!hasOutput,
                           torchName(dtype), pythonFloat);
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
        writeRawAttribute(j, "llm_int8_threshold", pythonFloat(threshold));
        j.attribute("load_in_4bit", fourBit);
        j.attribute("load_in_8bit", int8);
        j.attribute("quant_method", "bitsandbytes");
      });
    });
  });
}

} // namespace

Error lowbit::exportBnbCheckpoint(const LoadedModel &model, StringRef dir,
                                  const BnbExportOptions &options) {
  Exporter exporter(model, options, dir);
  if (Error e = exporter.check())
    return e;
  return writeCheckpointDirectory(
      dir, exporter.tokenizer,
      [&](StringRef path) { return exporter.writeWeights(path); },
      [&](StringRef temp) { return exporter.writeConfig(temp); });
}
