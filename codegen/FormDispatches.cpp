//===- FormDispatches.cpp - --lowbit-form-dispatches ----------------------===//
#include "Annotations.h"
#include "lowbit/Codegen/Passes.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"

#include "mlir/IR/Builders.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_FORMDISPATCHES
#include "lowbit/Codegen/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {
struct FormDispatchesPass
    : mlir::lowbit::impl::FormDispatchesBase<FormDispatchesPass> {
  using Base::Base;

  void runOnOperation() override {
    auto forward = getOperation().lookupSymbol<func::FuncOp>("forward");
    if (!forward || forward.getBody().empty())
      return;
    Builder b(&getContext());
    DenseMap<Operation *, size_t> order;
    Operation *lastAdd = nullptr;
    for (Operation &op : forward.getBody().front()) {
      order[&op] = order.size();
      if (isa<AddOp>(op))
        lastAdd = &op;
    }
    for (Operation &op : forward.getBody().front()) {
      auto linear = dyn_cast<LinearOp>(op);
      if (!fuseResidual || !linear || !linear.getResult().hasOneUse())
        continue;
      auto add = dyn_cast<AddOp>(*linear.getResult().getUsers().begin());
      if (!add || add->hasAttr(::lowbit::kFusedAttr))
        continue;
      // The other summand must exist when the linear runs (LLM.int8's two
      // halves are summed only after both are computed).
      Value other = add.getLhs() == linear.getResult() ? add.getRhs() : add.getLhs();
      if (Operation *def = other.getDefiningOp())
        if (order.lookup(def) >= order.lookup(linear))
          continue;
      add->setAttr(::lowbit::kFusedAttr, b.getUnitAttr());
      linear->setAttr(::lowbit::kWritesSumAttr, b.getUnitAttr());
    }
    if (!lastAdd)
      return;
    for (Operation *op = lastAdd->getNextNode(); op; op = op->getNextNode())
      if (!isa<WeightOp, func::ReturnOp>(op))
        op->setAttr(::lowbit::kLastTokenOnlyAttr, b.getUnitAttr());
  }
};
} // namespace
