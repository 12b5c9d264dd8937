//===- ConvertWeights.cpp - --lowbit-convert-weights ----------------------===//
//
// Re-encodes float weight matrices into a side file. This is the pattern every
// weight-rewriting pass follows: read the stored tensor by name, write the new
// tensor under the same name into a side file, retype the lowbit.weight op.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Passes/Passes.h"
#include "PassSupport.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_CONVERTWEIGHTS
#include "lowbit/Passes/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using ::lowbit::DType;

namespace {
struct ConvertWeightsPass
    : mlir::lowbit::impl::ConvertWeightsBase<ConvertWeightsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      module.emitError(message);
      signalPassFailure();
    };
    if (sideFile.empty())
      return fail("--lowbit-convert-weights needs side-file=PATH");
    Builder b(module.getContext());
    DType target;
    Type elem;
    if (dtype == "f32") {
      target = DType::F32;
      elem = b.getF32Type();
    } else if (dtype == "f16") {
      target = DType::F16;
      elem = b.getF16Type();
    } else if (dtype == "bf16") {
      target = DType::BF16;
      elem = b.getBF16Type();
    } else {
      return fail("--lowbit-convert-weights: dtype must be f32, f16 or bf16, "
                  "not '" + dtype + "'");
    }

    ::lowbit::WeightStore weights;
    if (llvm::Error e = ::lowbit::openModuleWeights(module, weights))
      return fail(llvm::toString(std::move(e)));

    ::lowbit::SafetensorsWriter writer;
    llvm::StringSet<> written;
    SmallVector<std::pair<mlir::lowbit::WeightOp, Type>> retype;
    std::string error;
    module.walk([&](mlir::lowbit::WeightOp op) {
      auto type = dyn_cast<RankedTensorType>(op.getType());
      if (!type || type.getRank() != 2 || type.getElementType() == elem)
        return;
      StringRef name = op.getName();
      retype.push_back({op, RankedTensorType::get(type.getShape(), elem)});
      if (!written.insert(name).second || !error.empty())
        return;
      const ::lowbit::TensorRef *t = weights.find(name);
      if (!t) {
        error = ("no tensor named '" + name + "' in the weight store").str();
        return;
      }
      std::vector<float> values;
      if (llvm::Error e = ::lowbit::dequantize(*t, values)) {
        error = llvm::toString(std::move(e));
        return;
      }
      if (llvm::Error e = ::lowbit::checkFinite(name, values.data(),
                                                int64_t(values.size()),
                                                t->shape[1])) {
        error = llvm::toString(std::move(e));
        return;
      }
      int64_t rows = t->shape[0], cols = t->shape[1];
      std::vector<uint8_t> bytes(*::lowbit::tensorBytes(target, t->shape));
      uint64_t rowBytes = bytes.size() / rows;
      for (int64_t r = 0; r < rows; ++r)
        llvm::cantFail(::lowbit::quantizeRow(target, values.data() + r * cols,
                                             bytes.data() + r * rowBytes, cols));
      writer.addTensor(name, target, t->shape, std::move(bytes));
    });
    if (!error.empty())
      return fail(error);
    if (retype.empty())
      return;

    std::string path = mlir::lowbit::absolutePath(sideFile);
    if (llvm::Error e = writer.write(path))
      return fail(llvm::toString(std::move(e)));
    for (auto &[op, type] : retype)
      op.getResult().setType(type);

    mlir::lowbit::recordSideFile(module, path);
  }
};
} // namespace
