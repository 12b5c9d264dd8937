//===- Interpreter.cpp - Reference execution of lowbit IR -----------------===//
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Interpreter/Interpreter.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Quant/Affine.h"
#include "lowbit/Quant/Bnb.h"
#include "lowbit/Quant/Int8Row.h"
#include "lowbit/Support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"

#include <cstring>
#include <unordered_map>

using namespace mlir;
using namespace ::lowbit;

namespace {
struct DenseWeight {
  std::vector<int64_t> shape;
  std::vector<float> values;
  DType stored = DType::F32; // encoding in the weight store
  // int8_row (LLM.int8()): the linear also rounds each activation row to
  // int8, so values here times those rows are the rescaled int8 product.
  bool int8Rows = false;

  // Streaming (InterpreterOptions::streamWeights): `values` is filled on
  // first use and dropped by releaseWeight; a weight read a row at a time
  // (the embedding, the output head) is never widened whole.
  const TensorRef *source = nullptr;
  StringRef name; // the key in Impl::weights
  Type type;
  bool loaded = false;
  bool released = false;
  bool rowStreamed = false;
};

enum class Kind { Weight, Embedding, RmsNorm, Linear, SplitColumns, Rope, Attention, Swiglu, Add, Return };

struct Step {
  Kind kind;
  Operation *op;
  SmallVector<Value> frees; // activations whose last use is this step
};
} // namespace

struct Interpreter::Impl {
  func::FuncOp forward;
  std::vector<Step> steps;
  llvm::StringMap<DenseWeight> weights;
  DenseMap<Value, DenseWeight *> weightValues;
  std::vector<std::string> nonFinite;
  const WeightStore *store = nullptr;
  InterpreterOptions options;

  llvm::Error load(DenseWeight &w);
};

Interpreter::Interpreter() : impl(std::make_unique<Impl>()) {}
Interpreter::~Interpreter() = default;

/// The IR's type of a weight must describe the stored tensor exactly: same
/// shape, and the same encoding (element type or quantization format).
static llvm::Error checkWeightType(Type type, const TensorRef &t) {
  ArrayRef<int64_t> shape;
  SmallVector<int64_t, 2> packedShape;
  std::string encoding;
  if (auto tensor = dyn_cast<RankedTensorType>(type)) {
    shape = tensor.getShape();
    Type e = tensor.getElementType();
    encoding = e.isF32() ? "f32" : e.isF16() ? "f16" : e.isBF16() ? "bf16" : "?";
  } else if (auto q = dyn_cast<mlir::lowbit::QuantizedWeightType>(type)) {
    shape = q.getShape();
    encoding = mlir::lowbit::stringifyQuantFormat(q.getScheme().getFormat()).str();
    // Affine codes are stored unpacked, one byte each (Quant/Affine.h).
    if (q.getScheme().getFormat() == mlir::lowbit::QuantFormat::Affine)
      encoding = "u8";
    // int8_row codes are plain int8 (CB; the scales are NAME.scb).
    if (q.getScheme().getFormat() == mlir::lowbit::QuantFormat::Int8Row)
      encoding = "i8";
    // nf4/fp4 codes are bitsandbytes' packed nibbles, u8 [ceil(N·K/2), 1]
    // (Quant/Bnb.h).
    if (q.getScheme().getFormat() == mlir::lowbit::QuantFormat::NF4 ||
        q.getScheme().getFormat() == mlir::lowbit::QuantFormat::FP4) {
      encoding = "u8";
      packedShape = {(q.getShape()[0] * q.getShape()[1] + 1) / 2, 1};
      shape = packedShape;
    }
  }
  if (shape == ArrayRef<int64_t>(t.shape) &&
      encoding == getDTypeInfo(t.dtype).name)
    return llvm::Error::success();
  std::string typeText;
  llvm::raw_string_ostream os(typeText);
  os << type;
  return llvm::createStringError(
      "weight '" + t.name + "' is typed " + typeText + " in the IR but stored as " +
      getDTypeInfo(t.dtype).name.str() + " [" +
      llvm::join(llvm::map_range(t.shape, [](int64_t d) { return std::to_string(d); }), ", ") +
      "]");
}

/// Codes plus the NAME.scales / NAME.zeros companions (Quant/Affine.h) and,
/// for act-order weights, NAME.g_idx (the group of each input column).
static llvm::Error dequantizeAffineWeight(const TensorRef &codes, int64_t groupSize,
                                          bool actOrder, const WeightStore &weights,
                                          std::vector<float> &out) {
  int64_t rows = codes.shape[0], cols = codes.shape[1];
  int64_t groups = groupSize < 0 ? 1 : cols / groupSize;
  const TensorRef *scales = weights.find(::lowbit::companionName(codes.name, ::lowbit::Companion::Scales));
  const TensorRef *zeros = weights.find(::lowbit::companionName(codes.name, ::lowbit::Companion::Zeros));
  for (const TensorRef *t : {scales, zeros})
    if (!t || t->dtype != DType::F32 ||
        t->shape != std::vector<int64_t>{rows, groups})
      return llvm::createStringError(
          "affine weight '" + codes.name + "' needs f32 tensors '" + codes.name +
          ".scales' and '.zeros' of shape [" + std::to_string(rows) + ", " +
          std::to_string(groups) + "] in the weight store");
  std::vector<int32_t> gIdx;
  if (actOrder) {
    const TensorRef *g = weights.find(::lowbit::companionName(codes.name, ::lowbit::Companion::GroupIndex));
    if (!g || g->dtype != DType::I32 || g->shape != std::vector<int64_t>{cols})
      return llvm::createStringError(
          "act-order affine weight '" + codes.name + "' needs an i32 tensor '" +
          codes.name + ".g_idx' of shape [" + std::to_string(cols) +
          "] in the weight store");
    gIdx.resize(size_t(cols));
    std::memcpy(gIdx.data(), g->data, gIdx.size() * sizeof(int32_t));
    for (int32_t v : gIdx)
      if (v < 0 || v >= groups)
        return llvm::createStringError(
            "affine weight '" + codes.name + "': g_idx value " +
            std::to_string(v) + " is outside [0, " + std::to_string(groups) + ")");
  }
  out.resize(size_t(rows * cols));
  dequantizeAffine(codes.data, reinterpret_cast<const float *>(scales->data),
                   reinterpret_cast<const float *>(zeros->data), rows, cols,
                   groupSize, out.data(), gIdx.empty() ? nullptr : gIdx.data());
  return llvm::Error::success();
}

/// CB codes plus the NAME.scb row scales (Quant/Int8Row.h).
static llvm::Error dequantizeInt8RowWeight(const TensorRef &codes,
                                           const WeightStore &weights,
                                           std::vector<float> &out) {
  int64_t rows = codes.shape[0], cols = codes.shape[1];
  const TensorRef *scb = weights.find(::lowbit::companionName(codes.name, ::lowbit::Companion::RowScales));
  if (!scb || scb->dtype != DType::F32 || scb->shape != std::vector<int64_t>{rows})
    return llvm::createStringError(
        "int8_row weight '" + codes.name + "' needs an f32 tensor '" +
        codes.name + ".scb' of shape [" + std::to_string(rows) +
        "] in the weight store");
  out.resize(size_t(rows * cols));
  dequantizeInt8Rows(reinterpret_cast<const int8_t *>(codes.data),
                     reinterpret_cast<const float *>(scb->data), rows, cols,
                     out.data());
  return llvm::Error::success();
}

static int64_t intAttr(Operation *op, StringRef name) {
  auto a = dyn_cast_or_null<IntegerAttr>(op->getAttr(name));
  return a ? a.getInt() : 0;
}
static float floatAttr(Operation *op, StringRef name) {
  auto a = dyn_cast_or_null<FloatAttr>(op->getAttr(name));
  return a ? float(a.getValueAsDouble()) : 0.0f;
}

/// Widens `dense` to fp32 from its stored encoding, once.
llvm::Error Interpreter::Impl::load(DenseWeight &dense) {
  if (dense.loaded)
    return llvm::Error::success();
  StringRef name = dense.name;
  if (dense.released)
    return llvm::createStringError(
        "weight '" + name.str() +
        "' was released by a streaming run and is needed again");
  const TensorRef &t = *dense.source;
  const WeightStore &weights = *store;
  auto qtype = dyn_cast<mlir::lowbit::QuantizedWeightType>(dense.type);
  if (qtype && qtype.getScheme().getFormat() == mlir::lowbit::QuantFormat::Affine) {
    if (llvm::Error e = dequantizeAffineWeight(t, qtype.getScheme().getGroupSize(),
                                               qtype.getScheme().getActOrder(),
                                               weights, dense.values))
      return e;
  } else if (qtype && qtype.getScheme().getFormat() ==
                          mlir::lowbit::QuantFormat::Int8Row) {
    dense.int8Rows = true;
    if (llvm::Error e = dequantizeInt8RowWeight(t, weights, dense.values))
      return e;
  } else if (qtype && (qtype.getScheme().getFormat() ==
                           mlir::lowbit::QuantFormat::NF4 ||
                       qtype.getScheme().getFormat() ==
                           mlir::lowbit::QuantFormat::FP4)) {
    auto bnb = readBnb4BitWeight(
        weights, name,
        qtype.getScheme().getFormat() == mlir::lowbit::QuantFormat::NF4
            ? Bnb4BitType::NF4
            : Bnb4BitType::FP4,
        qtype.getScheme().getGroupSize(), qtype.getShape()[0],
        qtype.getShape()[1]);
    if (!bnb)
      return bnb.takeError();
    dense.shape.assign(qtype.getShape().begin(), qtype.getShape().end());
    dense.values = dequantizeBnb4Bit(*bnb);
  } else if (llvm::Error e = dequantize(t, dense.values)) {
    return e;
  }
  if (findNonFinite(dense.values.data(), int64_t(dense.values.size())) >= 0)
    nonFinite.push_back(name.str());
  dense.loaded = true;
  return llvm::Error::success();
}

/// Whether a streaming run reads `w` a row block at a time instead of
/// widening it whole: plain float or ggml-encoded tensors only.
static bool canStreamRows(const DenseWeight &w) {
  return !isa<mlir::lowbit::QuantizedWeightType>(w.type) &&
         canDequantize(w.stored) && w.shape.size() == 2 &&
         w.shape[0] > 0 && w.source->bytes % uint64_t(w.shape[0]) == 0;
}

/// Rows [begin, end) of a row-streamed weight, widened to fp32.
static void readRows(const DenseWeight &w, int64_t begin, int64_t end,
                     float *out) {
  uint64_t rowBytes = w.source->bytes / uint64_t(w.shape[0]);
  for (int64_t r = begin; r < end; ++r)
    dequantizeRow(w.stored, w.source->data + uint64_t(r) * rowBytes,
                  out + (r - begin) * w.shape[1], w.shape[1]);
}

/// out = x · wᵀ (+ bias) for a row-streamed `w`, widened a block of rows
/// (about 16 MB of fp32) at a time.
static void streamedLinear(const Activation &x, const DenseWeight &w,
                           const std::vector<float> *bias, Activation &out,
                           const WeightStore &store) {
  int64_t n = w.shape[0], k = w.shape[1];
  out = Activation(x.rows, n);
  int64_t block = std::max<int64_t>(1, (int64_t(1) << 22) / std::max<int64_t>(k, 1));
  uint64_t rowBytes = w.source->bytes / uint64_t(n);
  std::vector<float> rows;
  Activation part;
  for (int64_t begin = 0; begin < n; begin += block) {
    int64_t end = std::min(n, begin + block);
    rows.resize(size_t((end - begin) * k));
    readRows(w, begin, end, rows.data());
    store.releasePages(*w.source, uint64_t(begin) * rowBytes,
                       uint64_t(end - begin) * rowBytes);
    linear(x, rows.data(), end - begin, nullptr, part);
    for (int64_t r = 0; r < x.rows; ++r)
      std::copy_n(part.row(r), end - begin, out.row(r) + begin);
  }
  if (bias)
    for (int64_t r = 0; r < x.rows; ++r)
      for (int64_t c = 0; c < n; ++c)
        out.row(r)[c] += (*bias)[c];
}

llvm::Expected<std::unique_ptr<Interpreter>>
Interpreter::create(ModuleOp module, const WeightStore &weights,
                    InterpreterOptions options) {
  std::unique_ptr<Interpreter> interp(new Interpreter());
  Impl &impl = *interp->impl;
  impl.store = &weights;
  impl.options = options;
  impl.forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!impl.forward || impl.forward.getBody().empty())
    return llvm::createStringError("module has no @forward function to run");
  Block &body = impl.forward.getBody().front();
  if (body.getNumArguments() != 2)
    return llvm::createStringError("@forward must take (tokens, positions)");

  static const std::pair<const char *, Kind> kKinds[] = {
      {"lowbit.weight", Kind::Weight},       {"lowbit.embedding", Kind::Embedding},
      {"lowbit.rms_norm", Kind::RmsNorm},    {"lowbit.linear", Kind::Linear},
      {"lowbit.split_columns", Kind::SplitColumns},
      {"lowbit.rope", Kind::Rope},           {"lowbit.attention", Kind::Attention},
      {"lowbit.swiglu", Kind::Swiglu},       {"lowbit.add", Kind::Add},
      {"func.return", Kind::Return}};
  DenseMap<Value, size_t> lastUse;
  for (Operation &op : body) {
    std::optional<Kind> kind;
    for (auto &[name, k] : kKinds)
      if (op.getName().getStringRef() == name)
        kind = k;
    if (!kind)
      return llvm::createStringError(
          "the IR interpreter cannot run op '" +
          op.getName().getStringRef().str() + "'");
    for (Value v : op.getOperands())
      lastUse[v] = impl.steps.size();
    impl.steps.push_back({*kind, &op, {}});

    if (*kind != Kind::Weight)
      continue;
    auto nameAttr = dyn_cast_or_null<StringAttr>(op.getAttr("name"));
    if (!nameAttr)
      return llvm::createStringError("lowbit.weight without a name");
    StringRef name = nameAttr.getValue();
    auto it = impl.weights.find(name);
    if (it == impl.weights.end()) {
      llvm::Expected<const TensorRef *> t = weights.get(name);
      if (!t)
        return t.takeError();
      if (llvm::Error e = checkWeightType(op.getResult(0).getType(), **t))
        return std::move(e);
      DenseWeight dense;
      dense.shape = (*t)->shape;
      dense.stored = (*t)->dtype;
      dense.source = *t;
      dense.type = op.getResult(0).getType();
      it = impl.weights.try_emplace(name, std::move(dense)).first;
      it->second.name = it->getKey();
      if (!options.streamWeights)
        if (llvm::Error e = impl.load(it->second))
          return std::move(e);
    }
    impl.weightValues[op.getResult(0)] = &it->second;
  }
  // A streaming run never widens the embedding table or the output head
  // whole: they are the largest tensors and each run needs a few rows of
  // the one and a pass over the other.
  if (options.streamWeights)
    for (const Step &s : impl.steps) {
      DenseWeight *w = nullptr;
      if (s.kind == Kind::Embedding)
        w = impl.weightValues.lookup(s.op->getOperand(1));
      else if (s.kind == Kind::Linear &&
               llvm::any_of(s.op->getResult(0).getUsers(), [](Operation *u) {
                 return isa<func::ReturnOp>(u);
               }))
        w = impl.weightValues.lookup(s.op->getOperand(1));
      if (w && canStreamRows(*w))
        w->rowStreamed = true;
    }
  // The KV cache grows to the highest layer index: bound the indices by the
  // attention ops there are, so no attribute can size the cache.
  int64_t attentionOps = llvm::count_if(
      impl.steps, [](const Step &s) { return s.kind == Kind::Attention; });
  for (const Step &s : impl.steps)
    if (s.kind == Kind::Attention)
      if (int64_t layer = intAttr(s.op, "layer");
          layer < 0 || layer >= attentionOps)
        return llvm::createStringError(
            "lowbit.attention has layer " + std::to_string(layer) +
            ", outside [0, " + std::to_string(attentionOps) +
            ") (@forward has " + std::to_string(attentionOps) +
            " attention ops)");
  for (auto &[value, step] : lastUse)
    if (!impl.weightValues.count(value) && !isa<BlockArgument>(value))
      impl.steps[step].frees.push_back(value);
  return std::move(interp);
}

ExecutionFrame Interpreter::begin(llvm::ArrayRef<int32_t> tokens,
                                  llvm::ArrayRef<int32_t> positions) const {
  ExecutionFrame frame;
  frame.tokens.assign(tokens.begin(), tokens.end());
  frame.positions.assign(positions.begin(), positions.end());
  return frame;
}

const Activation *Interpreter::valueOf(const ExecutionFrame &frame,
                                       Value value) const {
  auto it = frame.values.find(value.getAsOpaquePointer());
  return it == frame.values.end() ? nullptr : &it->second;
}

llvm::ArrayRef<std::string> Interpreter::nonFiniteWeights() const {
  return impl->nonFinite;
}

std::vector<float> *Interpreter::denseWeight(llvm::StringRef name) {
  auto it = impl->weights.find(name);
  if (it == impl->weights.end())
    return nullptr;
  if (llvm::Error e = impl->load(it->second)) {
    llvm::consumeError(std::move(e));
    return nullptr;
  }
  return &it->second.values;
}

void Interpreter::releaseWeight(llvm::StringRef name) {
  auto it = impl->weights.find(name);
  if (it == impl->weights.end() || !impl->options.streamWeights)
    return;
  DenseWeight &w = it->second;
  std::vector<float>().swap(w.values);
  w.loaded = false;
  w.released = true;
  impl->store->releasePages(*w.source);
}

void Interpreter::releaseLayersBefore(int64_t layer) {
  for (auto &entry : impl->weights)
    if (!entry.second.released)
      if (std::optional<ParsedWeightName> parsed = parseWeightName(entry.getKey());
          parsed && isLayerWeight(parsed->role) && parsed->layer < layer)
        releaseWeight(entry.getKey());
}

llvm::Expected<Activation>
Interpreter::forward(llvm::ArrayRef<int32_t> tokens,
                     llvm::ArrayRef<int32_t> positions) {
  ExecutionFrame frame = begin(tokens, positions);
  if (llvm::Error e = run(frame))
    return std::move(e);
  return std::move(frame.result);
}

llvm::Error Interpreter::run(ExecutionFrame &frame, Operation *stopBefore) {
  Impl &impl = *this->impl;
  if (frame.finished)
    return llvm::Error::success();
  const std::vector<int32_t> &tok = frame.tokens;
  const std::vector<int32_t> &pos = frame.positions;
  struct ValueTable {
    std::unordered_map<const void *, Activation> &map;
    Activation &operator[](Value v) { return map[v.getAsOpaquePointer()]; }
    void erase(Value v) { map.erase(v.getAsOpaquePointer()); }
  } values{frame.values};
  auto in = [&](Operation *op, unsigned i) -> Activation & {
    return values[op->getOperand(i)];
  };
  auto weightOf = [&](Operation *op, unsigned i) -> const DenseWeight & {
    return *impl.weightValues.lookup(op->getOperand(i));
  };
  for (; frame.nextStep < impl.steps.size(); ++frame.nextStep) {
    Step &step = impl.steps[frame.nextStep];
    if (step.op == stopBefore)
      return llvm::Error::success();
    Operation *op = step.op;
    bool readsRows = step.kind == Kind::Embedding || step.kind == Kind::Linear;
    for (Value v : op->getOperands())
      if (DenseWeight *w = impl.weightValues.lookup(v))
        if (!w->loaded && !(w->rowStreamed && readsRows))
          if (llvm::Error e = impl.load(*w))
            return e;
    switch (step.kind) {
    case Kind::Weight:
      break;
    case Kind::Embedding: {
      const DenseWeight &table = weightOf(op, 1);
      for (int32_t t : tok)
        if (t < 0 || t >= table.shape[0])
          return llvm::createStringError("token id " + std::to_string(t) +
                                         " is outside the vocabulary");
      if (!table.loaded) {
        Activation &out = values[op->getResult(0)];
        out = Activation(int64_t(tok.size()), table.shape[1]);
        for (size_t i = 0; i < tok.size(); ++i)
          readRows(table, tok[i], tok[i] + 1, out.row(int64_t(i)));
        impl.store->releasePages(*table.source);
        break;
      }
      embeddingLookup(table.values, table.shape[1], tok, values[op->getResult(0)]);
      break;
    }
    case Kind::RmsNorm:
      rmsNorm(in(op, 0), weightOf(op, 1).values, floatAttr(op, "epsilon"),
              values[op->getResult(0)]);
      break;
    case Kind::Linear: {
      if (observer)
        observer(op, in(op, 0));
      const DenseWeight &w = weightOf(op, 1);
      const std::vector<float> *bias =
          op->getNumOperands() > 2 ? &weightOf(op, 2).values : nullptr;
      if (!w.loaded) {
        if (ggmlActivations) {
          Activation x = in(op, 0);
          roundActivationsLikeGgml(w.stored, x);
          streamedLinear(x, w, bias, values[op->getResult(0)], *impl.store);
        } else {
          streamedLinear(in(op, 0), w, bias, values[op->getResult(0)],
                         *impl.store);
        }
      } else if (ggmlActivations || w.int8Rows) {
        Activation x = in(op, 0);
        if (w.int8Rows)
          fakeQuantizeInt8Rows(x.data.data(), x.rows, x.cols);
        else
          roundActivationsLikeGgml(w.stored, x);
        linear(x, w.values.data(), w.shape[0], bias, values[op->getResult(0)]);
      } else {
        linear(in(op, 0), w.values.data(), w.shape[0], bias,
               values[op->getResult(0)]);
      }
      break;
    }
    case Kind::SplitColumns: {
      // Inliers: the input with the columns zeroed; outliers: the columns.
      ArrayRef<int64_t> columns =
          cast<DenseI64ArrayAttr>(op->getAttr("columns")).asArrayRef();
      Activation inliers = in(op, 0);
      Activation outliers(inliers.rows, int64_t(columns.size()));
      for (int64_t r = 0; r < inliers.rows; ++r)
        for (size_t i = 0; i < columns.size(); ++i) {
          outliers.row(r)[i] = inliers.row(r)[columns[i]];
          inliers.row(r)[columns[i]] = 0.0f;
        }
      values[op->getResult(0)] = std::move(inliers);
      values[op->getResult(1)] = std::move(outliers);
      break;
    }
    case Kind::Rope: {
      Activation x = in(op, 0);
      rope(x, pos, intAttr(op, "num_heads"), intAttr(op, "head_dim"),
           floatAttr(op, "theta"),
           cast<BoolAttr>(op->getAttr("interleaved")).getValue());
      values[op->getResult(0)] = std::move(x);
      break;
    }
    case Kind::Attention: {
      int64_t kvHeads = intAttr(op, "num_kv_heads");
      int64_t headDim = intAttr(op, "head_dim");
      KvLayer &layer = cache.layer(intAttr(op, "layer"), kvHeads * headDim);
      causalAttention(in(op, 0), in(op, 1), in(op, 2), pos,
                      intAttr(op, "num_heads"), kvHeads, headDim, layer,
                      values[op->getResult(0)]);
      break;
    }
    case Kind::Swiglu:
      swiglu(in(op, 0), in(op, 1), values[op->getResult(0)]);
      break;
    case Kind::Add:
      add(in(op, 0), in(op, 1), values[op->getResult(0)]);
      break;
    case Kind::Return:
      frame.result = std::move(values[op->getOperand(0)]);
      frame.values.clear();
      frame.finished = true;
      return llvm::Error::success();
    }
    for (Value v : step.frees)
      if (step.kind != Kind::Return)
        values.erase(v);
  }
  return llvm::createStringError("@forward has no return");
}

// A saved frame: counts and values as little-endian u64/i32/f32 arrays.
// Activations are keyed by (step index of the defining op, result number).
namespace {
template <typename T> void appendPod(std::string &out, const T &v) {
  out.append(reinterpret_cast<const char *>(&v), sizeof(T));
}
template <typename T> void appendArray(std::string &out, const std::vector<T> &v) {
  appendPod(out, uint64_t(v.size()));
  out.append(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(T));
}
struct FrameReader {
  StringRef &bytes;
  bool failed = false;
  template <typename T> T pod() {
    T v{};
    if (bytes.size() < sizeof(T)) {
      failed = true;
      return v;
    }
    std::memcpy(&v, bytes.data(), sizeof(T));
    bytes = bytes.drop_front(sizeof(T));
    return v;
  }
  template <typename T> std::vector<T> array() {
    uint64_t n = pod<uint64_t>();
    if (failed || n > bytes.size() / sizeof(T)) {
      failed = true;
      return {};
    }
    std::vector<T> v(n);
    std::memcpy(v.data(), bytes.data(), n * sizeof(T));
    bytes = bytes.drop_front(n * sizeof(T));
    return v;
  }
};
} // namespace

void Interpreter::saveFrame(const ExecutionFrame &frame, std::string &out) const {
  appendArray(out, frame.tokens);
  appendArray(out, frame.positions);
  appendPod(out, uint64_t(frame.nextStep));
  appendPod(out, uint64_t(frame.values.size()));
  // In step order, so the bytes do not depend on pointer values.
  for (size_t i = 0; i < impl->steps.size(); ++i)
    for (Value v : impl->steps[i].op->getResults()) {
      auto it = frame.values.find(v.getAsOpaquePointer());
      if (it == frame.values.end())
        continue;
      appendPod(out, uint64_t(i));
      appendPod(out, uint64_t(cast<OpResult>(v).getResultNumber()));
      appendPod(out, it->second.rows);
      appendPod(out, it->second.cols);
      appendArray(out, it->second.data);
    }
}

llvm::Expected<ExecutionFrame> Interpreter::loadFrame(StringRef &bytes) const {
  FrameReader in{bytes};
  ExecutionFrame frame;
  frame.tokens = in.array<int32_t>();
  frame.positions = in.array<int32_t>();
  frame.nextStep = size_t(in.pod<uint64_t>());
  uint64_t count = in.pod<uint64_t>();
  auto bad = [](const Twine &why) {
    return llvm::createStringError("saved activations: " + why.str());
  };
  if (in.failed || frame.nextStep > impl->steps.size() ||
      frame.tokens.size() != frame.positions.size())
    return bad("truncated or not written by this model");
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t step = in.pod<uint64_t>(), result = in.pod<uint64_t>();
    int64_t rows = in.pod<int64_t>(), cols = in.pod<int64_t>();
    std::vector<float> data = in.array<float>();
    if (in.failed)
      return bad("truncated");
    if (step >= impl->steps.size() ||
        result >= impl->steps[step].op->getNumResults() || rows < 0 ||
        cols < 0 || uint64_t(rows) * uint64_t(cols) != data.size())
      return bad("an activation does not belong to this model");
    Activation a;
    a.rows = rows;
    a.cols = cols;
    a.data = std::move(data);
    frame.values[impl->steps[step].op->getResult(unsigned(result))
                     .getAsOpaquePointer()] = std::move(a);
  }
  return std::move(frame);
}
