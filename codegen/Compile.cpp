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
#include "Annotations.h"
#include "ArtifactOutput.h"
#include "lowbit/Codegen/Passes.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Support/OutputFile.h"
#include "lowbit/Codegen/EmitObject.h"
#include "lowbit/Codegen/GpuKernels.h"
#include "lowbit/Codegen/Kernels.h"
#include "lowbit/Codegen/WeightPacking.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Runtime/ArtifactFormat.h"
#include "lowbit/Runtime/ArtifactWriter.h"

#include "artifact.pb.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "mlir/Pass/PassManager.h"

#include <chrono>
#include <map>
#include <set>

using namespace mlir;
using namespace mlir::lowbit;
using namespace ::lowbit;
namespace pb = ::lowbit::artifact;

namespace {
/// The artifact's plan from the annotated @forward: one step per kernel of
/// every dispatch, activation buffers reused once their value is dead.
struct PlanBuilder {
  pb::Manifest &manifest;
  std::map<std::pair<int64_t, int64_t>, int> tensorIndex;

  DenseMap<Value, int> bufferOf;
  BufferPool pool{manifest};
  DenseMap<Value, size_t> lastUse;
  bool lastTokenOnly = false;
  // Int8 activations shared by the linears that read the same value with the
  // same rounding: (value, quantize kernel) -> buffer, and its last reader.
  std::map<std::pair<void *, std::string>, int> quantized;
  std::map<std::pair<void *, std::string>, size_t> quantizedLastUse;

  int tensor(const std::string &name, SectionRange r, StringRef layout) {
    auto [it, inserted] = tensorIndex.try_emplace({r.offset, r.size}, 0);
    if (!inserted)
      return it->second;
    pb::Tensor *t = manifest.add_tensors();
    t->set_name(name);
    t->set_offset(uint64_t(r.offset));
    t->set_size(uint64_t(r.size));
    t->set_layout(layout.str());
    return it->second = manifest.tensors_size() - 1;
  }
  llvm::Expected<int> tensorOf(Operation *op, StringRef attrName, const std::string &name) {
    auto dict = dyn_cast_or_null<DictionaryAttr>(op->getAttr(attrName));
    std::optional<SectionRange> r = rangeFromAttr(dict);
    if (!r)
      return llvm::createStringError("'" + op->getName().getStringRef().str() +
                                     "' has no " + attrName.str() +
                                     " (run --lowbit-pack-weights first)");
    auto layout = dyn_cast_or_null<StringAttr>(dict.get("layout"));
    return tensor(name, *r, layout ? layout.getValue() : "");
  }
  llvm::Expected<int> weightTensor(Value w) {
    auto op = w.getDefiningOp<WeightOp>();
    return tensorOf(op, kPackedAttr, op.getName().str());
  }

  int allocate(int64_t rowBytes) { return pool.allocate(rowBytes); }
  void release(int id) { pool.release(id); }
  int define(Value v) {
    int id = allocate(activationRowBytes(cast<RankedTensorType>(v.getType()).getDimSize(1)));
    bufferOf[v] = id;
    return id;
  }

  static pb::Arg arg(pb::Arg::Kind kind, int index = 0) {
    pb::Arg a;
    a.set_kind(kind);
    a.set_index(uint32_t(index));
    return a;
  }
  static pb::Arg buffer(int id) { return arg(pb::Arg::BUFFER, id); }
  static pb::Arg tensorArg(int id) { return arg(pb::Arg::TENSOR, id); }
  pb::Arg of(Value v) { return buffer(bufferOf.lookup(v)); }
  /// The result of an op whose kernel writes it already rounded to int8 (role
  /// "quantize" names the rounding): the linears that read it find it there.
  int defineQuantized(Value v, StringRef quantize) {
    int id = allocate(quantizedRowBytes(cast<RankedTensorType>(v.getType()).getDimSize(1)));
    quantized[{v.getAsOpaquePointer(), quantize.str()}] = id;
    return id;
  }

  // The buffers and caches the steps since the last barrier read and write.
  std::set<std::pair<int, uint32_t>> phaseReads, phaseWrites;

  /// Appends a step whose arguments from `firstWritten` on are its outputs
  /// (kv_store: the caches). A step independent of every step since the last
  /// barrier joins them: the previous step needs no barrier after it.
  void step(StringRef kernel, std::vector<pb::Arg> args, Operation *op,
            int firstWritten = -1) {
    if (firstWritten < 0)
      firstWritten = int(args.size()) - 1;
    std::set<std::pair<int, uint32_t>> reads, writes;
    for (int i = 0; i < int(args.size()); ++i) {
      pb::Arg::Kind k = args[size_t(i)].kind();
      if (k != pb::Arg::BUFFER && k != pb::Arg::KEY_CACHE && k != pb::Arg::VALUE_CACHE)
        continue;
      (i >= firstWritten ? writes : reads).insert({int(k), args[size_t(i)].index()});
    }
    auto meets = [](const auto &a, const auto &b) {
      for (const auto &x : a)
        if (b.count(x))
          return true;
      return false;
    };
    bool independent = manifest.steps_size() > 0 &&
                       manifest.steps(manifest.steps_size() - 1).last_token_only() ==
                           lastTokenOnly &&
                       !meets(reads, phaseWrites) && !meets(writes, phaseWrites) &&
                       !meets(writes, phaseReads);
    if (independent) {
      manifest.mutable_steps(manifest.steps_size() - 1)->set_no_barrier_after(true);
    } else {
      phaseReads.clear();
      phaseWrites.clear();
    }
    phaseReads.insert(reads.begin(), reads.end());
    phaseWrites.insert(writes.begin(), writes.end());
    pb::Step *s = manifest.add_steps();
    s->set_kernel(kernel.str());
    for (pb::Arg &a : args)
      *s->add_args() = a;
    s->set_last_token_only(lastTokenOnly);
    std::string label = op->getName().getStringRef().str();
    if (auto layer = op->getAttrOfType<IntegerAttr>("layer"))
      label += " layer " + std::to_string(layer.getInt());
    s->set_label(label);
  }

  llvm::Error linear(LinearOp op, DictionaryAttr kernels, size_t index);
  llvm::Error build(func::FuncOp forward);
};
} // namespace

static StringRef kernelFor(DictionaryAttr kernels, StringRef role) {
  auto sym = kernels ? dyn_cast_or_null<FlatSymbolRefAttr>(kernels.get(role)) : nullptr;
  return sym ? sym.getValue() : StringRef();
}

llvm::Error PlanBuilder::linear(LinearOp op, DictionaryAttr kernels, size_t index) {
  llvm::Expected<int> w = weightTensor(op.getWeight());
  if (!w)
    return w.takeError();
  Value x = op.getInput();
  int64_t k = cast<RankedTensorType>(x.getType()).getDimSize(1);
  pb::Arg input = of(x);
  int permuted = -1;
  if (StringRef permute = kernelFor(kernels, "permute"); !permute.empty()) {
    WeightOp wop = op.getWeight().getDefiningOp<WeightOp>();
    llvm::Expected<int> order =
        tensorOf(wop, kColumnOrderAttr, wop.getName().str() + ".column_order");
    if (!order)
      return order.takeError();
    permuted = allocate(activationRowBytes(k));
    step(permute, {input, tensorArg(*order), buffer(permuted)}, op);
    input = buffer(permuted);
  }
  std::pair<void *, std::string> key;
  bool sharedQuant = false;
  int quant = -1;
  if (StringRef quantize = kernelFor(kernels, "quantize"); !quantize.empty()) {
    key = {x.getAsOpaquePointer(), quantize.str()};
    auto found = quantized.find(key);
    if (permuted < 0 && found != quantized.end()) {
      input = buffer(found->second);
    } else {
      quant = allocate(quantizedRowBytes(k));
      step(quantize, {input, buffer(quant)}, op);
      input = buffer(quant);
      if (permuted < 0)
        quantized[key] = quant;
    }
    sharedQuant = permuted < 0;
  }
  std::vector<pb::Arg> args = {input, tensorArg(*w)};
  if (op.getBias()) {
    llvm::Expected<int> b = weightTensor(op.getBias());
    if (!b)
      return b.takeError();
    args.push_back(tensorArg(*b));
  }
  Value result = op.getResult();
  if (op->hasAttr(kWritesSumAttr)) {
    auto add = cast<AddOp>(*result.getUsers().begin());
    args.push_back(of(add.getLhs() == result ? add.getRhs() : add.getLhs()));
    result = add.getResult();
  }
  args.push_back(buffer(define(result)));
  step(kernelFor(kernels, "main"), args, op);
  if (permuted >= 0)
    release(permuted);
  if (quant >= 0 && !sharedQuant)
    release(quant);
  if (sharedQuant && quantizedLastUse[key] == index) {
    release(quantized[key]);
    quantized.erase(key);
  }
  return llvm::Error::success();
}

llvm::Error PlanBuilder::build(func::FuncOp forward) {
  std::vector<Operation *> ops;
  for (Operation &op : forward.getBody().front())
    ops.push_back(&op);
  for (size_t i = 0; i < ops.size(); ++i) {
    for (Value v : ops[i]->getOperands())
      lastUse[v] = i;
    if (auto l = dyn_cast<LinearOp>(ops[i])) {
      StringRef q = kernelFor(ops[i]->getAttrOfType<DictionaryAttr>(kKernelsAttr), "quantize");
      if (!q.empty())
        quantizedLastUse[{l.getInput().getAsOpaquePointer(), q.str()}] = i;
    }
  }
  int64_t kvLayers = 0;
  // The runtime allocates a KV cache per layer up to the highest index:
  // bound the indices by the attention ops there are.
  int64_t attentionOps = llvm::count_if(ops, llvm::IsaPred<AttentionOp>);
  for (Operation *op : ops)
    if (auto a = dyn_cast<AttentionOp>(op))
      if (int64_t layer = a.getLayer(); layer < 0 || layer >= attentionOps)
        return llvm::createStringError(
            "lowbit.attention has layer " + std::to_string(layer) +
            ", outside [0, " + std::to_string(attentionOps) + ") (@forward has " +
            std::to_string(attentionOps) + " attention ops)");
  for (size_t i = 0; i < ops.size(); ++i) {
    Operation *op = ops[i];
    lastTokenOnly = op->hasAttr(kLastTokenOnlyAttr);
    auto kernels = op->getAttrOfType<DictionaryAttr>(kKernelsAttr);
    StringRef main = kernelFor(kernels, "main");
    if (!isa<WeightOp, func::ReturnOp>(op) && main.empty() && !op->hasAttr(kFusedAttr))
      return llvm::createStringError("'" + op->getName().getStringRef().str() +
                                     "' has no kernel (run --lowbit-generate-kernels first)");
    llvm::Error err = llvm::Error::success();
    if (auto e = dyn_cast<EmbeddingOp>(op)) {
      llvm::Expected<int> w = weightTensor(e.getTable());
      if (!w)
        return w.takeError();
      step(main, {arg(pb::Arg::TOKENS), tensorArg(*w), buffer(define(e.getResult()))}, op);
    } else if (auto n = dyn_cast<RmsNormOp>(op)) {
      llvm::Expected<int> w = weightTensor(n.getWeight());
      if (!w)
        return w.takeError();
      StringRef quantize = kernelFor(kernels, "quantize");
      int out = quantize.empty() ? define(n.getResult())
                                 : defineQuantized(n.getResult(), quantize);
      step(main, {of(n.getInput()), tensorArg(*w), buffer(out)}, op);
    } else if (auto l = dyn_cast<LinearOp>(op)) {
      err = linear(l, kernels, i);
    } else if (auto r = dyn_cast<RopeOp>(op)) {
      step(main, {of(r.getInput()), arg(pb::Arg::POSITIONS), buffer(define(r.getResult()))}, op);
    } else if (auto a = dyn_cast<AttentionOp>(op)) {
      int layer = int(a.getLayer());
      kvLayers = std::max<int64_t>(kvLayers, layer + 1);
      step(kernelFor(kernels, "kv_store"),
           {of(a.getKey()), of(a.getValue()), arg(pb::Arg::POSITIONS),
            arg(pb::Arg::KEY_CACHE, layer), arg(pb::Arg::VALUE_CACHE, layer)},
           op, /*firstWritten=*/3);
      step(main,
           {of(a.getQuery()), arg(pb::Arg::POSITIONS), arg(pb::Arg::KEY_CACHE, layer),
            arg(pb::Arg::VALUE_CACHE, layer), buffer(define(a.getResult()))},
           op);
    } else if (auto s = dyn_cast<SwigluOp>(op)) {
      StringRef quantize = kernelFor(kernels, "quantize");
      int out = quantize.empty() ? define(s.getResult())
                                 : defineQuantized(s.getResult(), quantize);
      step(main, {of(s.getGate()), of(s.getUp()), buffer(out)}, op);
    } else if (auto s = dyn_cast<AddOp>(op)) {
      if (!s->hasAttr(kFusedAttr))
        step(main, {of(s.getLhs()), of(s.getRhs()), buffer(define(s.getResult()))}, op);
    } else if (auto s = dyn_cast<SplitColumnsOp>(op)) {
      llvm::Expected<int> cols =
          tensorOf(op, kPackedColumnsAttr, "split_columns." + std::to_string(i));
      if (!cols)
        return cols.takeError();
      int inl = define(s.getInliers()), outl = define(s.getOutliers());
      step(main, {of(s.getInput()), tensorArg(*cols), buffer(inl), buffer(outl)}, op,
           /*firstWritten=*/2);
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      manifest.set_logits_buffer(uint32_t(bufferOf.lookup(ret.getOperand(0))));
    }
    if (err)
      return err;
    // Values whose last reader ran give their buffers back.
    if (!isa<func::ReturnOp>(op))
      for (Value v : op->getOperands())
        if (lastUse.lookup(v) == i && bufferOf.count(v)) {
          release(bufferOf[v]);
          bufferOf.erase(v);
        }
  }
  manifest.set_kv_layers(kvLayers);
  return llvm::Error::success();
}

/// The CPU and GPU halves of `--target=CPU,GPU` (either order); nullopt
/// unless the target names exactly one of each.
static std::optional<std::pair<llvm::StringRef, llvm::StringRef>>
splitTwoTargets(llvm::StringRef target) {
  llvm::SmallVector<llvm::StringRef, 2> parts;
  target.split(parts, ',');
  if (parts.size() != 2)
    return std::nullopt;
  llvm::StringRef a = parts[0].trim(), b = parts[1].trim();
  if (a.starts_with("sm_") == b.starts_with("sm_"))
    return std::nullopt;
  return a.starts_with("sm_") ? std::make_pair(b, a) : std::make_pair(a, b);
}

auto ::lowbit::checkCompileTarget(llvm::StringRef target) -> llvm::Error {
  if (target.contains(',')) {
    auto two = splitTwoTargets(target);
    if (!two)
      return llvm::createStringError("--target '" + target.str() +
                                     "': an artifact for two targets names one CPU target "
                                     "and one GPU target (x86-64-v3,sm_90)");
    for (llvm::StringRef half : {two->first, two->second})
      if (llvm::Error e = checkCompileTarget(half))
        return llvm::createStringError("--target '" + target.str() + "': " +
                                       llvm::toString(std::move(e)));
    return llvm::Error::success();
  }
  // GPU targets are named like sm_90.
  if (target.trim().starts_with("sm_")) {
    if (!resolveGpuTarget(target.trim()))
      return llvm::createStringError("unknown GPU --target '" + target.str() +
                                     "' (sm_80 or sm_90)");
    return llvm::Error::success();
  }
  if (!resolveCpuTarget(target))
    return llvm::createStringError(
        "unknown or unusable --target '" + target.str() +
        "' (x86-64-v3, x86-64-v4, native on a CPU with AVX2, FMA and F16C, sm_80 or sm_90)");
  return llvm::Error::success();
}

auto ::lowbit::compileModel(LoadedModel &model, const CompileOptions &options)
    -> llvm::Error {
  if (llvm::Error e = checkCompileTarget(options.target))
    return e;
  if (auto two = splitTwoTargets(options.target))
    return compileTwoTargets(model, options, two->first, *resolveGpuTarget(two->second));
  if (std::optional<GpuTarget> gpu = resolveGpuTarget(llvm::StringRef(options.target).trim()))
    return compileGpuModel(model, options, *gpu);
  std::optional<CpuTarget> target = resolveCpuTarget(options.target);
  if (!target)
    return llvm::createStringError(
        "unknown or unusable --target '" + options.target +
        "' (x86-64-v3, x86-64-v4, or native on a CPU with AVX2, FMA and F16C)");
  ModuleOp module = model.module.get();
  MLIRContext *ctx = module.getContext();
  auto start = std::chrono::steady_clock::now();

  // Refuse an output that is one of the model's files before any work.
  if (llvm::Error e = checkNotAnInput(options.output))
    return e;
  // The packed weights go to a temporary file beside the output (or in the
  // temporary directory when the output is a device such as /dev/null).
  llvm::SmallString<256> weightsPath;
  llvm::StringRef out = options.output;
  bool deviceOutput = out == "-" || out.starts_with("/dev/") || out.starts_with("/proc/");
  if (std::error_code ec =
          deviceOutput
              ? llvm::sys::fs::createTemporaryFile("lowbit-weights", "bin", weightsPath)
              : llvm::sys::fs::createUniqueFile(options.output + ".weights-%%%%%%",
                                                weightsPath))
    return llvm::createStringError(options.output + ": cannot create a temporary file: " +
                                   ec.message());
  auto removeWeights = llvm::make_scope_exit([&] { llvm::sys::fs::remove(weightsPath); });

  {
    std::string diagnostics;
    llvm::raw_string_ostream os(diagnostics);
    ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
      if (d.getSeverity() == DiagnosticSeverity::Error)
        os << d.getLocation() << ": " << d << "\n";
      return success();
    });
    PassManager pm(ctx);
    if (options.irDump) {
      ctx->disableMultithreading();
      pm.enableIRPrinting([](Pass *, Operation *) { return false; },
                          [](Pass *, Operation *) { return true; },
                          /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false,
                          /*printAfterOnlyOnFailure=*/false, *options.irDump);
    }
    buildCodegenPipeline(pm, options.target, weightsPath.str().str(), options.fuseResidual);
    if (failed(pm.run(module)))
      return llvm::createStringError("the model cannot be compiled:\n" + diagnostics);
  }

  pb::Manifest m;
  PlanBuilder plan{m};
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (llvm::Error e = plan.build(forward))
    return e;
  describeModel(m, model, target->name);
  for (const std::string &f : target->requiredFeatures)
    m.add_required_features(f);

  auto kernels = module.lookupSymbol<ModuleOp>(kKernelsModuleName);
  llvm::Expected<EmittedCode> code =
      emitSharedObject(kernels, *target, !options.assemblyPath.empty());
  if (!code)
    return code.takeError();
  if (!options.assemblyPath.empty()) {
    if (llvm::Error e = writeFileAtomically(options.assemblyPath, [&](llvm::raw_pwrite_stream &os) {
          os << code->assembly;
          return llvm::Error::success();
        }))
      return e;
  }
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> weights =
      llvm::MemoryBuffer::getFile(weightsPath, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!weights)
    return llvm::createStringError(weightsPath + ": " + weights.getError().message());
  const size_t weightBytes = (*weights)->getBufferSize();
  if (llvm::Error e = writeArtifactFile(options.output, m, (*weights)->getBufferStart(),
                                        weightBytes, code->sharedObject.data(),
                                        code->sharedObject.size()))
    return e;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  llvm::errs() << llvm::format("lowbit-compile: %d dispatches, %zu kernels, %.1f MiB of "
                               "packed weights, %d buffers, %.1f s\n",
                               m.steps_size(), kernels.getBody()->getOperations().size(),
                               weightBytes / 1048576.0, m.buffers_size(), seconds);
  return llvm::Error::success();
}
