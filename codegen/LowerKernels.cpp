//===- LowerKernels.cpp - --lowbit-lower-kernels --------------------------===//
#include "lowbit/Codegen/EmitObject.h"
#include "lowbit/Codegen/Kernels.h"
#include "lowbit/Codegen/Passes.h"
#include "lowbit/Codegen/WeightPacking.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWERKERNELS
#include "lowbit/Codegen/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {
struct LowerKernelsPass : mlir::lowbit::impl::LowerKernelsBase<LowerKernelsPass> {
  // The nested pipeline's conversions create cf and llvm ops: load their
  // dialects before the pass manager runs.
  void getDependentDialects(DialectRegistry &registry) const override {
    OpPassManager pm(ModuleOp::getOperationName());
    ::lowbit::buildKernelLoweringPipeline(pm);
    pm.getDependentDialects(registry);
  }
  void runOnOperation() override {
    auto kernels = getOperation().lookupSymbol<ModuleOp>(mlir::lowbit::kKernelsModuleName);
    if (!kernels) {
      getOperation().emitError("no module @kernels (run --lowbit-generate-kernels first)");
      return signalPassFailure();
    }
    OpPassManager pm(ModuleOp::getOperationName());
    ::lowbit::buildKernelLoweringPipeline(pm);
    if (failed(runPipeline(pm, kernels)))
      signalPassFailure();
  }
};
} // namespace

void mlir::lowbit::buildCodegenPipeline(OpPassManager &pm, const std::string &target,
                                        const std::string &packedWeights,
                                        bool fuseResidual) {
  pm.addPass(createCodegenLegality());
  pm.addPass(createFormDispatches(FormDispatchesOptions{fuseResidual}));
  // 512-bit integer kernels (one row per int32 lane) where the target has
  // AVX-512 VNNI; 256-bit ones otherwise.
  std::optional<::lowbit::CpuTarget> cpu = ::lowbit::resolveCpuTarget(target);
  int interleave = cpu && cpu->avx512 && cpu->vnni ? ::lowbit::kMaxInterleavedRows
                                                   : ::lowbit::kInterleavedRows;
  pm.addPass(createPackWeights(PackWeightsOptions{packedWeights, interleave}));
  pm.addPass(createGenerateKernels(GenerateKernelsOptions{target}));
  pm.addPass(createLowerKernels());
}

namespace {
struct CodegenPipelineOptions : public PassPipelineOptions<CodegenPipelineOptions> {
  Option<std::string> target{*this, "target", llvm::cl::desc("x86-64-v3, x86-64-v4 or native"),
                             llvm::cl::init("native")};
  Option<std::string> output{*this, "output",
                             llvm::cl::desc("File receiving the packed weights")};
  Option<bool> fuseResidual{*this, "fuse-residual", llvm::cl::init(true),
                            llvm::cl::desc("Fuse linears into residual adds")};
};
} // namespace

void mlir::lowbit::registerCodegenPipeline() {
  PassPipelineRegistration<CodegenPipelineOptions>(
      "lowbit-codegen-pipeline",
      "legality, dispatches, packing, kernels and their lowering to llvm",
      [](OpPassManager &pm, const CodegenPipelineOptions &o) {
        buildCodegenPipeline(pm, o.target, o.output, o.fuseResidual);
      });
}
