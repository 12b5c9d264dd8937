//===- GgufExport.cpp - lowbit IR -> GGUF ---------------------------------===//
#include "lowbit/Export/GgufExport.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Formats/AffinePacking.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Quant/Affine.h"
#include "lowbit/Quant/Encode.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Progress.h"

#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSet.h"

using namespace llvm;
using namespace lowbit;

namespace {
/// Row order of convert_hf_to_gguf's permute (formats.md §2.6): inside each
/// head, rotate-half pairs (i, i + d/2) become adjacent (2i, 2i + 1).
/// Returns, for each destination row, its source row.
std::vector<int64_t> ropeRowPermutation(int64_t rows, int64_t heads,
                                        bool toInterleaved) {
  int64_t d = rows / heads;
  std::vector<int64_t> src(rows);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < d / 2; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        int64_t interleaved = h * d + 2 * i + j;
        int64_t halves = h * d + j * (d / 2) + i;
        if (toInterleaved)
          src[interleaved] = halves;
        else
          src[halves] = interleaved;
      }
  return src;
}

/// An affine weight (GPTQ/AWQ/RTN codes) as f32 values, to be re-encoded.
Error dequantizeAffineTensor(const WeightStore &weights, StringRef name,
                             mlir::lowbit::QuantSchemeAttr scheme,
                             std::vector<float> &out) {
  Expected<AffineWeight> w =
      readAffineWeight(weights, name, int(scheme.getBits()),
                       scheme.getGroupSize(), scheme.getActOrder());
  if (!w)
    return w.takeError();
  out.resize(size_t(w->rows * w->cols));
  dequantizeAffine(w->codes.data(), w->scales.data(), w->zeros.data(), w->rows,
                   w->cols, w->groupSize, out.data(),
                   w->gIdx.empty() ? nullptr : w->gIdx.data());
  return Error::success();
}

/// One tensor of the output file, before its bytes exist.
struct PlannedTensor {
  std::string weightName; // as the IR names it
  std::string ggufName;
  const TensorRef *source = nullptr;
  /// Set for affine codes, which are dequantized to F32 before encoding.
  std::optional<mlir::lowbit::QuantSchemeAttr> affine;
  DType target = DType::F32;
  /// For q/k weights changing rope order: output row r is input row
  /// rowSource[r] (whole rows move, so this works on encoded rows too).
  std::vector<int64_t> rowSource;
};

/// Encodes the planned tensors in file order on a pool of worker threads,
/// a few tensors ahead of the writer: while tensor i is written, tensors
/// i+1 and i+2 are encoded. Only kSlots encoded tensors exist at a time, and
/// the mapped input pages of each finished tensor are released, so memory
/// stays near a few tensors' worth whatever the model's size.
class StreamingEncoder {
public:
  StreamingEncoder(const WeightStore &weights,
                   const std::vector<PlannedTensor> &plan, unsigned threads)
      : weights(weights), plan(plan) {
    for (unsigned i = 0; i < std::max(1u, threads); ++i)
      workers.emplace_back([this] { work(); });
  }

  ~StreamingEncoder() {
    {
      std::lock_guard<std::mutex> guard(lock);
      stopping = true;
    }
    workAvailable.notify_all();
    for (std::thread &t : workers)
      t.join();
    for (Slot &slot : slots)
      consumeError(std::move(slot.error));
  }

  /// The encoding of tensor `index`; the writer asks in order, each once.
  /// The bytes stay valid until the next call.
  Expected<ArrayRef<uint8_t>> take(size_t index) {
    assert(index == nextToTake && "tensors are taken in order");
    ++nextToTake;
    // Queue the tensors up to kSlots - 1 ahead; the slot of index + 2 held
    // index - 1, which the writer has finished with.
    for (; nextToOpen < plan.size() && nextToOpen < index + kSlots;
         ++nextToOpen)
      open(nextToOpen);

    Slot &slot = slots[index % kSlots];
    {
      std::unique_lock<std::mutex> guard(lock);
      tensorDone.wait(guard, [&] { return slot.rowsDone == slot.rows; });
    }
    const PlannedTensor &p = plan[index];
    if (slot.error)
      return std::move(slot.error);
    // Encoded by now, so the input pages can go (they stay cached).
    if (p.source->bytes >= kReleaseMinBytes)
      weights.releasePages(*p.source);
    slot.affineValues = {};
    ArrayRef<uint8_t> bytes(slot.buffer.get(), slot.size);
    // A permuted vector (q/k bias) has one value per row: move the values.
    if (!p.rowSource.empty() && !slot.rowsPermuted) {
      uint64_t valueBytes = slot.size / p.rowSource.size();
      slot.permuted.resize(slot.size);
      for (size_t r = 0; r < p.rowSource.size(); ++r)
        std::memcpy(slot.permuted.data() + r * valueBytes,
                    slot.buffer.get() + p.rowSource[r] * valueBytes,
                    valueBytes);
      bytes = slot.permuted;
    }
    return bytes;
  }

private:
  static constexpr size_t kSlots = 3;
  static constexpr uint64_t kReleaseMinBytes = 1 << 20;

  struct Slot {
    std::optional<TensorEncoder> encoder;
    std::vector<float> affineValues;
    std::unique_ptr<uint8_t[]> buffer;
    uint64_t capacity = 0, size = 0;
    std::vector<uint8_t> permuted;
    bool rowsPermuted = false;
    // Guarded by `lock`: rows handed out, rows finished, and the number of
    // rows to encode (0 once the slot failed or holds nothing).
    int64_t nextRow = 0, rowsDone = 0, rows = 0, chunkRows = 1;
    size_t order = 0; // the tensor's index in the plan
    Error error = Error::success();
  };

  /// Prepares tensor `index` in its slot and lets the workers at it.
  void open(size_t index) {
    const PlannedTensor &p = plan[index];
    Slot &slot = slots[index % kSlots];
    consumeError(std::move(slot.error));
    slot.encoder.reset();
    slot.permuted = {};
    Error error = prepare(p, slot);
    std::lock_guard<std::mutex> guard(lock);
    slot.nextRow = slot.rowsDone = 0;
    slot.rows = error ? 0 : slot.encoder->rows();
    slot.error = std::move(error);
    slot.order = index;
    workAvailable.notify_all();
  }

  Error prepare(const PlannedTensor &p, Slot &slot) {
    TensorRef input = *p.source;
    if (p.affine) {
      if (Error e = dequantizeAffineTensor(weights, p.weightName, *p.affine,
                                           slot.affineValues))
        return e;
      input.dtype = DType::F32;
      input.data = reinterpret_cast<const uint8_t *>(slot.affineValues.data());
      input.bytes = slot.affineValues.size() * sizeof(float);
    }
    Expected<TensorEncoder> enc = TensorEncoder::create(input, p.target);
    if (!enc)
      return enc.takeError();
    slot.encoder.emplace(std::move(*enc));
    slot.size = slot.encoder->encodedBytes();
    if (slot.size > slot.capacity) {
      slot.buffer.reset(); // before allocating the larger one
      slot.buffer.reset(new uint8_t[slot.size]);
      slot.capacity = slot.size;
    }
    // Matrices permute whole rows while encoding; vectors afterwards.
    slot.rowsPermuted = !p.rowSource.empty() &&
                        int64_t(p.rowSource.size()) == slot.encoder->rows();
    // Chunks of about 32K values: small enough to balance the threads at
    // the end of a tensor, large enough that the lock is rarely contended.
    slot.chunkRows = std::max<int64_t>(1, 32768 / std::max<int64_t>(
                                              1, slot.encoder->cols()));
    return Error::success();
  }

  void work() {
    std::vector<float> scratch;
    std::unique_lock<std::mutex> guard(lock);
    for (;;) {
      // The earliest tensor with rows left, so the writer waits least.
      Slot *slot = nullptr;
      workAvailable.wait(guard, [&] {
        slot = nullptr;
        if (stopping)
          return true;
        for (Slot &s : slots)
          if (s.nextRow < s.rows && (!slot || s.order < slot->order))
            slot = &s;
        return slot != nullptr;
      });
      if (stopping)
        return;
      int64_t begin = slot->nextRow;
      int64_t end = std::min(slot->rows, begin + slot->chunkRows);
      slot->nextRow = end;
      const TensorEncoder &enc = *slot->encoder;
      const PlannedTensor &p = plan[slot->order];
      guard.unlock();
      if (int64_t(scratch.size()) < enc.cols())
        scratch.resize(enc.cols());
      Error e = enc.encodeRows(
          begin, end, slot->buffer.get(),
          slot->rowsPermuted ? ArrayRef<int64_t>(p.rowSource)
                             : ArrayRef<int64_t>(),
          scratch.data());
      guard.lock();
      if (e) {
        // Stop handing out this tensor's rows; take() reports the error.
        if (slot->error)
          consumeError(std::move(e));
        else
          slot->error = std::move(e);
        slot->rows = slot->nextRow;
      }
      slot->rowsDone += end - begin;
      if (slot->rowsDone == slot->rows)
        tensorDone.notify_all();
    }
  }

  const WeightStore &weights;
  const std::vector<PlannedTensor> &plan;
  Slot slots[kSlots];
  size_t nextToOpen = 0, nextToTake = 0;
  std::mutex lock;
  std::condition_variable workAvailable, tensorDone;
  bool stopping = false;
  std::vector<std::thread> workers;
};
} // namespace

Error lowbit::exportGguf(const LoadedModel &model, StringRef path,
                         const GgufExportOptions &options) {
  const ModelConfig &cfg = model.config;
  if (cfg.arch != "llama" && cfg.arch != "mistral" && cfg.arch != "qwen2")
    return fileError(path, "cannot export architecture '{0}' to GGUF", cfg.arch);
  std::string arch = cfg.arch == "qwen2" ? "qwen2" : "llama";

  // Which rope order do the IR's q/k weights have, and which does llama.cpp
  // expect for this architecture?
  bool irInterleaved = false;
  mlir::ModuleOp module = model.module.get();
  module.walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() == "lowbit.rope")
      if (auto b = dyn_cast_or_null<mlir::BoolAttr>(op->getAttr("interleaved")))
        irInterleaved = b.getValue();
  });
  bool wantInterleaved = arch == "llama";

  GgufWriter writer;
  std::string p = arch + ".";
  writer.setString("general.architecture", arch);
  writer.setString("general.name", options.name.empty() ? "lowbit" : options.name);
  writer.setU32(p + "context_length", uint32_t(cfg.contextLength));
  writer.setU32(p + "embedding_length", uint32_t(cfg.hiddenSize));
  writer.setU32(p + "block_count", uint32_t(cfg.numLayers));
  writer.setU32(p + "feed_forward_length", uint32_t(cfg.intermediateSize));
  writer.setU32(p + "attention.head_count", uint32_t(cfg.numHeads));
  writer.setU32(p + "attention.head_count_kv", uint32_t(cfg.numKvHeads));
  writer.setF32(p + "rope.freq_base", float(cfg.ropeTheta));
  writer.setF32(p + "attention.layer_norm_rms_epsilon", cfg.rmsNormEps);
  writer.setU32(p + "attention.key_length", uint32_t(cfg.headDim));
  writer.setU32(p + "attention.value_length", uint32_t(cfg.headDim));
  writer.setU32(p + "rope.dimension_count", uint32_t(cfg.headDim));
  writer.setU32(p + "vocab_size", uint32_t(cfg.vocabSize));

  const Vocabulary &vocab = model.tokenizer->vocabulary();
  if (vocab.modelType != 2 && vocab.modelType != 1)
    return fileError(path, "only SentencePiece BPE/unigram vocabularies can be "
                     "exported");
  writer.setString("tokenizer.ggml.model", "llama");
  writer.setString("tokenizer.ggml.pre", "default");
  writer.setArrayString("tokenizer.ggml.tokens", vocab.pieces);
  writer.setArrayF32("tokenizer.ggml.scores", vocab.scores);
  std::vector<int32_t> types;
  for (TokenType t : vocab.types)
    types.push_back(int32_t(t));
  writer.setArrayI32("tokenizer.ggml.token_type", types);
  writer.setU32("tokenizer.ggml.bos_token_id", uint32_t(vocab.bosId));
  writer.setU32("tokenizer.ggml.eos_token_id", uint32_t(vocab.eosId));
  writer.setU32("tokenizer.ggml.unknown_token_id", uint32_t(vocab.unkId));
  writer.setBool("tokenizer.ggml.add_bos_token", vocab.addBos);
  writer.setBool("tokenizer.ggml.add_eos_token", vocab.addEos);

  // Every weight the IR names, in IR order, once; affine ones (integer
  // codes with group scales and zeros) are dequantized and re-encoded.
  std::vector<std::string> names;
  StringSet<> seen;
  StringMap<mlir::lowbit::QuantSchemeAttr> affine;
  module.walk([&](mlir::lowbit::WeightOp op) {
    if (!seen.insert(op.getName()).second)
      return;
    names.push_back(op.getName().str());
    if (auto q = dyn_cast<mlir::lowbit::QuantizedWeightType>(op.getResult().getType()))
      if (q.getScheme().getFormat() == mlir::lowbit::QuantFormat::Affine)
        affine[op.getName()] = q.getScheme();
  });

  bool hasOutput = false;
  for (const std::string &name : names)
    if (auto p = parseWeightName(name))
      hasOutput |= p->role == WeightRole::Output;
  ModelShape shape{cfg.numLayers, cfg.numHeads, cfg.numKvHeads};

  // Plan every tensor first: the header (names, types, shapes, offsets)
  // precedes the data, and the encoded sizes follow from type and shape.
  std::vector<PlannedTensor> plan;
  plan.reserve(names.size());
  std::map<DType, int64_t> matrixElements;
  for (const std::string &name : names) {
    std::optional<ParsedWeightName> parsed = parseWeightName(name);
    if (!parsed)
      return fileError(path, "weight '{0}' has no GGUF name (not a "
                       "Llama-family tensor)", name);
    Expected<const TensorRef *> tensor = model.weights.get(name);
    if (!tensor)
      return tensor.takeError();
    PlannedTensor planned;
    planned.weightName = name;
    planned.source = *tensor;
    if (auto it = affine.find(name); it != affine.end())
      planned.affine = it->second;
    const std::vector<int64_t> &dims = (*tensor)->shape;
    planned.ggufName = weightName(Naming::Gguf, parsed->role, parsed->layer);

    // Vectors (norms, biases) are F32. Matrices take the requested file
    // type's choice for their role, or with "auto" keep a ggml block format
    // and otherwise become F16 (affine weights are read as F32).
    DType target = DType::F32;
    if (dims.size() >= 2) {
      if (options.fileType) {
        WeightRole role = parsed->role;
        // Without an output matrix the tied embedding plays its part.
        if (role == WeightRole::Embedding && !hasOutput)
          role = WeightRole::Output;
        Expected<DType> chosen = chooseGgufType(*options.fileType, role,
                                                parsed->layer, dims.back(),
                                                shape, options.pure);
        if (!chosen)
          return chosen.takeError();
        target = *chosen;
      } else {
        DType stored = planned.affine ? DType::F32 : (*tensor)->dtype;
        target = getDTypeInfo(stored).blockElems > 1 ? stored : DType::F16;
      }
      int64_t elements = 1;
      for (int64_t d : dims)
        elements *= d;
      matrixElements[target] += elements;
    }
    planned.target = target;

    bool isQK = parsed->role == WeightRole::Query || parsed->role == WeightRole::Key ||
                parsed->role == WeightRole::QueryBias ||
                parsed->role == WeightRole::KeyBias;
    if (isQK && irInterleaved != wantInterleaved && !dims.empty()) {
      int64_t heads = (parsed->role == WeightRole::Query ||
                       parsed->role == WeightRole::QueryBias)
                          ? cfg.numHeads
                          : cfg.numKvHeads;
      planned.rowSource = ropeRowPermutation(dims[0], heads, wantInterleaved);
    }
    writer.addDeferredTensor(planned.ggufName, target, dims);
    plan.push_back(std::move(planned));
  }

  // general.file_type: what was asked for, else what a quantization pass
  // recorded, else the most common matrix encoding (llama.cpp's own guess).
  uint32_t fileType = 1;
  if (options.fileType) {
    fileType = options.fileType->id;
  } else if (auto attr = dyn_cast_or_null<mlir::IntegerAttr>(
                 module->getAttr("lowbit.gguf_file_type"))) {
    fileType = uint32_t(attr.getInt());
  } else if (!matrixElements.empty()) {
    DType common = std::max_element(matrixElements.begin(), matrixElements.end(),
                                    [](auto &a, auto &b) { return a.second < b.second; })
                       ->first;
    if (Expected<GgufFileType> f = parseGgufFileType(getDTypeInfo(common).name))
      fileType = f->id;
    else
      consumeError(f.takeError());
  }
  writer.setU32("general.file_type", fileType);
  bool quantized = false;
  for (auto &[type, count] : matrixElements)
    quantized |= getDTypeInfo(type).blockElems > 1;
  if (quantized)
    writer.setU32("general.quantization_version", 2);

  StreamingEncoder encoder(model.weights, plan, encodeThreadCount());
  Progress progress("export", int64_t(plan.size()), options.showProgress);
  Error written = writer.write(path, [&](size_t index) -> Expected<ArrayRef<uint8_t>> {
    Expected<ArrayRef<uint8_t>> bytes = encoder.take(index);
    if (!bytes)
      return fileError(path, "{0}", toString(bytes.takeError()));
    progress.update(int64_t(index + 1), plan[index].ggufName);
    return bytes;
  });
  progress.finish();
  return written;
}
