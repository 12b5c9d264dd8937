//===- LowbitDialectPlugin.cpp - lowbit as an mlir-opt plugin -------------===//
//
//   mlir-opt --load-dialect-plugin=build/lib/LowbitDialectPlugin.so model.mlir
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/Lowbit/LowbitOps.h"

#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "llvm/Config/llvm-config.h"

extern "C" LLVM_ATTRIBUTE_WEAK mlir::DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "LowbitDialect", LLVM_VERSION_STRING,
          [](mlir::DialectRegistry *registry) {
            registry->insert<mlir::lowbit::LowbitDialect>();
          }};
}
