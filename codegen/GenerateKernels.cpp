//===- GenerateKernels.cpp - --lowbit-generate-kernels --------------------===//
#include "Annotations.h"
#include "lowbit/Codegen/Kernels.h"
#include "lowbit/Codegen/Passes.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_GENERATEKERNELS
#include "lowbit/Codegen/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
using ::lowbit::KernelBuilder;
using ::lowbit::PackedLayout;

static int64_t widthOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }

namespace {
struct GenerateKernelsPass
    : mlir::lowbit::impl::GenerateKernelsBase<GenerateKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    std::optional<::lowbit::CpuTarget> cpu = ::lowbit::resolveCpuTarget(target);
    if (!forward || !cpu) {
      module.emitError() << "--lowbit-generate-kernels: "
                         << (forward ? "unknown or unusable target '" + target + "'"
                                     : std::string("no @forward function"));
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    if (auto old = module.lookupSymbol<ModuleOp>(kKernelsModuleName))
      old.erase();
    b.setInsertionPointToEnd(module.getBody());
    auto kernels = ModuleOp::create(b, module.getLoc(), StringRef(kKernelsModuleName));
    kernels->setAttr(::lowbit::kTargetAttr, b.getStringAttr(cpu->name));
    KernelBuilder kb(kernels, *cpu);

    bool ok = true;
    auto layoutOf = [&](Operation *user, Value weight) -> std::optional<PackedLayout> {
      std::optional<PackedLayout> l;
      if (Operation *def = weight.getDefiningOp())
        l = ::lowbit::layoutFromAttr(def->getAttr(::lowbit::kPackedAttr));
      if (!l) {
        user->emitError("weight is not packed (run --lowbit-pack-weights first)");
        ok = false;
      }
      return l;
    };
    // The int8 rounding every reader of `v` wants, when all of them are
    // integer linears that agree on it: the producer then writes only that.
    auto roundingForAllReaders = [&](Value v) -> std::optional<::lowbit::ActivationQuant> {
      std::optional<::lowbit::ActivationQuant> mode;
      for (Operation *user : v.getUsers()) {
        auto l = dyn_cast<LinearOp>(user);
        if (!l || l.getInput() != v)
          return std::nullopt;
        Operation *def = l.getWeight().getDefiningOp();
        std::optional<PackedLayout> layout =
            def ? ::lowbit::layoutFromAttr(def->getAttr(::lowbit::kPackedAttr)) : std::nullopt;
        if (!layout || layout->family != ::lowbit::KernelFamily::Integer ||
            layout->permutedColumns || (mode && *mode != layout->activationQuant))
          return std::nullopt;
        mode = layout->activationQuant;
      }
      return mode;
    };
    for (Operation &op : forward.getBody().front()) {
      SmallVector<NamedAttribute> roles;
      auto role = [&](StringRef name, const std::string &symbol) {
        roles.push_back(b.getNamedAttr(name, FlatSymbolRefAttr::get(ctx, symbol)));
      };
      TypeSwitch<Operation *>(&op)
          .Case<EmbeddingOp>([&](EmbeddingOp e) {
            if (auto l = layoutOf(e, e.getTable()))
              role("main", kb.embedding(*l));
          })
          .Case<RmsNormOp>([&](RmsNormOp n) {
            int64_t k = widthOf(n.getInput());
            float eps = n.getEpsilon().convertToFloat();
            if (auto mode = roundingForAllReaders(n.getResult())) {
              role("main", kb.rmsNormQuantize(k, eps, *mode));
              role("quantize", kb.quantizeActivations(k, *mode));
            } else {
              role("main", kb.rmsNorm(k, eps));
            }
          })
          .Case<LinearOp>([&](LinearOp l) {
            std::optional<PackedLayout> layout = layoutOf(l, l.getWeight());
            if (!layout)
              return;
            int64_t k = widthOf(l.getInput());
            if (layout->permutedColumns)
              role("permute", kb.permuteColumns(k));
            if (layout->family == ::lowbit::KernelFamily::Integer)
              role("quantize", kb.quantizeActivations(k, layout->activationQuant));
            role("main", kb.linear(*layout, bool(l.getBias()),
                                   l->hasAttr(::lowbit::kWritesSumAttr)));
          })
          .Case<RopeOp>([&](RopeOp r) {
            role("main", kb.rope(r.getNumHeads(), r.getHeadDim(),
                                 r.getTheta().convertToFloat(), r.getInterleaved()));
          })
          .Case<AttentionOp>([&](AttentionOp a) {
            role("kv_store", kb.kvStore(widthOf(a.getKey())));
            role("main", kb.attention(a.getNumHeads(), a.getNumKvHeads(), a.getHeadDim()));
          })
          .Case<SwigluOp>([&](SwigluOp s) {
            int64_t k = widthOf(s.getGate());
            if (auto mode = roundingForAllReaders(s.getResult())) {
              role("main", kb.swigluQuantize(k, *mode));
              role("quantize", kb.quantizeActivations(k, *mode));
            } else {
              role("main", kb.swiglu(k));
            }
          })
          .Case<AddOp>([&](AddOp a) {
            if (!a->hasAttr(::lowbit::kFusedAttr))
              role("main", kb.add(widthOf(a.getLhs())));
          })
          .Case<SplitColumnsOp>([&](SplitColumnsOp s) {
            role("main", kb.splitColumns(widthOf(s.getInput()), int64_t(s.getColumns().size())));
          });
      if (!roles.empty())
        op.setAttr(::lowbit::kKernelsAttr, b.getDictionaryAttr(roles));
    }
    if (!ok)
      signalPassFailure();
  }
};
} // namespace
