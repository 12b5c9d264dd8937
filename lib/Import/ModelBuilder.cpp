//===- ModelBuilder.cpp - The @forward function of a decoder --------------===//
#include "lowbit/Import/Import.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace lowbit;

namespace {
class DecoderBuilder {
public:
  DecoderBuilder(MLIRContext *ctx, const ModelSource &source,
                 const WeightStore &weights)
      : ctx(ctx), b(ctx), loc(UnknownLoc::get(ctx)), src(source),
        cfg(source.config), weights(weights) {}

  llvm::Expected<OwningOpRef<ModuleOp>> build();

private:
  Type activation(int64_t width) {
    return RankedTensorType::get({ShapedType::kDynamic, width}, b.getF32Type());
  }
  Value create(StringRef name, ValueRange operands, Type result,
               ArrayRef<NamedAttribute> attrs = {}) {
    OperationState state(loc, name);
    state.addOperands(operands);
    state.addTypes(result);
    state.addAttributes(attrs);
    return b.create(state)->getResult(0);
  }
  NamedAttribute attr(StringRef name, Attribute value) {
    return b.getNamedAttr(name, value);
  }
  llvm::Expected<Type> weightType(const TensorRef &t);
  llvm::Expected<Type> affineType(const ModelSource::AffineScheme &scheme,
                                  ArrayRef<int64_t> shape);
  llvm::Expected<Value> weight(WeightRole role, int64_t layer = 0);
  Value weightOrNull(WeightRole role, int64_t layer);
  Value linear(Value x, Value w, Value bias, int64_t outWidth) {
    SmallVector<Value> ops{x, w};
    if (bias)
      ops.push_back(bias);
    return create("lowbit.linear", ops, activation(outWidth));
  }
  Value rmsNorm(Value x, Value w) {
    return create("lowbit.rms_norm", {x, w}, x.getType(),
                  {attr("epsilon", b.getF32FloatAttr(cfg.rmsNormEps))});
  }

  MLIRContext *ctx;
  OpBuilder b;
  Location loc;
  const ModelSource &src;
  const ModelConfig &cfg;
  const WeightStore &weights;
  llvm::Error deferred = llvm::Error::success();
};
} // namespace

llvm::Expected<Type> DecoderBuilder::weightType(const TensorRef &t) {
  Type elem;
  switch (t.dtype) {
  case DType::F32: elem = b.getF32Type(); break;
  case DType::F16: elem = b.getF16Type(); break;
  case DType::BF16: elem = b.getBF16Type(); break;
  default: break;
  }
  if (elem)
    return RankedTensorType::get(t.shape, elem);
  const DTypeInfo &info = getDTypeInfo(t.dtype);
  if (info.blockElems > 1 && t.shape.size() == 2) {
    unsigned bits = 0;
    StringRef n = info.name;
    if (n.starts_with("q8")) bits = 8;
    else if (n.starts_with("q6")) bits = 6;
    else if (n.starts_with("q5")) bits = 5;
    else if (n.starts_with("q4")) bits = 4;
    else if (n.starts_with("q3")) bits = 3;
    else if (n.starts_with("q2")) bits = 2;
    bool symmetric = n == "q4_0" || n == "q5_0" || n == "q8_0" || n == "q3_k" ||
                     n == "q6_k";
    std::string text =
        llvm::formatv("!lowbit.qweight<{0}x{1}, #lowbit.scheme<format = {2}, "
                      "bits = {3}, group_size = {4}, symmetric = {5}, "
                      "act_order = false>>",
                      t.shape[0], t.shape[1], n, bits, info.blockElems,
                      symmetric ? "true" : "false")
            .str();
    if (Type type = parseType(text, ctx))
      return type;
  }
  return fileError(weights.files().empty() ? "" : weights.files().front(),
                   "tensor '{0}' has encoding {1} with shape rank {2}, which "
                   "the model IR cannot represent", t.name, info.name,
                   t.shape.size());
}

llvm::Expected<Type>
DecoderBuilder::affineType(const ModelSource::AffineScheme &scheme,
                           ArrayRef<int64_t> shape) {
  std::string text =
      llvm::formatv("!lowbit.qweight<{0}x{1}, #lowbit.scheme<format = affine, "
                    "bits = {2}, group_size = {3}, symmetric = {4}, act_order "
                    "= {5}>>",
                    shape[0], shape[1], scheme.bits, scheme.groupSize,
                    scheme.symmetric ? "true" : "false",
                    scheme.actOrder ? "true" : "false")
          .str();
  if (Type type = parseType(text, ctx))
    return type;
  return llvm::createStringError("cannot build the affine weight type " + text);
}

/// The shape the configuration implies for a weight (outermost first).
static SmallVector<int64_t> expectedShape(const ModelConfig &c, WeightRole role) {
  int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
  switch (role) {
  case WeightRole::Embedding:
  case WeightRole::Output: return {c.vocabSize, c.hiddenSize};
  case WeightRole::AttnNorm:
  case WeightRole::FfnNorm:
  case WeightRole::OutputNorm: return {c.hiddenSize};
  case WeightRole::Query: return {q, c.hiddenSize};
  case WeightRole::Key:
  case WeightRole::Value: return {kv, c.hiddenSize};
  case WeightRole::AttnOutput: return {c.hiddenSize, q};
  case WeightRole::QueryBias: return {q};
  case WeightRole::KeyBias:
  case WeightRole::ValueBias: return {kv};
  case WeightRole::Gate:
  case WeightRole::Up: return {c.intermediateSize, c.hiddenSize};
  case WeightRole::Down: return {c.hiddenSize, c.intermediateSize};
  }
  return {};
}

llvm::Expected<Value> DecoderBuilder::weight(WeightRole role, int64_t layer) {
  std::string name = weightName(src.naming, role, layer);
  llvm::Expected<const TensorRef *> t = weights.get(name);
  if (!t)
    return t.takeError();
  SmallVector<int64_t> want = expectedShape(cfg, role);
  if (ArrayRef<int64_t>((*t)->shape) != ArrayRef<int64_t>(want))
    return fileError(weights.fileOf(name),
                     "tensor '{0}' has shape [{1}], expected [{2}] from the "
                     "model configuration", name,
                     llvm::make_range((*t)->shape.begin(), (*t)->shape.end()),
                     llvm::make_range(want.begin(), want.end()));
  auto affine = src.affineWeights.find(name);
  llvm::Expected<Type> type =
      affine == src.affineWeights.end() ? weightType(**t) : affineType(affine->second, want);
  if (!type)
    return type.takeError();
  return create("lowbit.weight", {}, *type,
                {attr("name", b.getStringAttr(name))});
}

Value DecoderBuilder::weightOrNull(WeightRole role, int64_t layer) {
  if (!weights.find(weightName(src.naming, role, layer)))
    return nullptr;
  llvm::Expected<Value> v = weight(role, layer);
  if (!v) {
    deferred = llvm::joinErrors(std::move(deferred), v.takeError());
    return nullptr;
  }
  return *v;
}

llvm::Expected<OwningOpRef<ModuleOp>> DecoderBuilder::build() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  module->getOperation()->setAttr("lowbit.config", configToAttr(ctx, cfg));
  SmallVector<Attribute> files;
  for (const std::string &f : src.weightFiles)
    files.push_back(b.getStringAttr(f));
  module->getOperation()->setAttr("lowbit.weight_files", b.getArrayAttr(files));
  if (!src.sideFiles.empty()) {
    SmallVector<Attribute> side;
    for (const std::string &f : src.sideFiles)
      side.push_back(b.getStringAttr(f));
    module->getOperation()->setAttr("lowbit.side_files", b.getArrayAttr(side));
  }
  module->getOperation()->setAttr("lowbit.tokenizer",
                                  b.getStringAttr(src.tokenizer));

  Type idsType = RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
  Type logitsType = activation(cfg.vocabSize);
  b.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(b, loc, "forward",
                                   b.getFunctionType({idsType, idsType},
                                                     {logitsType}));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToEnd(body);
  Value tokens = body->getArgument(0), positions = body->getArgument(1);

  int64_t qWidth = cfg.numHeads * cfg.headDim;
  int64_t kvWidth = cfg.numKvHeads * cfg.headDim;
  auto ropeAttrs = [&](int64_t heads) -> SmallVector<NamedAttribute> {
    return {attr("num_heads", b.getI64IntegerAttr(heads)),
            attr("head_dim", b.getI64IntegerAttr(cfg.headDim)),
            attr("theta", b.getF32FloatAttr(float(cfg.ropeTheta))),
            attr("interleaved", b.getBoolAttr(src.interleavedRope))};
  };

  llvm::Expected<Value> embed = weight(WeightRole::Embedding);
  if (!embed)
    return embed.takeError();
  Value x = create("lowbit.embedding", {tokens, *embed},
                   activation(cfg.hiddenSize));
  for (int64_t l = 0; l < cfg.numLayers; ++l) {
    SmallVector<Value> w;
    for (WeightRole role :
         {WeightRole::AttnNorm, WeightRole::Query, WeightRole::Key,
          WeightRole::Value, WeightRole::AttnOutput, WeightRole::FfnNorm,
          WeightRole::Gate, WeightRole::Up, WeightRole::Down}) {
      llvm::Expected<Value> v = weight(role, l);
      if (!v)
        return v.takeError();
      w.push_back(*v);
    }
    Value qb = weightOrNull(WeightRole::QueryBias, l);
    Value kb = weightOrNull(WeightRole::KeyBias, l);
    Value vb = weightOrNull(WeightRole::ValueBias, l);
    if (deferred)
      return std::move(deferred);

    Value h = rmsNorm(x, w[0]);
    Value q = linear(h, w[1], qb, qWidth);
    Value k = linear(h, w[2], kb, kvWidth);
    Value v = linear(h, w[3], vb, kvWidth);
    q = create("lowbit.rope", {q, positions}, q.getType(), ropeAttrs(cfg.numHeads));
    k = create("lowbit.rope", {k, positions}, k.getType(), ropeAttrs(cfg.numKvHeads));
    Value a = create("lowbit.attention", {q, k, v, positions}, activation(qWidth),
                     {attr("num_heads", b.getI64IntegerAttr(cfg.numHeads)),
                      attr("num_kv_heads", b.getI64IntegerAttr(cfg.numKvHeads)),
                      attr("head_dim", b.getI64IntegerAttr(cfg.headDim)),
                      attr("layer", b.getI64IntegerAttr(l))});
    x = create("lowbit.add", {x, linear(a, w[4], nullptr, cfg.hiddenSize)},
               x.getType());
    Value h2 = rmsNorm(x, w[5]);
    Value g = linear(h2, w[6], nullptr, cfg.intermediateSize);
    Value u = linear(h2, w[7], nullptr, cfg.intermediateSize);
    Value m = create("lowbit.swiglu", {g, u}, g.getType());
    x = create("lowbit.add", {x, linear(m, w[8], nullptr, cfg.hiddenSize)},
               x.getType());
  }
  llvm::Expected<Value> norm = weight(WeightRole::OutputNorm);
  if (!norm)
    return norm.takeError();
  Value out = *embed;
  if (!cfg.tieWordEmbeddings ||
      weights.find(weightName(src.naming, WeightRole::Output))) {
    llvm::Expected<Value> o = weight(WeightRole::Output);
    if (!o)
      return o.takeError();
    out = *o;
  }
  Value logits = linear(rmsNorm(x, *norm), out, nullptr, cfg.vocabSize);
  func::ReturnOp::create(b, loc, logits);
  return std::move(module);
}

llvm::Expected<OwningOpRef<ModuleOp>>
lowbit::buildModelModule(MLIRContext *ctx, const ModelSource &source,
                         const WeightStore &weights) {
  ctx->loadDialect<func::FuncDialect>();
  ctx->getOrLoadDialect("lowbit");
  DecoderBuilder builder(ctx, source, weights);
  auto module = builder.build();
  if (!module)
    return module.takeError();
  if (failed(verify(module->get())))
    return fileError(source.weightFiles.empty() ? "" : source.weightFiles.front(),
                     "the imported model does not verify (shapes in the "
                     "weight files disagree with the configuration)");
  return module;
}
