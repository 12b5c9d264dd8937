//===- Bnb4bit.cpp - --lowbit-bnb-4bit ------------------------------------===//
#include "lowbit/Formats/CompanionTensors.h"
#include "PassSupport.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/SafetensorsStreamWriter.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Quant/Bnb.h"
#include "lowbit/Support/Progress.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringSet.h"

#include <cstring>

namespace mlir::lowbit {
#define GEN_PASS_DEF_BNB4BIT
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using ::lowbit::DType;

/// The side-file layout documented in docs/ir.md (what readBnb4BitWeight
/// reads back) of a weight with `w`'s shape and options.
static void declareBnbTensors(std::vector<::lowbit::SafetensorsTensorInfo> &out,
                              llvm::StringRef name,
                              const ::lowbit::Bnb4BitWeight &w) {
  using ::lowbit::Companion;
  out.push_back({name.str(), DType::U8, {w.packedBytes(), 1}});
  std::string absmax = ::lowbit::companionName(name, Companion::Absmax);
  if (!w.doubleQuant) {
    out.push_back({absmax, DType::F32, {w.numBlocks()}});
    return;
  }
  out.push_back({absmax, DType::U8, {w.numBlocks()}});
  out.push_back({::lowbit::companionName(name, Companion::NestedAbsmax),
                 DType::F32, {w.numNestedBlocks()}});
  out.push_back({::lowbit::companionName(name, Companion::NestedOffset),
                 DType::F32, {1}});
}

/// Writes the tensors declareBnbTensors declared.
static llvm::Error writeBnbTensors(::lowbit::SafetensorsStreamWriter &out,
                                   llvm::StringRef name,
                                   const ::lowbit::Bnb4BitWeight &w) {
  using ::lowbit::Companion;
  if (llvm::Error e = out.write(name, ArrayRef(w.packed)))
    return e;
  std::string absmax = ::lowbit::companionName(name, Companion::Absmax);
  if (!w.doubleQuant)
    return out.write(absmax, ArrayRef(w.absmax));
  if (llvm::Error e = out.write(absmax, ArrayRef(w.absmaxCodes)))
    return e;
  if (llvm::Error e = out.write(
          ::lowbit::companionName(name, Companion::NestedAbsmax),
          ArrayRef(w.nestedAbsmax)))
    return e;
  return out.write(::lowbit::companionName(name, Companion::NestedOffset),
                   ArrayRef(&w.offset, 1));
}

namespace {
struct Bnb4BitPass : mlir::lowbit::impl::Bnb4BitBase<Bnb4BitPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      module.emitError(message);
      signalPassFailure();
    };
    if (sideFile.empty())
      return fail("--lowbit-bnb-4bit needs side-file=PATH");
    std::optional<::lowbit::Bnb4BitType> type =
        ::lowbit::parseBnb4BitType(quantType);
    if (!type)
      return fail("--lowbit-bnb-4bit: quant-type must be nf4 or fp4, not '" +
                  quantType + "'");
    if (!::lowbit::isValidBnbBlockSize(blockSize))
      return fail("--lowbit-bnb-4bit: block-size must be a power of two from "
                  "64 to 4096, not " + Twine(int64_t(blockSize)));

    SmallVector<mlir::lowbit::WeightOp> targets =
        mlir::lowbit::decoderLinearWeights(module);
    // bitsandbytes' blocks run over the flattened weight; the IR's group is a
    // run of one row's inputs, which is the same when it divides the width.
    for (mlir::lowbit::WeightOp op : targets) {
      int64_t k = cast<RankedTensorType>(op.getType()).getShape()[1];
      if (k % blockSize)
        return fail("--lowbit-bnb-4bit: block size " +
                    Twine(int64_t(blockSize)) +
                    " does not divide input width " + Twine(k) + " of '" +
                    op.getName() + "'");
    }
    if (targets.empty())
      return;
    ::lowbit::WeightStore weights;
    if (llvm::Error e = ::lowbit::openModuleWeights(module, weights))
      return fail(llvm::toString(std::move(e)));

    // Each weight goes to the side file as soon as it is quantized.
    std::vector<::lowbit::SafetensorsTensorInfo> declared;
    llvm::StringSet<> done;
    for (mlir::lowbit::WeightOp op : targets)
      if (done.insert(op.getName()).second) {
        ::lowbit::Bnb4BitWeight shape;
        shape.blockSize = blockSize;
        shape.rows = cast<RankedTensorType>(op.getType()).getShape()[0];
        shape.cols = cast<RankedTensorType>(op.getType()).getShape()[1];
        shape.doubleQuant = doubleQuant;
        declareBnbTensors(declared, op.getName(), shape);
      }
    std::string path = mlir::lowbit::absolutePath(sideFile);
    auto writer = ::lowbit::SafetensorsStreamWriter::create(path, declared);
    if (!writer)
      return fail(llvm::toString(writer.takeError()));
    auto quantizeOne = [&](mlir::lowbit::WeightOp op) -> llvm::Error {
      const ::lowbit::TensorRef *t = weights.find(op.getName());
      if (!t)
        return llvm::createStringError("no tensor named '" + op.getName() +
                                       "' in the weight store");
      std::vector<float> w;
      if (llvm::Error e = ::lowbit::dequantize(*t, w))
        return e;
      weights.releasePages(*t);
      if (llvm::Error e = ::lowbit::checkFinite(op.getName(), w.data(),
                                                int64_t(w.size()), t->shape[1]))
        return e;
      ::lowbit::Bnb4BitWeight q = ::lowbit::quantizeBnb4Bit(
          w.data(), t->shape[0], t->shape[1], *type, blockSize, doubleQuant);
      return writeBnbTensors(**writer, op.getName(), q);
    };
    done.clear();
    ::lowbit::Progress progress("bnb-4bit", int64_t(targets.size()));
    int64_t count = 0;
    for (mlir::lowbit::WeightOp op : targets) {
      progress.update(++count, op.getName());
      if (!done.insert(op.getName()).second)
        continue;
      if (llvm::Error e = quantizeOne(op)) {
        (*writer)->discard();
        return fail(llvm::toString(std::move(e)));
      }
    }
    progress.finish();
    if (llvm::Error e = (*writer)->commit()) {
      (*writer)->discard();
      return fail(llvm::toString(std::move(e)));
    }

    MLIRContext *ctx = module.getContext();
    auto scheme = mlir::lowbit::QuantSchemeAttr::get(
        ctx,
        *type == ::lowbit::Bnb4BitType::NF4 ? mlir::lowbit::QuantFormat::NF4
                                            : mlir::lowbit::QuantFormat::FP4,
        /*bits=*/4, blockSize, /*symmetric=*/true, /*act_order=*/false);
    for (mlir::lowbit::WeightOp op : targets)
      op.getResult().setType(mlir::lowbit::QuantizedWeightType::get(
          ctx, cast<RankedTensorType>(op.getType()).getShape(), scheme));
    mlir::lowbit::recordSideFile(module, path);
  }
};
} // namespace
