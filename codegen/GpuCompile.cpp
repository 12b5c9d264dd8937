//===- GpuCompile.cpp - A model to a GPU .lbx artifact (sm_80, sm_90) -----===//
//
// Walks @forward in order and plans one GPU kernel launch per op (two for
// attention's split and combine, and a kv_store before them; a quantize
// before the int4 linears, shared by the linears that read one value). The
// kernels are generated for every batch in kGpuBatches and lowered to one
// PTX module (docs/gpu.md); the weights are packed into the layouts those
// kernels read. When ptxas is found, the PTX is also assembled for the
// target and carried beside it.
//
//===----------------------------------------------------------------------===//
#include "Annotations.h"
#include "ArtifactOutput.h"
#include "GpuPackWeights.h"
#include "lowbit/Codegen/Compile.h"
#include "lowbit/Codegen/GpuKernels.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Runtime/ArtifactFormat.h"
#include "lowbit/Runtime/ArtifactWriter.h"
#include "lowbit/Support/Float16.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Support/OutputFile.h"

#include "artifact.pb.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

using namespace mlir;
using namespace mlir::lowbit;
using namespace ::lowbit;
namespace pb = ::lowbit::artifact;

namespace {
/// Token counts the kernels are generated for: single-token decode, short
/// prompts and remainders (the largest batch the decode kernels take), and
/// prompt chunks of 64, whose integer linears run on int8 tensor cores.
constexpr int64_t kGpuBatches[] = {1, 8, 64};

/// A step's kernel at `batch` tokens and how many launches of it cover the
/// batch (each on the next rows): the step's own kernel for that batch
/// where there is one, else its decode kernel of kGpuMaxDecodeBatch tokens,
/// launched batch / kGpuMaxDecodeBatch times (f16 and lut4 linears, and
/// integer ones whose rows no tensor-core block divides).
std::pair<GpuKernelSpec, int64_t> kernelAtBatch(GpuKernelSpec spec, int64_t batch) {
  spec.batch = batch;
  if (spec.op != GpuKernelOp::Linear || batch <= kGpuMaxDecodeBatch)
    return {spec, 1};
  if (spec.format != GpuWeightFormat::F16 && spec.format != GpuWeightFormat::Lut4)
    for (int rows : {32, 16})
      if (spec.n % rows == 0) {
        spec.int8Mma = true;
        spec.rowsPerWarp = rows;
        return {spec, 1};
      }
  spec.batch = kGpuMaxDecodeBatch;
  return {spec, batch / kGpuMaxDecodeBatch};
}
/// Attention kernels cut the cache into splits of this many positions.
constexpr int64_t kAttentionSplit = 256;

int64_t rowBytes(int64_t width) { return (width + 31) / 32 * 32 * 4; }
int64_t quantizedBytes(int64_t width) { return width + width / 32 * 4 + width / 16 * 4; }

llvm::Error opError(Operation *op, const llvm::Twine &why) {
  std::string where;
  llvm::raw_string_ostream os(where);
  os << op->getLoc();
  return llvm::createStringError("'" + op->getName().getStringRef().str() + "' at " + where +
                                 ": " + why.str());
}

struct GpuPlan {
  GpuPlan(pb::Manifest &manifest, const WeightStore &store)
      : manifest(manifest), store(store) {}
  pb::Manifest &manifest;
  const WeightStore &store;
  int64_t context = 0;
  std::vector<uint8_t> section;
  llvm::StringMap<int> tensorByName;
  /// The batch-1 spec of each step, in manifest order.
  std::vector<GpuKernelSpec> stepSpecs;

  DenseMap<Value, int> bufferOf;
  /// The int8 copy of a value in a rounding, when made.
  DenseMap<std::pair<Value, int>, int> quantizedOf;
  DenseMap<Value, size_t> lastUse;
  BufferPool pool{manifest};

  int addTensor(const std::string &name, const void *data, size_t size, StringRef layout) {
    size_t offset = (section.size() + 63) / 64 * 64;
    section.resize(offset + size);
    std::memcpy(section.data() + offset, data, size);
    pb::Tensor *t = manifest.add_tensors();
    t->set_name(name);
    t->set_offset(offset);
    t->set_size(size);
    t->set_layout(layout.str());
    return tensorByName[name] = manifest.tensors_size() - 1;
  }

  /// A matrix read by a linear or an embedding: its tensor in the weight
  /// section, in its GPU layout (gpuWeightFormatOf), the rounding a linear
  /// over it wants, and its [rows, cols].
  struct Matrix {
    int tensor = 0;
    GpuWeightFormat format = GpuWeightFormat::F16;
    GpuActivationRounding rounding = GpuActivationRounding::B32;
    int64_t rows = 0, cols = 0;
    /// Act-order: the i32 tensor of the input column each packed column
    /// reads; -1 for weights packed in the input's order.
    int columnOrder = -1;
  };
  /// Act-order weights' column orders, by weight name.
  llvm::StringMap<int> columnOrderOf;
  llvm::Expected<Matrix> matrix(Operation *user, Value v) {
    auto w = v.getDefiningOp<WeightOp>();
    if (!w)
      return opError(user, "its weight is not a lowbit.weight");
    Matrix m;
    WeightEncoding enc = weightEncodingOf(w, m.rows, m.cols);
    const int64_t rows = m.rows, cols = m.cols;
    std::string name = w.getName().str();
    std::optional<GpuWeightFormat> gpuFormat = gpuWeightFormatOf(enc);
    if (!gpuFormat)
      return opError(user, "weight '" + name + "' is " +
                               stringifyQuantFormat(enc.format).str() + " " +
                               std::to_string(enc.bits) + "-bit, group " +
                               std::to_string(enc.groupSize) +
                               (enc.actOrder ? ", act-order" : "") +
                               "; GPU artifacts hold affine int4 and int8 with groups of "
                               "128 (GPTQ, also act-order, AWQ, RTN w4g128 and w8g128), "
                               "bitsandbytes' NF4 and FP4, ggml's q2_k, q3_k, "
                               "q4_0, q4_1, q4_k, q5_0, q5_1, q5_k, q6_k and q8_0, and float "
                               "weights");
    m.format = *gpuFormat;
    m.rounding = gpuActivationRoundingOf(enc);
    if (auto it = tensorByName.find(name); it != tensorByName.end()) {
      m.tensor = it->second;
      if (auto order = columnOrderOf.find(name); order != columnOrderOf.end())
        m.columnOrder = order->second;
      return m;
    }
    if (cols % 32)
      return opError(user, "weight '" + name + "' has " + std::to_string(cols) +
                               " columns, not a multiple of 32");
    llvm::Expected<const TensorRef *> t = store.get(name);
    if (!t)
      return t.takeError();
    std::vector<uint8_t> bytes;
    StringRef layout = gpuWeightFormatName(m.format);
    if (m.format == GpuWeightFormat::Q4G128 || m.format == GpuWeightFormat::Q8G128) {
      std::vector<int32_t> order;
      if (enc.actOrder) {
        llvm::Expected<std::vector<int32_t>> sorted = actOrderColumns(name, cols);
        if (!sorted)
          return sorted.takeError();
        order = std::move(*sorted);
      }
      if (llvm::Error e = packAffineG128(name, **t, rows, cols, int(enc.bits), order, bytes))
        return std::move(e);
      m.tensor = addTensor(name, bytes.data(), bytes.size(), layout);
      if (!order.empty()) {
        m.columnOrder =
            addTensor(name + ".column_order", order.data(), order.size() * 4, "i32");
        columnOrderOf[name] = m.columnOrder;
      }
      return m;
    }
    if (m.format == GpuWeightFormat::Lut4) {
      if (llvm::Error e = packBnb4BitForGpu(store, name, enc, rows, cols, bytes))
        return std::move(e);
      m.tensor = addTensor(name, bytes.data(), bytes.size(), layout);
      return m;
    }
    if (m.format != GpuWeightFormat::F16) {
      if (llvm::Error e = packGgmlForGpu(m.format, **t, rows, cols, store.fileOf(name), bytes))
        return std::move(e);
      store.releasePages(**t);
      m.tensor = addTensor(name, bytes.data(), bytes.size(), layout);
      return m;
    }
    std::vector<float> values;
    if (llvm::Error e = dequantize(**t, values))
      return std::move(e);
    std::vector<uint16_t> half(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if (!(std::fabs(values[i]) <= 65504.0f))
        return llvm::createStringError(store.fileOf(name).str() + ": weight '" + name +
                                       "' holds " + std::to_string(values[i]) +
                                       ", which f16 cannot hold");
      half[i] = floatToFp16(values[i]);
    }
    store.releasePages(**t);
    m.tensor = addTensor(name, half.data(), half.size() * 2, "f16");
    return m;
  }

  /// An act-order weight's columns sorted by group (columnsByGroup, as the
  /// CPU packing sorts them). Each 128 packed columns must then be one group.
  llvm::Expected<std::vector<int32_t>> actOrderColumns(const std::string &name, int64_t cols) {
    const TensorRef *gIdx = store.find(companionName(name, Companion::GroupIndex));
    auto fail = [&](const llvm::Twine &why) {
      return llvm::createStringError(store.fileOf(name).str() + ": act-order weight '" + name +
                                     "' " + why.str());
    };
    if (!gIdx || gIdx->dtype != DType::I32 || gIdx->numElements() != cols)
      return fail("needs an i32 .g_idx [cols]");
    const int32_t *groupOf = reinterpret_cast<const int32_t *>(gIdx->data);
    std::vector<int32_t> order = columnsByGroup(llvm::ArrayRef(groupOf, size_t(cols)));
    for (int64_t j = 0; j < cols; ++j)
      if (groupOf[order[size_t(j)]] != j / 128)
        return fail("has groups that are not 128 columns each (g_idx " +
                    llvm::Twine(groupOf[order[size_t(j)]]) + " at sorted column " +
                    llvm::Twine(j) + "); GPU layouts pack whole groups of 128");
    return order;
  }

  /// Affine int4 or int8 with groups of 128 in the q4g128 or q8g128 layout,
  /// its packed column j being the weight's column order[j] (all in order
  /// when `order` is empty).
  llvm::Error packAffineG128(const std::string &name, const TensorRef &t, int64_t rows,
                             int64_t cols, int bits, llvm::ArrayRef<int32_t> order,
                             std::vector<uint8_t> &out) {
    const TensorRef *scales = store.find(companionName(name, Companion::Scales));
    const TensorRef *zeros = store.find(companionName(name, Companion::Zeros));
    const int64_t groups = cols / 128;
    auto fail = [&](const llvm::Twine &why) {
      return llvm::createStringError(store.fileOf(name).str() + ": weight '" + name + "' " +
                                     why.str());
    };
    if (cols % 128 || !scales || !zeros || scales->dtype != DType::F32 ||
        zeros->dtype != DType::F32 || scales->numElements() != rows * groups ||
        zeros->numElements() != rows * groups || t.dtype != DType::U8 ||
        t.numElements() != rows * cols)
      return fail("(affine int" + llvm::Twine(bits) +
                  " g128) needs u8 codes [rows, cols] (cols a multiple of 128) and f32 "
                  ".scales/.zeros [rows, cols/128]");
    const bool wide = bits == 8;
    const int64_t codeBytes = wide ? rows * cols : rows * cols / 2;
    const int64_t paramBytes = wide ? 8 : 4;
    out.assign(size_t(codeBytes + rows * groups * paramBytes), 0);
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t *u = t.data + r * cols;
      auto code = [&](int64_t j) { return u[order.empty() ? j : order[size_t(j)]]; };
      if (wide) {
        // Value j at byte j, as q − 128 (signed, for dp4a's s.s).
        for (int64_t j = 0; j < cols; ++j)
          out[size_t(r * cols + j)] = uint8_t(int8_t(int(code(j)) - 128));
        continue;
      }
      uint8_t *dst = out.data() + r * cols / 2;
      for (int64_t b = 0; b < cols / 32; ++b)
        for (int j = 0; j < 16; ++j) {
          uint8_t lo = code(b * 32 + j), hi = code(b * 32 + 16 + j);
          if (lo > 15 || hi > 15)
            return fail("has a code above 15 in row " + llvm::Twine(r));
          dst[b * 16 + j] = uint8_t(lo | hi << 4);
        }
    }
    const float *s = reinterpret_cast<const float *>(scales->data);
    const float *z = reinterpret_cast<const float *>(zeros->data);
    uint8_t *params = out.data() + codeBytes;
    for (int64_t i = 0; i < rows * groups; ++i) {
      if (wide) {
        // s·(q − z) = d·u + m with u = q − 128, d = s, m = s·(128 − z), in
        // f32 as the CPU kernels keep them.
        float dm[2] = {s[i], s[i] * (128.0f - z[i])};
        std::memcpy(params + i * 8, dm, 8);
        continue;
      }
      // s·(u − z) = d·u + m with d = s, m = −s·z, both rounded to f16.
      float d = s[i], m = -s[i] * z[i];
      if (!(std::fabs(d) <= 65504.0f) || !(std::fabs(m) <= 65504.0f))
        return fail("has a scale or zero point f16 cannot hold");
      uint16_t dm[2] = {floatToFp16(d), floatToFp16(m)};
      std::memcpy(params + i * 4, dm, 4);
    }
    store.releasePages(t);
    return llvm::Error::success();
  }

  /// A norm's weight vector or a linear's bias, as f32.
  llvm::Expected<int> vector(Operation *user, Value v) {
    auto w = v.getDefiningOp<WeightOp>();
    if (!w)
      return opError(user, "its weight is not a lowbit.weight");
    std::string name = w.getName().str();
    if (auto it = tensorByName.find(name); it != tensorByName.end())
      return it->second;
    llvm::Expected<const TensorRef *> t = store.get(name);
    if (!t)
      return t.takeError();
    std::vector<float> values;
    if (llvm::Error e = dequantize(**t, values))
      return std::move(e);
    return addTensor(name, values.data(), values.size() * 4, "f32");
  }

  int allocate(int64_t bytes) { return pool.allocate(bytes); }
  /// Frees the int8 copies of `v`, in every rounding.
  void releaseQuantized(Value v) {
    for (GpuActivationRounding r : kGpuActivationRoundings)
      if (auto q = quantizedOf.find({v, int(r)}); q != quantizedOf.end()) {
        release(q->second);
        quantizedOf.erase(q);
      }
  }
  void release(int id) { pool.release(id); }
  static int64_t widthOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }
  int define(Value v) { return bufferOf[v] = allocate(rowBytes(widthOf(v))); }

  static pb::Arg arg(pb::Arg::Kind kind, int index = 0) {
    pb::Arg a;
    a.set_kind(kind);
    a.set_index(uint32_t(index));
    return a;
  }
  static pb::Arg buffer(int id) { return arg(pb::Arg::BUFFER, id); }
  static pb::Arg tensor(int id) { return arg(pb::Arg::TENSOR, id); }
  pb::Arg of(Value v) { return buffer(bufferOf.lookup(v)); }

  void step(const GpuKernelSpec &spec, std::vector<pb::Arg> args, Operation *op) {
    pb::Step *s = manifest.add_steps();
    for (pb::Arg &a : args)
      *s->add_args() = a;
    std::string label = op->getName().getStringRef().str();
    if (auto layer = op->getAttrOfType<IntegerAttr>("layer"))
      label += " layer " + std::to_string(layer.getInt());
    s->set_label(label);
    stepSpecs.push_back(spec);
  }

  static GpuKernelSpec spec(GpuKernelOp op, int64_t n, int64_t k) {
    GpuKernelSpec s;
    s.op = op;
    s.n = n;
    s.k = k;
    return s;
  }

  llvm::Error linear(LinearOp op);
  llvm::Error build(func::FuncOp forward);
};
} // namespace

llvm::Error GpuPlan::linear(LinearOp op) {
  llvm::Expected<Matrix> w = matrix(op, op.getWeight());
  if (!w)
    return w.takeError();
  Value x = op.getInput();
  int64_t k = widthOf(x), n = widthOf(op.getResult());
  GpuKernelSpec s = spec(GpuKernelOp::Linear, n, k);
  s.format = w->format;
  // The bias (Qwen2's q/k/v), f32 per output row, is the kernel's 4th argument.
  std::vector<pb::Arg> biasArg;
  if (op.getBias()) {
    llvm::Expected<int> bias = vector(op, op.getBias());
    if (!bias)
      return bias.takeError();
    s.bias = true;
    biasArg.push_back(tensor(*bias));
  }
  auto linearArgs = [&](pb::Arg input) {
    std::vector<pb::Arg> args = {tensor(w->tensor), input, buffer(define(op.getResult()))};
    args.insert(args.end(), biasArg.begin(), biasArg.end());
    return args;
  };
  pb::Arg input = of(x);
  GpuKernelSpec q = spec(GpuKernelOp::Quantize, 0, k);
  q.rounding = w->rounding;
  if (w->columnOrder >= 0) {
    // Act-order: the input's columns in the weight's order, then their own
    // int8 copy (no other linear reads that order), both freed after.
    int permuted = allocate(rowBytes(k)), quantized = allocate(quantizedBytes(k));
    step(spec(GpuKernelOp::PermuteColumns, 0, k),
         {of(x), tensor(w->columnOrder), buffer(permuted)}, op);
    step(q, {buffer(permuted), buffer(quantized)}, op);
    step(s, linearArgs(buffer(quantized)), op);
    release(permuted);
    release(quantized);
    return llvm::Error::success();
  }
  if (w->format != GpuWeightFormat::F16) {
    // The linears reading one value in one rounding share its int8 copy.
    auto [it, fresh] = quantizedOf.try_emplace({x, int(w->rounding)}, 0);
    if (fresh) {
      it->second = allocate(quantizedBytes(k));
      step(q, {of(x), buffer(it->second)}, op);
    }
    input = buffer(it->second);
  }
  step(s, linearArgs(input), op);
  return llvm::Error::success();
}

llvm::Error GpuPlan::build(func::FuncOp forward) {
  std::vector<Operation *> ops;
  for (Operation &op : forward.getBody().front())
    ops.push_back(&op);
  for (size_t i = 0; i < ops.size(); ++i)
    for (Value v : ops[i]->getOperands())
      lastUse[v] = i;
  int64_t kvLayers = 0;
  int attentionOps = int(llvm::count_if(ops, llvm::IsaPred<AttentionOp>));
  for (size_t i = 0; i < ops.size(); ++i) {
    Operation *op = ops[i];
    llvm::Error err = llvm::Error::success();
    if (auto e = dyn_cast<EmbeddingOp>(op)) {
      llvm::Expected<Matrix> w = matrix(op, e.getTable());
      if (!w)
        return w.takeError();
      GpuKernelSpec s = spec(GpuKernelOp::Embedding, w->rows, w->cols);
      s.format = w->format;
      step(s, {arg(pb::Arg::TOKENS), tensor(w->tensor), buffer(define(e.getResult()))}, op);
    } else if (auto r = dyn_cast<RmsNormOp>(op)) {
      llvm::Expected<int> w = vector(op, r.getWeight());
      if (!w)
        return w.takeError();
      GpuKernelSpec s = spec(GpuKernelOp::RmsNorm, 0, widthOf(r.getInput()));
      s.param = r.getEpsilon().convertToFloat();
      step(s, {of(r.getInput()), tensor(*w), buffer(define(r.getResult()))}, op);
    } else if (auto l = dyn_cast<LinearOp>(op)) {
      err = linear(l);
    } else if (auto r = dyn_cast<RopeOp>(op)) {
      // The GPU kernel rotates in place: the result takes the input's buffer,
      // which nothing may read afterwards.
      Value in = r.getInput();
      if (lastUse.lookup(in) != i)
        return opError(op, "its input is read after it; the GPU rope rotates in place");
      GpuKernelSpec s = spec(GpuKernelOp::Rope, r.getNumHeads(), r.getHeadDim());
      s.param = r.getTheta().convertToFloat();
      s.ropeHalves = !r.getInterleaved();
      step(s, {of(in), arg(pb::Arg::POSITIONS)}, op);
      bufferOf[r.getResult()] = bufferOf.lookup(in);
      bufferOf.erase(in);
      releaseQuantized(in);
    } else if (auto a = dyn_cast<AttentionOp>(op)) {
      int layer = int(a.getLayer());
      if (layer < 0 || layer >= attentionOps)
        return opError(op, "layer " + std::to_string(layer) + " is outside [0, " +
                               std::to_string(attentionOps) + ")");
      kvLayers = std::max<int64_t>(kvLayers, layer + 1);
      int64_t heads = a.getNumHeads(), kvHeads = a.getNumKvHeads(), dim = a.getHeadDim();
      GpuKernelSpec store = spec(GpuKernelOp::KvStore, 0, kvHeads * dim);
      store.context = context;
      step(store,
           {of(a.getKey()), of(a.getValue()), arg(pb::Arg::POSITIONS),
            arg(pb::Arg::KEY_CACHE, layer), arg(pb::Arg::VALUE_CACHE, layer)},
           op);
      GpuKernelSpec split = spec(GpuKernelOp::AttentionSplit, heads, dim);
      split.kvHeads = kvHeads;
      split.context = context;
      GpuKernelSpec combine = split;
      combine.op = GpuKernelOp::AttentionCombine;
      int partials = allocate(heads * (context / kAttentionSplit) * (dim + 2) * 4);
      step(split,
           {of(a.getQuery()), arg(pb::Arg::POSITIONS), arg(pb::Arg::KEY_CACHE, layer),
            arg(pb::Arg::VALUE_CACHE, layer), buffer(partials)},
           op);
      step(combine, {arg(pb::Arg::POSITIONS), buffer(partials), buffer(define(a.getResult()))},
           op);
      release(partials);
    } else if (auto s = dyn_cast<SwigluOp>(op)) {
      step(spec(GpuKernelOp::Swiglu, 0, widthOf(s.getGate())),
           {of(s.getGate()), of(s.getUp()), buffer(define(s.getResult()))}, op);
    } else if (auto s = dyn_cast<AddOp>(op)) {
      step(spec(GpuKernelOp::Add, 0, widthOf(s.getLhs())),
           {of(s.getLhs()), of(s.getRhs()), buffer(define(s.getResult()))}, op);
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      manifest.set_logits_buffer(uint32_t(bufferOf.lookup(ret.getOperand(0))));
    } else if (!isa<WeightOp>(op)) {
      return opError(op, "has no GPU kernel yet");
    }
    if (err)
      return err;
    if (isa<func::ReturnOp>(op))
      continue;
    for (Value v : op->getOperands()) {
      if (lastUse.lookup(v) != i)
        continue;
      if (auto b = bufferOf.find(v); b != bufferOf.end()) {
        release(b->second);
        bufferOf.erase(b);
      }
      releaseQuantized(v);
    }
  }
  manifest.set_kv_layers(kvLayers);
  return llvm::Error::success();
}

/// The PTX assembled for `target` by ptxas, when it is on PATH or in
/// /usr/local/cuda/bin; empty (and a note on stderr) when it is not.
static llvm::Expected<std::string> assembleCubin(const std::string &ptx,
                                                 const GpuTarget &target) {
  llvm::ErrorOr<std::string> ptxas =
      llvm::sys::findProgramByName("ptxas", {"/usr/local/cuda/bin"});
  if (!ptxas) {
    llvm::errs() << "lowbit-compile: ptxas not found; the artifact carries PTX only (the "
                    "driver compiles it when loaded)\n";
    return std::string();
  }
  llvm::SmallString<128> in, out;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("lowbit-kernels", "ptx", in))
    return llvm::createStringError("cannot create a temporary file: " + ec.message());
  llvm::scope_exit removeIn([&] { llvm::sys::fs::remove(in); });
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("lowbit-kernels", "cubin", out))
    return llvm::createStringError("cannot create a temporary file: " + ec.message());
  llvm::scope_exit removeOut([&] { llvm::sys::fs::remove(out); });
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(in, ec);
    if (ec)
      return llvm::createStringError(in + ": " + ec.message());
    os << ptx;
  }
  std::string arch = "-arch=" + target.chip;
  llvm::StringRef args[] = {*ptxas, arch, "-O3", "-o", out, in};
  std::string why;
  int rc = llvm::sys::ExecuteAndWait(*ptxas, args, std::nullopt, {}, 0, 0, &why);
  if (rc != 0)
    return llvm::createStringError(*ptxas + " failed on the generated PTX (exit " +
                                   std::to_string(rc) + ")" + (why.empty() ? "" : ": " + why));
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> cubin = llvm::MemoryBuffer::getFile(out);
  if (!cubin)
    return llvm::createStringError(out + ": " + cubin.getError().message());
  return (*cubin)->getBuffer().str();
}

auto ::lowbit::compileGpuModel(LoadedModel &model, const CompileOptions &options,
                               const GpuTarget &target) -> llvm::Error {
  auto start = std::chrono::steady_clock::now();
  if (llvm::Error e = checkNotAnInput(options.output))
    return e;
  ModuleOp module = model.module.get();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return llvm::createStringError("the model has no @forward function");
  const ModelConfig &mc = model.config;

  pb::Manifest m;
  GpuPlan plan(m, model.weights);
  plan.context = (mc.contextLength + kAttentionSplit - 1) / kAttentionSplit * kAttentionSplit;
  llvm::errs() << "lowbit-compile: planning the GPU launches and packing the weights\n";
  if (llvm::Error e = plan.build(forward))
    return e;

  // Every step's kernel at every batch, generated once each.
  std::vector<GpuKernelSpec> specs;
  std::vector<std::vector<size_t>> specOfStep(plan.stepSpecs.size());
  std::vector<std::vector<int64_t>> repeatsOfStep(plan.stepSpecs.size());
  for (size_t s = 0; s < plan.stepSpecs.size(); ++s)
    for (int64_t batch : kGpuBatches) {
      auto [spec, repeats] = kernelAtBatch(plan.stepSpecs[s], batch);
      specOfStep[s].push_back(specs.size());
      repeatsOfStep[s].push_back(repeats);
      specs.push_back(spec);
    }
  MLIRContext gpuContext;
  {
    DialectRegistry registry;
    registerGpuCodegenDialects(registry);
    gpuContext.appendDialectRegistry(registry);
    gpuContext.loadAllAvailableDialects();
  }
  OwningOpRef<ModuleOp> container = ModuleOp::create(UnknownLoc::get(&gpuContext));
  llvm::Expected<std::vector<GpuKernelLaunch>> launches =
      buildGpuKernels(*container, specs);
  if (!launches)
    return launches.takeError();
  // buildGpuKernels generates a kernel asked for twice once: find each
  // spec's launch by its name, which spells out everything the spec says.
  for (const GpuKernelLaunch &l : *launches) {
    pb::GpuKernel *k = m.add_gpu_kernels();
    k->set_name(l.name);
    k->set_batch(uint32_t(l.spec.batch));
    for (int d = 0; d < 3; ++d) {
      k->add_grid(uint32_t(l.grid[d]));
      k->add_block(uint32_t(l.block[d]));
    }
    k->set_shared_bytes(uint32_t(l.sharedBytes));
  }
  for (size_t s = 0; s < specOfStep.size(); ++s) {
    pb::Step *step = m.mutable_steps(int(s));
    for (size_t spec : specOfStep[s]) {
      std::string name = gpuKernelName(specs[spec]);
      auto it = llvm::find_if(*launches,
                              [&](const GpuKernelLaunch &l) { return l.name == name; });
      if (it == launches->end())
        return llvm::createStringError("internal: no GPU kernel was generated for step " +
                                       std::to_string(s) + " (" + step->label() + ")");
      step->add_gpu_launches(uint32_t(it - launches->begin()));
    }
    // Repeats only where a batch needs them.
    if (llvm::any_of(repeatsOfStep[s], [](int64_t r) { return r > 1; }))
      for (int64_t r : repeatsOfStep[s])
        step->add_gpu_repeats(uint32_t(r));
    step->set_kernel(m.gpu_kernels(int(step->gpu_launches(0))).name());
  }
  for (int64_t batch : kGpuBatches)
    m.add_gpu_batches(uint32_t(batch));
  m.set_gpu_context(plan.context);

  llvm::errs() << "lowbit-compile: lowering " << m.gpu_kernels_size()
               << " GPU kernels to PTX for " << target.chip << "\n";
  llvm::Expected<std::string> ptx = emitPtx(*container, target);
  if (!ptx)
    return ptx.takeError();
  llvm::Expected<std::string> cubin = assembleCubin(*ptx, target);
  if (!cubin)
    return cubin.takeError();
  m.set_gpu_cubin(*cubin);
  if (!options.assemblyPath.empty())
    if (llvm::Error e = writeFileAtomically(options.assemblyPath, [&](llvm::raw_pwrite_stream &os) {
          os << *ptx;
          return llvm::Error::success();
        }))
      return e;

  describeModel(m, model, target.chip);

  // The code section is the PTX, NUL-terminated as the driver's JIT reads it.
  std::string code = *ptx;
  code.push_back('\0');
  if (llvm::Error e = writeArtifactFile(options.output, m, plan.section.data(),
                                        plan.section.size(), code.data(), code.size()))
    return e;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int64_t widest = 0, tensorCore = 0;
  for (const std::vector<int64_t> &r : repeatsOfStep)
    widest += r.back();
  for (const pb::GpuKernel &k : m.gpu_kernels())
    tensorCore += llvm::StringRef(k.name()).starts_with("gpu_linear_imma_");
  llvm::errs() << llvm::format("lowbit-compile: %s: %d launches per batch (%lld at %lld "
                               "tokens, %lld linears on tensor cores), %d kernels, "
                               "%.1f MiB of weights, %.1f KiB of PTX%s, %.1f s\n",
                               target.chip.c_str(), m.steps_size(), (long long)widest,
                               (long long)kGpuBatches[std::size(kGpuBatches) - 1],
                               (long long)tensorCore, m.gpu_kernels_size(),
                               plan.section.size() / 1048576.0, ptx->size() / 1024.0,
                               cubin->empty() ? "" : " and its cubin", seconds);
  return llvm::Error::success();
}
