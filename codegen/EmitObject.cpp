//===- EmitObject.cpp - Kernels module to a loadable shared object --------===//
#include "lowbit/Codegen/EmitObject.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Transforms/Utils/Cloning.h"
#include "llvm/ADT/ScopeExit.h"

using namespace mlir;
using namespace ::lowbit;

namespace {
/// Vector exp (swiglu, softmax) as a polynomial instead of one libm call per
/// lane; scalar math stays with the LLVM intrinsics.
struct ApproximateVectorMath
    : PassWrapper<ApproximateVectorMath, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ApproximateVectorMath)
  StringRef getArgument() const final { return "lowbit-approximate-vector-math"; }
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) { return name == math::ExpOp::getOperationName(); });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void ::lowbit::buildKernelLoweringPipeline(OpPassManager &pm) {
  pm.addPass(std::make_unique<ApproximateVectorMath>());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

static llvm::Error fail(const llvm::Twine &what) {
  return llvm::createStringError("code generation: " + what);
}

static std::string findLinker() {
  for (const char *name : {"ld.lld-22", "ld.lld"})
    if (llvm::ErrorOr<std::string> p =
            llvm::sys::findProgramByName(name, {"/usr/lib/llvm-22/bin"}))
      return *p;
  for (const char *name : {"ld.lld-22", "ld.lld"})
    if (llvm::ErrorOr<std::string> p = llvm::sys::findProgramByName(name))
      return *p;
  return {};
}

auto ::lowbit::emitSharedObject(ModuleOp kernels, const CpuTarget &target,
                                bool withAssembly) -> llvm::Expected<EmittedCode> {
  MLIRContext *ctx = kernels.getContext();
  // Lower unless --lowbit-lower-kernels already did.
  if (!kernels.getOps<func::FuncOp>().empty()) {
    PassManager pm(ctx);
    buildKernelLoweringPipeline(pm);
    if (failed(pm.run(kernels)))
      return fail("lowering the kernels to the llvm dialect failed");
  }

  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  ctx->appendDialectRegistry(registry);
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> module = translateModuleToLLVMIR(kernels, llvmContext);
  if (!module)
    return fail("translation to LLVM IR failed");

  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86Target();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmPrinter();
  llvm::Triple triple("x86_64-unknown-linux-gnu");
  std::string error;
  const llvm::Target *llvmTarget = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return fail(error);
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> tm(llvmTarget->createTargetMachine(
      triple, target.cpu, target.features, options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!tm)
    return fail("no target machine for " + target.cpu);
  module->setTargetTriple(triple);
  module->setDataLayout(tm->createDataLayout());
  for (llvm::Function &f : *module)
    if (!f.isDeclaration()) {
      f.addFnAttr("target-cpu", target.cpu);
      if (!target.features.empty())
        f.addFnAttr("target-features", target.features);
      if (target.avx512)
        f.addFnAttr("prefer-vector-width", "512");
    }

  {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PassBuilder pb(tm.get());
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager mpm =
        pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
    mpm.run(*module, mam);
  }

  EmittedCode out;
  auto emit = [&](llvm::CodeGenFileType type, std::string &dst) -> llvm::Error {
    llvm::SmallString<0> buffer;
    llvm::raw_svector_ostream os(buffer);
    llvm::legacy::PassManager cg;
    if (tm->addPassesToEmitFile(cg, os, nullptr, type))
      return fail("the target cannot emit this file type");
    std::unique_ptr<llvm::Module> copy = llvm::CloneModule(*module);
    cg.run(*copy);
    dst.assign(buffer.begin(), buffer.end());
    return llvm::Error::success();
  };
  std::string object;
  if (llvm::Error e = emit(llvm::CodeGenFileType::ObjectFile, object))
    return std::move(e);
  if (withAssembly)
    if (llvm::Error e = emit(llvm::CodeGenFileType::AssemblyFile, out.assembly))
      return std::move(e);

  std::string linker = findLinker();
  if (linker.empty())
    return fail("ld.lld was not found (Debian package lld-22)");
  llvm::SmallString<128> objPath, soPath;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("lowbit-kernels", "o", objPath))
    return fail("cannot create a temporary file: " + ec.message());
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("lowbit-kernels", "so", soPath))
    return fail("cannot create a temporary file: " + ec.message());
  auto cleanup = llvm::make_scope_exit([&] {
    llvm::sys::fs::remove(objPath);
    llvm::sys::fs::remove(soPath);
  });
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objPath, ec);
    if (ec)
      return fail("cannot write " + objPath + ": " + ec.message());
    os << object;
  }
  std::string errMsg;
  llvm::SmallVector<llvm::StringRef> argv = {linker, "-shared", "--hash-style=both",
                                             "-z", "noexecstack", "-O2",
                                             "-o", soPath, objPath};
  int rc = llvm::sys::ExecuteAndWait(linker, argv, std::nullopt, {}, 0, 0, &errMsg);
  if (rc != 0)
    return fail("ld.lld failed (" + llvm::Twine(rc) + "): " + errMsg);
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> so = llvm::MemoryBuffer::getFile(soPath);
  if (!so)
    return fail("cannot read the linked object: " + so.getError().message());
  out.sharedObject = (*so)->getBuffer().str();
  return std::move(out);
}
