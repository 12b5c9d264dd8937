//===- lowbit-opt.cpp - mlir-opt for lowbit models ------------------------===//
//
// The lowbit dialect plus the upstream dialects a model module uses (func,
// arith, tensor), the lowbit passes, and the generic transformations
// (canonicalize, cse, ...).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Codegen/Passes.h"
#include "lowbit/Passes/Passes.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Support/OutputFile.h"
#include "lowbit/Support/ToolSetup.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/WithColor.h"

#include <vector>

int main(int argc, char **argv) {
  lowbit::setUpTool(argc, argv);
  mlir::registerTransformsPasses();
  mlir::registerConversionPasses();
  mlir::lowbit::registerLowbitPasses();
  mlir::lowbit::registerLowbitPipelines();
  mlir::lowbit::registerLowbitCodegenPasses();
  mlir::lowbit::registerCodegenPipeline();

  mlir::DialectRegistry registry;
  registry.insert<mlir::lowbit::LowbitDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect,
                  mlir::scf::SCFDialect, mlir::vector::VectorDialect,
                  mlir::math::MathDialect, mlir::LLVM::LLVMDialect>();

  // A failing pass reports on the module; printing the whole module under
  // each error buries the message, so that is off unless asked for.
  std::vector<char *> args(argv, argv + argc);
  static char quietOps[] = "--mlir-print-op-on-diagnostic=false";
  if (llvm::none_of(args, [](const char *a) {
        return llvm::StringRef(a).contains("mlir-print-op-on-diagnostic");
      }))
    args.insert(args.begin() + 1, quietOps);
  auto [inputPath, outputPath] = mlir::registerAndParseCLIOptions(
      int(args.size()), args.data(), "lowbit optimizer driver\n", registry);
  mlir::MlirOptMainConfig config = mlir::MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects() || config.shouldListPasses())
    return mlir::asMainReturnCode(mlir::MlirOptMain(
        int(args.size()), args.data(), inputPath, outputPath, registry));
  lowbit::setToolSubject(inputPath);

  auto fail = [](llvm::Error e) {
    llvm::WithColor::error(llvm::errs(), "lowbit-opt") << llvm::toString(std::move(e)) << "\n";
    return EXIT_FAILURE;
  };
  // The input is read whole before anything is written, and the output goes
  // through a temporary file, so `-o` naming the input cannot truncate what is
  // being read; it is refused all the same (checkNotAnInput), like every
  // output that would replace an input.
  auto input = inputPath == "-" ? llvm::MemoryBuffer::getSTDIN()
                                : lowbit::readInputFile(inputPath, /*isText=*/true);
  if (!input)
    return fail(llvm::createStringError(inputPath + ": cannot open: " +
                                        input.getError().message()));
  bool ran = false, passed = false;
  llvm::Error written = lowbit::writeFileAtomically(
      outputPath, [&](llvm::raw_pwrite_stream &os) -> llvm::Error {
        ran = true;
        passed = mlir::succeeded(mlir::MlirOptMain(os, std::move(*input), registry, config));
        // A failed run has printed its diagnostics; keep no output.
        return passed ? llvm::Error::success()
                      : llvm::make_error<llvm::StringError>("", llvm::inconvertibleErrorCode());
      });
  if (ran && !passed) {
    llvm::consumeError(std::move(written));
    return EXIT_FAILURE;
  }
  if (written)
    return fail(std::move(written));
  return EXIT_SUCCESS;
}
