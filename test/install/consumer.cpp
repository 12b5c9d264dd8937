// Parses a lowbit module with the installed dialect and prints it back.
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Formats/DType.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

int main() {
  mlir::DialectRegistry registry;
  registry.insert<mlir::lowbit::LowbitDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext ctx(registry);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(
      R"(func.func @f(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
           %w = lowbit.weight "w" : !lowbit.qweight<64x64, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>
           %y = lowbit.linear %x, %w : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>) -> tensor<?x64xf32>
           return %y : tensor<?x64xf32>
         })",
      &ctx);
  if (!module)
    return 1;
  module->print(llvm::outs());
  llvm::outs() << "\nq8_0 block bytes: "
               << lowbit::getDTypeInfo(lowbit::DType::Q8_0).blockBytes << "\n";
  return 0;
}
