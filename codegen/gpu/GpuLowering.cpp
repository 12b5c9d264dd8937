//===- GpuLowering.cpp - GPU kernels to NVVM and PTX ----------------------===//
//
// The upstream route: scf to cf, gpu/arith/cf to the NVVM and llvm dialects
// inside the gpu.module, #nvvm.target attached, then gpu-module-to-binary
// with the "isa" format, whose object is the PTX text. ptxas is not needed
// here: the runtime's driver JIT-compiles the PTX for the GPU at hand.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Codegen/GpuKernels.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"

using namespace mlir;

namespace lowbit {

void registerGpuCodegenDialects(DialectRegistry &registry) {
  registry.insert<arith::ArithDialect, gpu::GPUDialect, LLVM::LLVMDialect, NVVM::NVVMDialect,
                  scf::SCFDialect>();
  // convert-gpu-to-nvvm lowers arith and cf through these interfaces.
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
}

void buildGpuKernelLoweringPipeline(OpPassManager &pm, const GpuTarget &target) {
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  GpuNVVMAttachTargetOptions attach;
  attach.chip = target.chip;
  attach.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(attach));
}

llvm::Expected<std::string> emitPtx(ModuleOp container, const GpuTarget &target) {
  PassManager pm(container.getContext());
  buildGpuKernelLoweringPipeline(pm, target);
  GpuModuleToBinaryPassOptions toBinary;
  toBinary.compilationTarget = "isa";
  pm.addPass(createGpuModuleToBinaryPass(toBinary));
  std::string diagnostics;
  {
    llvm::raw_string_ostream os(diagnostics);
    ScopedDiagnosticHandler handler(container.getContext(), [&](Diagnostic &d) {
      os << d.str() << "\n";
      return success();
    });
    if (failed(pm.run(container)))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "lowering the GPU kernels to PTX failed: " + diagnostics);
  }
  std::string ptx;
  container.walk([&](gpu::BinaryOp binary) {
    for (Attribute a : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(a))
        ptx += object.getObject().getValue().str();
  });
  if (ptx.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the GPU kernels serialized to no PTX");
  return ptx;
}

} // namespace lowbit
