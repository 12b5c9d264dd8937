//===- Compile.cpp - A model to a .lbx artifact ---------------------------===//
//
// Walks @forward in order and forms the dispatches of the artifact: one
// kernel call per op, except that the int8 rounding of an activation is done
// once for all the linears that read it (q/k/v, gate/up), and a linear whose
// only user is a residual add writes the sum itself. Activation buffers are
// reused once their value is dead.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Codegen/Compile.h"
#include "lowbit/Codegen/EmitObject.h"
#include "lowbit/Codegen/Kernels.h"
#include "lowbit/Codegen/WeightPacking.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Formats/GgmlQuants.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Runtime/ArtifactFormat.h"
#include "lowbit/Runtime/ArtifactWriter.h"

#include "artifact.pb.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"

#include <chrono>
#include <map>

using namespace mlir;
using namespace mlir::lowbit;
using namespace ::lowbit;
namespace pb = ::lowbit::artifact;

namespace {
struct PlanBuilder {
  LoadedModel &model;
  KernelBuilder &kernels;
  const CompileOptions &options;
  pb::Manifest manifest;
  std::vector<uint8_t> weightBytes;
  llvm::StringMap<int> tensorIndex;
  llvm::StringMap<PackedLayout> packedLayouts;
  llvm::StringMap<std::vector<int32_t>> columnOrders;

  // Buffers: the live ones by value, the free ones by row size.
  DenseMap<Value, int> bufferOf;
  std::multimap<int64_t, int> freeBuffers;
  DenseMap<Value, size_t> lastUse;
  bool lastTokenOnly = false;

  int addTensor(const std::string &name, const void *data, size_t size,
                const std::string &layout) {
    auto it = tensorIndex.find(name);
    if (it != tensorIndex.end())
      return it->second;
    size_t offset = (weightBytes.size() + 63) / 64 * 64;
    weightBytes.resize(offset + size);
    std::memcpy(weightBytes.data() + offset, data, size);
    pb::Tensor *t = manifest.add_tensors();
    t->set_name(name);
    t->set_offset(offset);
    t->set_size(size);
    t->set_layout(layout);
    int index = manifest.tensors_size() - 1;
    tensorIndex[name] = index;
    return index;
  }

  int allocate(int64_t rowBytes) {
    auto it = freeBuffers.find(rowBytes);
    if (it != freeBuffers.end()) {
      int id = it->second;
      freeBuffers.erase(it);
      return id;
    }
    manifest.add_buffers()->set_row_bytes(uint64_t(rowBytes));
    return manifest.buffers_size() - 1;
  }
  void release(int id) {
    freeBuffers.emplace(int64_t(manifest.buffers(id).row_bytes()), id);
  }
  int define(Value v) {
    int64_t width = cast<RankedTensorType>(v.getType()).getDimSize(1);
    int id = allocate(activationRowBytes(width));
    bufferOf[v] = id;
    return id;
  }

  static pb::Arg arg(pb::Arg::Kind kind, int index = 0) {
    pb::Arg a;
    a.set_kind(kind);
    a.set_index(uint32_t(index));
    return a;
  }
  pb::Arg buffer(int id) { return arg(pb::Arg::BUFFER, id); }
  pb::Arg of(Value v) { return buffer(bufferOf.lookup(v)); }
  pb::Arg tensor(int id) { return arg(pb::Arg::TENSOR, id); }

  void step(const std::string &kernel, std::vector<pb::Arg> args, Operation *op) {
    pb::Step *s = manifest.add_steps();
    s->set_kernel(kernel);
    for (pb::Arg &a : args)
      *s->add_args() = a;
    s->set_last_token_only(lastTokenOnly);
    std::string label;
    llvm::raw_string_ostream os(label);
    os << op->getName();
    if (auto w = op->getAttrOfType<IntegerAttr>("layer"))
      os << " layer " << w.getInt();
    s->set_label(label);
  }

  /// The packed form of the weight produced by `weightValue`.
  llvm::Expected<std::pair<int, PackedLayout>> packed(Value weightValue) {
    auto w = weightValue.getDefiningOp<WeightOp>();
    std::string name = w.getName().str();
    auto found = packedLayouts.find(name);
    if (found != packedLayouts.end())
      return std::make_pair(tensorIndex[name], found->second);
    WeightEncoding enc;
    int64_t rows, cols;
    if (auto q = dyn_cast<QuantizedWeightType>(w.getType())) {
      enc.quantized = true;
      enc.format = q.getScheme().getFormat();
      enc.bits = q.getScheme().getBits();
      enc.groupSize = q.getScheme().getGroupSize();
      enc.actOrder = q.getScheme().getActOrder();
      rows = q.getShape()[0];
      cols = q.getShape()[1];
    } else {
      auto t = cast<RankedTensorType>(w.getType());
      rows = t.getDimSize(0);
      cols = t.getDimSize(1);
      Type e = t.getElementType();
      enc.floatEncoding = e.isF16()    ? FloatEncoding::F16
                          : e.isBF16() ? FloatEncoding::BF16
                                       : FloatEncoding::F32;
    }
    llvm::Expected<PackedWeight> p = packWeight(model.weights, name, enc, rows, cols);
    if (!p)
      return p.takeError();
    int index = addTensor(name, p->bytes.data(), p->bytes.size(), p->layout.key());
    packedLayouts[name] = p->layout;
    if (p->layout.permutedColumns)
      columnOrders[name] = p->columnOrder;
    return std::make_pair(index, p->layout);
  }

  /// A float vector (norm weight, bias) as f32.
  llvm::Expected<int> floatVector(Value weightValue) {
    auto w = weightValue.getDefiningOp<WeightOp>();
    std::string name = w.getName().str();
    if (tensorIndex.count(name))
      return tensorIndex[name];
    llvm::Expected<const TensorRef *> t = model.weights.get(name);
    if (!t)
      return t.takeError();
    std::vector<float> values;
    if (llvm::Error e = dequantize(**t, values))
      return std::move(e);
    return addTensor(name, values.data(), values.size() * 4, "f32");
  }

  llvm::Error build();
  llvm::Error linear(LinearOp op, size_t index, Value residual, Value result);

  // Int8 activations shared by the linears that read the same value.
  std::map<std::pair<void *, int>, int> quantized;
  std::map<std::pair<void *, int>, size_t> quantizedLastUse;
};
} // namespace

static int64_t widthOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }

llvm::Error PlanBuilder::linear(LinearOp op, size_t index, Value residual, Value result) {
  llvm::Expected<std::pair<int, PackedLayout>> w = packed(op.getWeight());
  if (!w)
    return w.takeError();
  const PackedLayout &l = w->second;
  Value x = op.getInput();
  int64_t k = widthOf(x);
  pb::Arg input = of(x);
  int permuted = -1, quant = -1;
  auto key = std::make_pair(x.getAsOpaquePointer(), int(l.activationQuant));
  if (l.permutedColumns) {
    std::string orderName = op.getWeight().getDefiningOp<WeightOp>().getName().str() + ".column_order";
    const std::vector<int32_t> &order =
        columnOrders[op.getWeight().getDefiningOp<WeightOp>().getName()];
    int orderTensor = addTensor(orderName, order.data(), order.size() * 4, "i32");
    permuted = allocate(activationRowBytes(k));
    step(kernels.permuteColumns(k), {input, tensor(orderTensor), buffer(permuted)}, op);
    input = buffer(permuted);
  }
  if (l.family == KernelFamily::Integer) {
    auto found = quantized.find(key);
    if (permuted < 0 && found != quantized.end()) {
      input = buffer(found->second);
    } else {
      quant = allocate(quantizedRowBytes(k));
      step(kernels.quantizeActivations(k, l.activationQuant), {input, buffer(quant)}, op);
      input = buffer(quant);
      if (permuted < 0)
        quantized[key] = quant;
    }
  }
  std::vector<pb::Arg> args = {input, tensor(w->first)};
  if (op.getBias()) {
    llvm::Expected<int> b = floatVector(op.getBias());
    if (!b)
      return b.takeError();
    args.push_back(tensor(*b));
  }
  if (residual)
    args.push_back(of(residual));
  args.push_back(buffer(define(result)));
  step(kernels.linear(l, bool(op.getBias()), bool(residual)), args, op);
  if (permuted >= 0)
    release(permuted);
  if (quant >= 0 && (permuted >= 0 || quantizedLastUse[key] == index)) {
    release(quant);
    quantized.erase(key);
  } else if (quant < 0 && l.family == KernelFamily::Integer &&
             quantizedLastUse[key] == index) {
    release(quantized[key]);
    quantized.erase(key);
  }
  return llvm::Error::success();
}

llvm::Error PlanBuilder::build() {
  auto forward = model.module->lookupSymbol<func::FuncOp>("forward");
  Block &body = forward.getBody().front();
  std::vector<Operation *> ops;
  for (Operation &op : body)
    ops.push_back(&op);
  size_t lastAdd = 0;
  DenseMap<Operation *, size_t> opIndex;
  for (size_t i = 0; i < ops.size(); ++i) {
    opIndex[ops[i]] = i;
    for (Value v : ops[i]->getOperands())
      lastUse[v] = i;
    if (isa<AddOp>(ops[i]))
      lastAdd = i;
  }
  // Which linear feeds which residual add, and when each shared int8
  // activation is read for the last time.
  DenseMap<Operation *, AddOp> fusedAdd;
  llvm::DenseSet<Operation *> skipped;
  for (size_t i = 0; i < ops.size(); ++i) {
    auto l = dyn_cast<LinearOp>(ops[i]);
    if (!l)
      continue;
    if (!options.fuseResidual || !l.getResult().hasOneUse())
      continue;
    auto add = dyn_cast<AddOp>(*l.getResult().getUsers().begin());
    if (!add)
      continue;
    // The other summand must already exist when the linear runs (LLM.int8's
    // two halves are summed after both are computed).
    Value other = add.getLhs() == l.getResult() ? add.getRhs() : add.getLhs();
    Operation *def = other.getDefiningOp();
    if (def && (!opIndex.count(def) || opIndex[def] >= i))
      continue;
    fusedAdd[l] = add;
    skipped.insert(add);
  }
  for (size_t i = 0; i < ops.size(); ++i)
    if (auto l = dyn_cast<LinearOp>(ops[i])) {
      llvm::Expected<std::pair<int, PackedLayout>> w = packed(l.getWeight());
      if (!w)
        return w.takeError();
      quantizedLastUse[{l.getInput().getAsOpaquePointer(),
                        int(w->second.activationQuant)}] = i;
    }

  int64_t kvLayers = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    Operation *op = ops[i];
    lastTokenOnly = i > lastAdd;
    if (skipped.count(op))
      continue;
    llvm::Error err = llvm::Error::success();
    if (auto e = dyn_cast<EmbeddingOp>(op)) {
      llvm::Expected<std::pair<int, PackedLayout>> w = packed(e.getTable());
      if (!w)
        return w.takeError();
      step(kernels.embedding(w->second),
           {arg(pb::Arg::TOKENS), tensor(w->first), buffer(define(e.getResult()))}, op);
    } else if (auto n = dyn_cast<RmsNormOp>(op)) {
      llvm::Expected<int> w = floatVector(n.getWeight());
      if (!w)
        return w.takeError();
      step(kernels.rmsNorm(widthOf(n.getInput()), n.getEpsilon().convertToFloat()),
           {of(n.getInput()), tensor(*w), buffer(define(n.getResult()))}, op);
    } else if (auto l = dyn_cast<LinearOp>(op)) {
      auto fused = fusedAdd.find(op);
      if (fused != fusedAdd.end()) {
        AddOp add = fused->second;
        Value other = add.getLhs() == l.getResult() ? add.getRhs() : add.getLhs();
        err = linear(l, i, other, add.getResult());
      } else {
        err = linear(l, i, Value(), l.getResult());
      }
    } else if (auto r = dyn_cast<RopeOp>(op)) {
      step(kernels.rope(r.getNumHeads(), r.getHeadDim(), r.getTheta().convertToFloat(),
                        r.getInterleaved()),
           {of(r.getInput()), arg(pb::Arg::POSITIONS), buffer(define(r.getResult()))}, op);
    } else if (auto a = dyn_cast<AttentionOp>(op)) {
      int layer = int(a.getLayer());
      kvLayers = std::max<int64_t>(kvLayers, layer + 1);
      step(kernels.kvStore(widthOf(a.getKey())),
           {of(a.getKey()), of(a.getValue()), arg(pb::Arg::POSITIONS),
            arg(pb::Arg::KEY_CACHE, layer), arg(pb::Arg::VALUE_CACHE, layer)},
           op);
      step(kernels.attention(a.getNumHeads(), a.getNumKvHeads(), a.getHeadDim()),
           {of(a.getQuery()), arg(pb::Arg::POSITIONS), arg(pb::Arg::KEY_CACHE, layer),
            arg(pb::Arg::VALUE_CACHE, layer), buffer(define(a.getResult()))},
           op);
    } else if (auto s = dyn_cast<SwigluOp>(op)) {
      step(kernels.swiglu(widthOf(s.getGate())),
           {of(s.getGate()), of(s.getUp()), buffer(define(s.getResult()))}, op);
    } else if (auto s = dyn_cast<AddOp>(op)) {
      step(kernels.add(widthOf(s.getLhs())),
           {of(s.getLhs()), of(s.getRhs()), buffer(define(s.getResult()))}, op);
    } else if (auto s = dyn_cast<SplitColumnsOp>(op)) {
      ArrayRef<int64_t> cols = s.getColumns();
      std::vector<int32_t> c32(cols.begin(), cols.end());
      std::string name = "split_columns." + std::to_string(i);
      int t = addTensor(name, c32.data(), c32.size() * 4, "i32");
      int inl = define(s.getInliers()), outl = define(s.getOutliers());
      step(kernels.splitColumns(widthOf(s.getInput()), int64_t(cols.size())),
           {of(s.getInput()), tensor(t), buffer(inl), buffer(outl)}, op);
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      manifest.set_logits_buffer(uint32_t(bufferOf.lookup(ret.getOperand(0))));
    }
    if (err)
      return err;
    // Values whose last reader ran give their buffers back.
    for (Value v : op->getOperands())
      if (lastUse.lookup(v) == i && bufferOf.count(v) && !isa<func::ReturnOp>(op)) {
        release(bufferOf[v]);
        bufferOf.erase(v);
      }
  }
  manifest.set_kv_layers(kvLayers);
  manifest.set_kv_width(model.config.numKvHeads * model.config.headDim);
  return llvm::Error::success();
}

auto ::lowbit::compileModel(LoadedModel &model, const CompileOptions &options)
    -> llvm::Error {
  std::optional<CpuTarget> target = resolveCpuTarget(options.target);
  if (!target)
    return llvm::createStringError(
        "unknown or unusable --target '" + options.target +
        "' (x86-64-v3, x86-64-v4, or native on a CPU with AVX2, FMA and F16C)");
  ModuleOp module = model.module.get();
  {
    std::string diagnostics;
    llvm::raw_string_ostream os(diagnostics);
    ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
      os << d.getLocation() << ": " << d << "\n";
      return success();
    });
    if (failed(checkCodegenLegality(module)))
      return llvm::createStringError("the model cannot be compiled:\n" + diagnostics);
  }
  MLIRContext *ctx = module.getContext();
  ctx->loadDialect<func::FuncDialect, arith::ArithDialect, scf::SCFDialect,
                   vector::VectorDialect, math::MathDialect, LLVM::LLVMDialect>();
  OwningOpRef<ModuleOp> kernelModule = ModuleOp::create(UnknownLoc::get(ctx), "kernels");
  KernelBuilder kernels(*kernelModule, *target);
  PlanBuilder plan{model, kernels, options, {}, {}, {}, {}, {}, {}, {}, {}, false, {}, {}};
  auto start = std::chrono::steady_clock::now();
  if (llvm::Error e = plan.build())
    return e;
  pb::Manifest &m = plan.manifest;
  m.set_format_version(kArtifactFormatVersion);
  m.set_target(target->name);
  for (const std::string &f : target->requiredFeatures)
    m.add_required_features(f);
  pb::ModelConfig *c = m.mutable_config();
  const ModelConfig &mc = model.config;
  c->set_arch(mc.arch);
  c->set_vocab_size(mc.vocabSize);
  c->set_hidden_size(mc.hiddenSize);
  c->set_num_layers(mc.numLayers);
  c->set_num_heads(mc.numHeads);
  c->set_num_kv_heads(mc.numKvHeads);
  c->set_head_dim(mc.headDim);
  c->set_context_length(mc.contextLength);
  c->set_bos_token_id(mc.bosTokenId);
  c->set_eos_token_id(mc.eosTokenId);
  const Vocabulary &vocab = model.tokenizer->vocabulary();
  m.mutable_tokenizer()->set_sentencepiece_model(
      vocab.originalProto.empty() ? vocab.toSentencePieceProto() : vocab.originalProto);
  m.mutable_tokenizer()->set_add_bos(vocab.addBos);

  if (options.irDump)
    *options.irDump << "// -----// kernels (scf, vector, arith, math, llvm) //----- //\n"
                    << *kernelModule << "\n";
  llvm::Expected<EmittedCode> code =
      emitSharedObject(*kernelModule, *target, !options.assemblyPath.empty());
  if (!code)
    return code.takeError();
  if (options.irDump)
    *options.irDump << "// -----// kernels (llvm dialect) //----- //\n" << *kernelModule << "\n";
  if (!options.assemblyPath.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(options.assemblyPath, ec);
    if (ec)
      return llvm::createStringError(options.assemblyPath + ": " + ec.message());
    os << code->assembly;
  }
  rt::ArtifactParts parts;
  parts.manifest = m.SerializeAsString();
  parts.weights = plan.weightBytes.data();
  parts.weightsSize = plan.weightBytes.size();
  parts.code = code->sharedObject.data();
  parts.codeSize = code->sharedObject.size();
  rt::Status st = rt::writeArtifact(options.output, parts);
  if (!st.ok())
    return llvm::createStringError(st.message());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  llvm::errs() << "lowbit-compile: " << m.steps_size() << " dispatches, "
               << kernelModule->getBody()->getOperations().size() << " kernels, "
               << plan.weightBytes.size() / 1048576.0 << " MiB of packed weights, "
               << m.buffers_size() << " buffers, " << llvm::format("%.1f", seconds)
               << " s\n";
  return llvm::Error::success();
}
