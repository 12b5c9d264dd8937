//===- MakeSeeds.cpp - Small fuzz seeds from real files -------------------===//
//
//   lowbit-fuzz-seeds KIND OUTDIR INPUT...
//
// libFuzzer mutates small inputs best, so each kind keeps the structure of
// real files (every key, tensor name, type and layout) and drops the bulk
// (rows of tensors, most layers, long arrays). fuzz/make-corpus.sh runs it on
// the repository's model and on what build/bin makes from it.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "lowbit/Calibration/Statistics.h"
#include "lowbit/Formats/AffinePacking.h"
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Quant/Bnb.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Quant/ImportanceMatrix.h"
#include "lowbit/Runtime/ArtifactFormat.h"
#include "lowbit/Runtime/ArtifactWriter.h"

#include "artifact.pb.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace llvm;
using namespace lowbit;

namespace {

[[noreturn]] void die(const Twine &message) {
  errs() << "lowbit-fuzz-seeds: " << message << "\n";
  std::exit(1);
}

template <typename T> T check(Expected<T> value) {
  if (!value)
    die(toString(value.takeError()));
  return std::move(*value);
}

void check(Error e) {
  if (e)
    die(toString(std::move(e)));
}

void writeFile(StringRef dir, StringRef name, StringRef bytes) {
  SmallString<256> p(dir);
  sys::path::append(p, name);
  std::error_code ec;
  raw_fd_ostream os(p, ec);
  if (ec)
    die(p + ": " + ec.message());
  os << bytes;
}

std::string readFile(StringRef path) {
  auto buf = MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buf)
    die(path + ": " + buf.getError().message());
  return (*buf)->getBuffer().str();
}

/// A file's name without extension, prefixed by its directory's when the
/// name alone is the conventional one ("gptq-w4-model").
std::string stem(StringRef path) {
  StringRef s = sys::path::stem(path);
  if (s == "model" || s == "config")
    return (sys::path::filename(sys::path::parent_path(path)) + "-" + s).str();
  return s.str();
}

/// The safetensors bytes `writer` writes.
std::string serialize(const SafetensorsWriter &writer, StringRef outDir) {
  SmallString<256> tmp(outDir);
  sys::path::append(tmp, "tmp-seed.safetensors");
  check(writer.write(tmp));
  std::string bytes = readFile(tmp);
  sys::fs::remove(tmp);
  return bytes;
}

/// The leading [rows, cols] block of a row-major matrix of `elemBytes`
/// elements with `fullCols` columns.
std::vector<uint8_t> cropRows(const uint8_t *data, int64_t fullCols,
                              int64_t rows, int64_t cols, int64_t elemBytes) {
  std::vector<uint8_t> out;
  out.reserve(size_t(rows * cols * elemBytes));
  for (int64_t r = 0; r < rows; ++r)
    out.insert(out.end(), data + r * fullCols * elemBytes,
               data + (r * fullCols + cols) * elemBytes);
  return out;
}

/// A scalar tensor's leading block: at most `maxRows` rows (everything but
/// the last dimension flattened) of at most `maxCols` values.
void addCropped(SafetensorsWriter &w, const TensorRef &t, int64_t maxRows,
                int64_t maxCols) {
  int64_t cols = t.shape.empty() ? 1 : t.shape.back();
  int64_t rows = cols ? t.numElements() / cols : 0;
  int64_t keepCols = std::min(cols, maxCols), keepRows = std::min(rows, maxRows);
  std::vector<int64_t> shape = t.shape;
  if (!shape.empty())
    shape.back() = keepCols;
  // Leading dimensions collapse to the rows kept (all ones but the first).
  for (size_t i = 0; i + 1 < shape.size(); ++i)
    shape[i] = i == 0 ? keepRows : 1;
  if (shape.size() < 2 && keepRows != rows)
    return;
  w.addTensor(t.name, t.dtype, shape,
              cropRows(t.data, cols, keepRows, keepCols,
                       getDTypeInfo(t.dtype).blockBytes));
}

std::vector<float> toFloats(const TensorRef &t, size_t count) {
  std::vector<float> all;
  check(dequantize(t, all));
  all.resize(std::min(all.size(), count));
  return all;
}

//===----------------------------------------------------------------------===//
// Kinds
//===----------------------------------------------------------------------===//

void safetensorsSeeds(StringRef out, ArrayRef<std::string> inputs) {
  for (const std::string &in : inputs) {
    auto file = check(SafetensorsFile::open(in));
    SafetensorsWriter all, few;
    for (const auto &[k, v] : file->metadata()) {
      all.setMetadata(k, v);
      few.setMetadata(k, v);
    }
    for (const TensorRef &t : file->tensors())
      addCropped(all, t, 2, 16);
    for (const TensorRef &t : file->tensors().take_front(3))
      addCropped(few, t, 4, 32);
    writeFile(out, stem(in) + ".safetensors", serialize(all, out));
    writeFile(out, stem(in) + "-3.safetensors", serialize(few, out));
  }
}

/// Every GGUF with its metadata arrays cut to 64 elements, the first one also
/// whole (the vocabulary arrays dominate the parse time of a seed).
void ggufSeeds(StringRef out, ArrayRef<std::string> inputs) {
  for (const std::string &in : inputs) {
    auto file = check(GgufFile::open(in));
    for (bool smallVocab : {false, true}) {
      if (!smallVocab && &in != &inputs.front())
        continue;
      GgufWriter w;
      for (const auto &[key, value] : file->metadata()) {
        GgufValue v = value;
        if (smallVocab && v.isArray() && v.elems.size() > 64)
          v.elems.resize(64);
        if (key == "general.alignment")
          continue; // the writer sets its own
        w.set(key, std::move(v));
      }
      for (const TensorRef &t : file->tensors()) {
        // One row (a 1-D tensor stays whole): every type and name remains.
        int64_t rowElems = t.shape.back();
        uint64_t rowBytes = *tensorBytes(t.dtype, {rowElems});
        std::vector<int64_t> shape = t.shape;
        for (size_t i = 0; i + 1 < shape.size(); ++i)
          shape[i] = 1;
        w.addTensor(t.name, t.dtype, shape,
                    std::vector<uint8_t>(t.data, t.data + rowBytes));
      }
      SmallString<256> p(out);
      sys::path::append(p, stem(in) + (smallVocab ? "-vocab64" : "") + ".gguf");
      check(w.write(p));
    }
  }
}

/// One seed per dequantizable type: its selector byte, then blocks that
/// llama.cpp's quantizers made from real weights.
void ggmlSeeds(StringRef out, ArrayRef<std::string> inputs) {
  static const DType kTypes[] = {
      DType::F32,  DType::F16,  DType::BF16, DType::F64,  DType::Q4_0,
      DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K,
      DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
  std::vector<float> weights;
  for (const std::string &in : inputs) {
    if (!StringRef(in).ends_with(".safetensors"))
      continue;
    auto file = check(SafetensorsFile::open(in));
    for (const TensorRef &t : file->tensors())
      if (t.shape.size() == 2 && t.numElements() >= 512) {
        weights = toFloats(t, 512);
        break;
      }
  }
  if (weights.size() < 512)
    die("no weight of 512 values among the inputs");
  for (size_t i = 0; i < std::size(kTypes); ++i) {
    DType type = kTypes[i];
    std::vector<uint8_t> blocks(*tensorBytes(type, {512}));
    if (type == DType::F64) {
      for (size_t j = 0; j < 512; ++j) {
        double d = weights[j];
        std::memcpy(blocks.data() + 8 * j, &d, 8);
      }
    } else {
      check(quantizeRow(type, weights.data(), blocks.data(), 512));
    }
    std::string seed(1, char(i));
    seed.append(reinterpret_cast<const char *>(blocks.data()), blocks.size());
    writeFile(out, getDTypeInfo(type).name.str() + ".bin", seed);
  }
  // And blocks exactly as GGUF files store them.
  for (const std::string &in : inputs) {
    if (!StringRef(in).ends_with(".gguf"))
      continue;
    auto file = check(GgufFile::open(in));
    for (const TensorRef &t : file->tensors()) {
      auto it = llvm::find(kTypes, t.dtype);
      const DTypeInfo &info = getDTypeInfo(t.dtype);
      if (it == std::end(kTypes) || info.blockElems == 1)
        continue;
      std::string seed(1, char(it - std::begin(kTypes)));
      seed.append(reinterpret_cast<const char *>(t.data),
                  std::min<uint64_t>(t.bytes, 2 * info.blockBytes));
      writeFile(out, stem(in) + "-" + info.name.str() + ".bin", seed);
    }
  }
}

/// tokenizer.model alone, and with tokenizer_config.json after it.
void tokenizerSeeds(StringRef out, ArrayRef<std::string> inputs) {
  if (inputs.size() != 2)
    die("tokenizer: needs tokenizer.model and tokenizer_config.json");
  std::string model = readFile(inputs[0]);
  writeFile(out, "tokenizer.model", model);
  writeFile(out, "with-config.model",
            model + fuzz::kFileSeparator.str() + readFile(inputs[1]));
}

void imatrixSeeds(StringRef out, ArrayRef<std::string> inputs) {
  for (const std::string &in : inputs) {
    ImportanceMatrix m = check(ImportanceMatrix::load(in));
    ImportanceMatrix small;
    small.chunks = m.chunks;
    small.dataset = m.dataset;
    for (auto &[name, values] : m.entries) {
      if (small.entries.size() == 3)
        break;
      small.entries[name].assign(values.begin(),
                                 values.begin() + std::min<size_t>(values.size(), 32));
    }
    SmallString<256> p(out);
    sys::path::append(p, stem(in) + "-small.dat");
    check(small.save(p));
  }
}

/// A statistics file's first entries, narrowed to 16 features (with and
/// without the Hessian).
void statsSeeds(StringRef out, ArrayRef<std::string> inputs) {
  constexpr int64_t k = 16;
  for (const std::string &in : inputs) {
    CalibrationStatistics stats = check(CalibrationStatistics::load(in));
    for (bool hessian : {true, false}) {
      CalibrationStatistics small;
      small.model = stats.model;
      small.text = stats.text.substr(0, 64);
      small.windows = stats.windows;
      small.windowLength = stats.windowLength;
      small.seed = stats.seed;
      for (const LinearStatistics &s : stats.inputs().take_front(3)) {
        LinearStatistics n = s;
        int64_t kk = std::min(k, s.inFeatures);
        n.inFeatures = kk;
        n.meanSquare.resize(kk);
        n.meanAbs.resize(kk);
        n.absMax.resize(kk);
        n.hessian.clear();
        if (hessian && !s.hessian.empty())
          for (int64_t i = 0; i < kk; ++i)
            for (int64_t j = 0; j < kk; ++j)
              n.hessian.push_back(s.hessian[i * s.inFeatures + j]);
        check(small.add(std::move(n)));
      }
      SmallString<256> p(out);
      sys::path::append(p, stem(in) + (hessian ? "-hessian" : "") + ".pb");
      check(small.save(p));
    }
  }
}

//===----------------------------------------------------------------------===//
// Checkpoints
//===----------------------------------------------------------------------===//

struct Shape {
  int64_t hidden, intermediate, heads, kvHeads, headDim, vocab;
  std::pair<int64_t, int64_t> linear(WeightRole role) const { // [N, K]
    int64_t q = heads * headDim, kv = kvHeads * headDim;
    switch (role) {
    case WeightRole::Query: return {q, hidden};
    case WeightRole::Key:
    case WeightRole::Value: return {kv, hidden};
    case WeightRole::AttnOutput: return {hidden, q};
    case WeightRole::Gate:
    case WeightRole::Up: return {intermediate, hidden};
    case WeightRole::Down: return {hidden, intermediate};
    default: return {0, 0};
    }
  }
};

Shape shapeOf(const json::Object &config) {
  Shape s;
  s.hidden = config.getInteger("hidden_size").value_or(0);
  s.intermediate = config.getInteger("intermediate_size").value_or(0);
  s.heads = config.getInteger("num_attention_heads").value_or(1);
  s.kvHeads = config.getInteger("num_key_value_heads").value_or(s.heads);
  s.headDim = config.getInteger("head_dim").value_or(s.hidden / s.heads);
  s.vocab = config.getInteger("vocab_size").value_or(0);
  return s;
}

/// `value` * to / from, when exact.
std::optional<int64_t> scaled(int64_t value, int64_t to, int64_t from) {
  if (from <= 0 || (value * to) % from)
    return std::nullopt;
  return value * to / from;
}

/// A Hugging Face directory (GPTQ, AWQ or plain) cut down to one decoder
/// layer of width 128: every tensor keeps its name, type and layout, and is
/// cropped to its leading block. Packed GPTQ/AWQ tensors crop consistently
/// because both pack along one dimension in whole words.
std::string shrinkCheckpoint(StringRef dir, StringRef out) {
  SmallString<256> configPath(dir);
  sys::path::append(configPath, "config.json");
  json::Value root = check(json::parse(readFile(configPath)));
  json::Object &config = *root.getAsObject();
  Shape from = shapeOf(config);
  Shape to{128, 128, 128 / from.headDim, 1, from.headDim, 32};
  config["hidden_size"] = to.hidden;
  config["intermediate_size"] = to.intermediate;
  config["num_attention_heads"] = to.heads;
  config["num_key_value_heads"] = to.kvHeads;
  config["num_hidden_layers"] = 1;
  config["vocab_size"] = to.vocab;
  config["tie_word_embeddings"] = true;

  SmallString<256> weightsPath(dir);
  sys::path::append(weightsPath, "model.safetensors");
  auto file = check(SafetensorsFile::open(weightsPath));
  SafetensorsWriter w;
  for (const auto &[k, v] : file->metadata())
    w.setMetadata(k, v);
  for (const TensorRef &t : file->tensors()) {
    StringRef name = t.name, suffix;
    for (StringRef s : {".qweight", ".qzeros", ".scales", ".g_idx", ".weight",
                        ".bias"})
      if (name.ends_with(s)) {
        suffix = s;
        name = name.drop_back(s.size());
        break;
      }
    std::optional<ParsedWeightName> parsed =
        parseWeightName((name + (suffix == ".bias" ? ".bias" : ".weight")).str());
    if (!parsed || parsed->layer > 0 || parsed->role == WeightRole::Output)
      continue;
    // [rows, cols] ratios: quantized tensors are laid out [~K, ~N].
    std::pair<int64_t, int64_t> rowRatio{1, 1}, colRatio{1, 1};
    if (parsed->role == WeightRole::Embedding) {
      rowRatio = {to.vocab, from.vocab};
      colRatio = {to.hidden, from.hidden};
    } else if (isDecoderLinear(parsed->role)) {
      auto [n0, k0] = from.linear(parsed->role);
      auto [n1, k1] = to.linear(parsed->role);
      bool packed = suffix != ".weight" && suffix != ".bias";
      rowRatio = packed ? std::pair{k1, k0} : std::pair{n1, n0};
      colRatio = packed ? std::pair{n1, n0} : std::pair{k1, k0};
    } else if (t.shape.size() == 1) {
      // Norms and biases: [hidden] or [N].
      int64_t n0 = t.shape[0];
      int64_t n1 = n0 == from.hidden ? to.hidden
                   : n0 == from.heads * from.headDim ? to.heads * to.headDim
                                                      : to.kvHeads * to.headDim;
      rowRatio = {n1, n0};
    }
    const DTypeInfo &info = getDTypeInfo(t.dtype);
    if (info.blockElems != 1)
      continue;
    if (t.shape.size() == 1) {
      std::optional<int64_t> n = scaled(t.shape[0], rowRatio.first, rowRatio.second);
      if (!n)
        continue;
      w.addTensor(t.name, t.dtype, {*n},
                  std::vector<uint8_t>(t.data, t.data + *n * info.blockBytes));
    } else if (t.shape.size() == 2) {
      std::optional<int64_t> rows = scaled(t.shape[0], rowRatio.first, rowRatio.second);
      std::optional<int64_t> cols = scaled(t.shape[1], colRatio.first, colRatio.second);
      if (!rows || !cols)
        continue;
      w.addTensor(t.name, t.dtype, {*rows, *cols},
                  cropRows(t.data, t.shape[1], *rows, *cols, info.blockBytes));
    }
  }
  std::string text;
  raw_string_ostream os(text);
  os << formatv("{0:2}", root);
  return text + fuzz::kFileSeparator.str() + serialize(w, out);
}

/// lowbit's side-file layouts (affine codes, NF4/FP4) from real weights.
std::string sideFileSeed(const TensorRef &t, StringRef out, bool doubleQuant) {
  std::vector<float> values = toFloats(t, 4 * 256);
  SafetensorsWriter w;
  Bnb4BitWeight bnb = quantizeBnb4Bit(values.data(), 4, 256, Bnb4BitType::NF4,
                                      64, doubleQuant);
  std::string name = "model.layers.0.mlp.down_proj.weight";
  auto bytesOf = [](const void *p, size_t n) {
    const auto *b = static_cast<const uint8_t *>(p);
    return std::vector<uint8_t>(b, b + n);
  };
  w.addTensor(name, DType::U8, {bnb.packedBytes(), 1}, bnb.packed);
  if (doubleQuant) {
    w.addTensor(companionName(name, Companion::Absmax), DType::U8,
                {bnb.numBlocks()}, bnb.absmaxCodes);
    w.addTensor(companionName(name, Companion::NestedAbsmax), DType::F32,
                {bnb.numNestedBlocks()},
                bytesOf(bnb.nestedAbsmax.data(), bnb.nestedAbsmax.size() * 4));
    w.addTensor(companionName(name, Companion::NestedOffset), DType::F32, {1},
                bytesOf(&bnb.offset, 4));
  } else {
    w.addTensor(companionName(name, Companion::Absmax), DType::F32,
                {bnb.numBlocks()}, bytesOf(bnb.absmax.data(), bnb.absmax.size() * 4));
  }
  // An affine 4-bit weight [4, 64] in two groups of 32, act-order.
  std::string affine = "model.layers.0.self_attn.q_proj.weight";
  std::vector<uint8_t> codes(4 * 64);
  std::vector<float> scales(4 * 2), zeros(4 * 2, 8.0f);
  std::vector<int32_t> gIdx(64);
  for (size_t i = 0; i < codes.size(); ++i)
    codes[i] = uint8_t(std::min(15.0f, std::max(0.0f, values[i] * 64 + 8)));
  for (size_t i = 0; i < scales.size(); ++i)
    scales[i] = 1.0f / 64;
  for (size_t i = 0; i < gIdx.size(); ++i)
    gIdx[i] = int32_t(i % 2);
  w.addTensor(affine, DType::U8, {4, 64}, codes);
  w.addTensor(companionName(affine, Companion::Scales), DType::F32, {4, 2},
              bytesOf(scales.data(), scales.size() * 4));
  w.addTensor(companionName(affine, Companion::Zeros), DType::F32, {4, 2},
              bytesOf(zeros.data(), zeros.size() * 4));
  w.addTensor(companionName(affine, Companion::GroupIndex), DType::I32, {64},
              bytesOf(gIdx.data(), gIdx.size() * 4));
  return serialize(w, out);
}

/// INPUTs: Hugging Face directories (GPTQ, AWQ, plain). A plain one also
/// gives the side-file seeds, its config.json before them.
void checkpointSeeds(StringRef out, ArrayRef<std::string> inputs) {
  for (const std::string &dir : inputs) {
    std::string checkpoint = shrinkCheckpoint(dir, out);
    writeFile(out, sys::path::filename(dir).str() + ".ckpt", checkpoint);
    // The same with a shard index naming its one file, as sharded
    // checkpoints have.
    auto shrunk = check(SafetensorsFile::open(MemoryBuffer::getMemBuffer(
        StringRef(checkpoint).split(fuzz::kFileSeparator).second, "shrunk",
        /*RequiresNullTerminator=*/false)));
    json::Object weightMap;
    uint64_t totalSize = 0;
    for (const TensorRef &t : shrunk->tensors()) {
      weightMap[t.name] = "model.safetensors";
      totalSize += t.bytes;
    }
    json::Value index = json::Object{
        {"metadata", json::Object{{"total_size", int64_t(totalSize)}}},
        {"weight_map", std::move(weightMap)}};
    writeFile(out, sys::path::filename(dir).str() + "-index.ckpt",
              checkpoint + fuzz::kFileSeparator.str() +
                  formatv("{0:2}", index).str());
    SmallString<256> configPath(dir);
    sys::path::append(configPath, "config.json");
    SmallString<256> weightsPath(dir);
    sys::path::append(weightsPath, "model.safetensors");
    auto file = check(SafetensorsFile::open(weightsPath));
    for (const TensorRef &t : file->tensors()) {
      if (t.dtype != DType::BF16 || t.shape.size() != 2 || t.numElements() < 1024)
        continue;
      std::string config = readFile(configPath) + fuzz::kFileSeparator.str();
      writeFile(out, "bnb-nf4.ckpt", config + sideFileSeed(t, out, false));
      writeFile(out, "bnb-nf4-dq.ckpt", config + sideFileSeed(t, out, true));
      break;
    }
  }
}

/// `bytes`, an artifact, with each tensor cut to 64 bytes and the code
/// section to the start of the shared object (the fuzzer never loads it); a
/// two-target artifact's parts are each cut so.
std::string shrinkArtifact(const std::string &in, const std::string &bytes, bool tokenizer) {
  if (bytes.size() < sizeof(ArtifactHeader))
    die(in + ": too short for an artifact");
  ArtifactHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  artifact::Manifest m;
  if (!m.ParseFromArray(bytes.data() + h.manifestOffset, int(h.manifestSize)))
    die(in + ": cannot parse the manifest");
  std::string weights;
  std::vector<std::string> parts;
  std::vector<uint64_t> partSizes;
  for (const artifact::Part &part : m.parts()) {
    parts.push_back(shrinkArtifact(
        in, bytes.substr(h.weightsOffset + part.offset(), part.size()), tokenizer));
    partSizes.push_back(parts.back().size());
  }
  if (!parts.empty()) {
    std::vector<uint64_t> offsets = rt::alignedPartOffsets(partSizes);
    for (int i = 0; i < m.parts_size(); ++i) {
      m.mutable_parts(i)->set_offset(offsets[size_t(i)]);
      m.mutable_parts(i)->set_size(partSizes[size_t(i)]);
    }
  }
  for (artifact::Tensor &t : *m.mutable_tensors()) {
    uint64_t keep = std::min<uint64_t>(t.size(), 64);
    std::string piece = bytes.substr(h.weightsOffset + t.offset(), keep);
    t.set_offset(weights.size());
    t.set_size(keep);
    weights += piece;
    weights.resize((weights.size() + 63) / 64 * 64, '\0');
  }
  std::string code = bytes.substr(h.codeOffset, std::min<uint64_t>(h.codeSize, 256));
  // A GPU part's PTX stays NUL-terminated, as the loader checks; its cubin
  // goes.
  if (StringRef(m.target()).starts_with("sm_") && !code.empty()) {
    code.back() = '\0';
    m.clear_gpu_cubin();
  }
  if (!tokenizer)
    m.mutable_tokenizer()->clear_sentencepiece_model();
  rt::ArtifactParts out;
  out.manifest = m.SerializeAsString();
  out.weights = weights.data();
  out.weightsSize = weights.size();
  out.code = code.data();
  out.codeSize = code.size();
  for (const std::string &part : parts)
    out.alignedParts.push_back({part.data(), part.size()});
  std::string result;
  rt::writeArtifact(out, [&result](const void *data, uint64_t size) {
    result.append(static_cast<const char *>(data), size);
    return true;
  });
  return result;
}

void artifactSeeds(StringRef out, ArrayRef<std::string> inputs) {
  for (const std::string &in : inputs) {
    std::string bytes = readFile(in);
    for (bool tokenizer : {true, false})
      writeFile(out, stem(in) + (tokenizer ? "" : "-no-tokenizer") + ".lbx",
                shrinkArtifact(in, bytes, tokenizer));
  }
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 4)
    die("usage: lowbit-fuzz-seeds KIND OUTDIR INPUT...");
  StringRef kind = argv[1], out = argv[2];
  std::vector<std::string> inputs(argv + 3, argv + argc);
  if (std::error_code ec = sys::fs::create_directories(out))
    die(out + ": " + ec.message());
  if (kind == "safetensors")
    safetensorsSeeds(out, inputs);
  else if (kind == "gguf")
    ggufSeeds(out, inputs);
  else if (kind == "ggml")
    ggmlSeeds(out, inputs);
  else if (kind == "tokenizer")
    tokenizerSeeds(out, inputs);
  else if (kind == "imatrix")
    imatrixSeeds(out, inputs);
  else if (kind == "stats")
    statsSeeds(out, inputs);
  else if (kind == "checkpoint")
    checkpointSeeds(out, inputs);
  else if (kind == "artifact")
    artifactSeeds(out, inputs);
  else
    die("unknown kind '" + kind + "'");
  return 0;
}
