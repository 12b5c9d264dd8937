//===- Legality.cpp - What the code generator accepts ---------------------===//
#include "lowbit/Codegen/Compile.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::lowbit;

static bool widthOk(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.getRank() == 2 && t.getDimSize(1) % 32 == 0;
}

auto ::lowbit::checkCodegenLegality(ModuleOp module) -> LogicalResult {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.getBody().empty())
    return module.emitError("module has no @forward function to compile");
  bool ok = true;
  auto widthError = [&](Operation *op, Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    op->emitError() << "activation width " << t.getDimSize(1)
                    << " is not a multiple of 32, which the generated kernels need";
    ok = false;
  };
  for (Operation &op : forward.getBody().front()) {
    TypeSwitch<Operation *>(&op)
        .Case<WeightOp, EmbeddingOp, SplitColumnsOp, func::ReturnOp>([](auto) {})
        .Case<LinearOp>([&](LinearOp l) {
          if (auto q = dyn_cast<QuantizedWeightType>(l.getWeight().getType())) {
            int64_t cols = q.getShape()[1];
            if (cols % 32) {
              l.emitError() << "quantized weight input width " << cols
                            << " is not a multiple of 32";
              ok = false;
            }
            QuantSchemeAttr s = q.getScheme();
            if (s.getFormat() == QuantFormat::Affine &&
                (s.getBits() < 2 || s.getBits() > 8 || (s.getBits() > 4 && s.getBits() != 8))) {
              l.emitError() << "affine " << s.getBits()
                            << "-bit weights have no kernel (2, 3, 4 and 8 bits do)";
              ok = false;
            }
          }
          if (!widthOk(l.getResult()))
            widthError(l, l.getResult());
        })
        .Case<RmsNormOp, RopeOp, AttentionOp, SwigluOp, AddOp>([&](Operation *o) {
          for (Value r : o->getResults())
            if (!widthOk(r))
              widthError(o, r);
        })
        .Default([&](Operation *o) {
          o->emitError() << "'" << o->getName() << "' has no generated kernel";
          ok = false;
        });
  }
  return success(ok);
}
