//===- Rtn.cpp - --lowbit-rtn ---------------------------------------------===//
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Passes/Passes.h"
#include "PassSupport.h"
#include "ResumableSideFile.h"
#include "lowbit/Quant/Affine.h"
#include "lowbit/Support/Progress.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"

#include <cstring>

namespace mlir::lowbit {
#define GEN_PASS_DEF_RTN
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using ::lowbit::DType;

namespace {
struct RtnPass : mlir::lowbit::impl::RtnBase<RtnPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      module.emitError(message);
      signalPassFailure();
    };
    if (sideFile.empty())
      return fail("--lowbit-rtn needs side-file=PATH");
    if (bits < 2 || bits > 8)
      return fail("--lowbit-rtn: bits must be 2..8, not " + Twine(int(bits)));
    if (groupSize == 0 || groupSize < -1)
      return fail("--lowbit-rtn: group-size must be positive or -1, not " +
                  Twine(int64_t(groupSize)));
    ::lowbit::AffineScheme scheme{int(bits), int64_t(groupSize), bool(sym)};
    ::lowbit::WeightStore weights;
    if (llvm::Error e = ::lowbit::openModuleWeights(module, weights))
      return fail(llvm::toString(std::move(e)));

    SmallVector<mlir::lowbit::WeightOp> targets;
    module.walk([&](mlir::lowbit::WeightOp op) {
      auto type = dyn_cast<RankedTensorType>(op.getType());
      auto parsed = ::lowbit::parseWeightName(op.getName());
      if (type && type.getRank() == 2 && parsed && ::lowbit::isDecoderLinear(parsed->role))
        targets.push_back(op);
    });
    // Check every shape before writing anything.
    for (mlir::lowbit::WeightOp op : targets) {
      int64_t k = cast<RankedTensorType>(op.getType()).getShape()[1];
      if (groupSize > 0 && k % groupSize)
        return fail("--lowbit-rtn: group size " + Twine(int64_t(groupSize)) +
                    " does not divide input width " + Twine(k) + " of '" +
                    op.getName() + "'");
    }

    if (targets.empty())
      return;
    // Each weight goes to the side file as soon as it is rounded, so memory
    // holds one weight at a time whatever the model's size.
    std::vector<::lowbit::SafetensorsTensorInfo> declared;
    llvm::StringMap<bool> done;
    for (mlir::lowbit::WeightOp op : targets)
      if (done.try_emplace(op.getName(), true).second) {
        ArrayRef<int64_t> shape = cast<RankedTensorType>(op.getType()).getShape();
        mlir::lowbit::declareAffineTensors(declared, op.getName(), shape[0],
                                           shape[1], groupSize, /*gIdx=*/false);
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
      int64_t rows = t->shape[0], cols = t->shape[1];
      auto q = ::lowbit::quantizeAffineRtn(w.data(), rows, cols, scheme);
      if (!q)
        return q.takeError();
      using ::lowbit::Companion;
      ::lowbit::SafetensorsStreamWriter &out = **writer;
      if (llvm::Error e = out.write(op.getName(), ArrayRef(q->codes)))
        return e;
      if (llvm::Error e = out.write(
              ::lowbit::companionName(op.getName(), Companion::Scales),
              ArrayRef(q->scales)))
        return e;
      return out.write(::lowbit::companionName(op.getName(), Companion::Zeros),
                       ArrayRef(q->zeros));
    };
    done.clear();
    ::lowbit::Progress progress("rtn", int64_t(targets.size()));
    int64_t count = 0;
    for (mlir::lowbit::WeightOp op : targets) {
      progress.update(++count, op.getName());
      if (!done.try_emplace(op.getName(), true).second)
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
    auto schemeAttr = mlir::lowbit::QuantSchemeAttr::get(
        ctx, mlir::lowbit::QuantFormat::Affine, bits, groupSize, sym,
        /*act_order=*/false);
    for (mlir::lowbit::WeightOp op : targets)
      op.getResult().setType(mlir::lowbit::QuantizedWeightType::get(
          ctx, cast<RankedTensorType>(op.getType()).getShape(), schemeAttr));

    mlir::lowbit::recordSideFile(module, path);
  }
};
} // namespace
