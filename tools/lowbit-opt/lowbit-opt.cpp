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

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/STLExtras.h"

#include <vector>

int main(int argc, char **argv) {
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
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      int(args.size()), args.data(), "lowbit optimizer driver\n", registry));
}
