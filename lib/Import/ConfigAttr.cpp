//===- ConfigAttr.cpp - ModelConfig <-> #lowbit.config --------------------===//
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Import/Import.h"

// Both the C++ libraries (::lowbit) and the dialect (mlir::lowbit) are in
// scope here, so names are qualified.
using ::lowbit::ModelConfig;

mlir::Attribute lowbit::configToAttr(mlir::MLIRContext *ctx, const ModelConfig &c) {
  return mlir::lowbit::ConfigAttr::get(
      ctx, c.arch, c.vocabSize, c.hiddenSize, c.intermediateSize, c.numLayers,
      c.numHeads, c.numKvHeads, c.headDim, c.contextLength,
      double(c.rmsNormEps), c.ropeTheta, c.bosTokenId, c.eosTokenId,
      c.tieWordEmbeddings);
}

llvm::Expected<ModelConfig> lowbit::configFromModule(mlir::ModuleOp module) {
  auto attr = llvm::dyn_cast_or_null<mlir::lowbit::ConfigAttr>(
      module->getAttr("lowbit.config"));
  if (!attr)
    return llvm::createStringError(
        "module has no #lowbit.config attribute 'lowbit.config'");
  ModelConfig c;
  c.arch = attr.getArch().str();
  c.vocabSize = attr.getVocabSize();
  c.hiddenSize = attr.getHiddenSize();
  c.intermediateSize = attr.getIntermediateSize();
  c.numLayers = attr.getNumLayers();
  c.numHeads = attr.getNumHeads();
  c.numKvHeads = attr.getNumKvHeads();
  c.headDim = attr.getHeadDim();
  c.contextLength = attr.getContextLength();
  c.rmsNormEps = attr.getRmsNormEps();
  c.ropeTheta = attr.getRopeTheta();
  c.bosTokenId = attr.getBosTokenId();
  c.eosTokenId = attr.getEosTokenId();
  c.tieWordEmbeddings = attr.getTieWordEmbeddings();
  // The attribute's verifier checks signs; the sizes must also pass the
  // readers' range checks before anything is sized by them.
  if (llvm::Error e = c.validate("#lowbit.config"))
    return std::move(e);
  return c;
}
