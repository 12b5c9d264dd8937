//===- EmitObject.h - Kernels module to a loadable shared object -*- C++ -*-===//
#ifndef LOWBIT_CODEGEN_EMITOBJECT_H
#define LOWBIT_CODEGEN_EMITOBJECT_H

#include "lowbit/Codegen/Kernels.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Error.h"

#include <string>

namespace lowbit {

/// The upstream lowering of the kernels module (scf, vector, arith, math,
/// func) to the llvm dialect; vector exp becomes a polynomial.
void buildKernelLoweringPipeline(mlir::OpPassManager &pm);

struct EmittedCode {
  std::string sharedObject; // ELF bytes
  std::string assembly;     // when asked for
};

/// Lowers `kernels` in place, translates it to LLVM IR, optimizes it for
/// `target`, emits an object with a TargetMachine and links it into a
/// shared object with ld.lld.
llvm::Expected<EmittedCode> emitSharedObject(mlir::ModuleOp kernels,
                                             const CpuTarget &target,
                                             bool withAssembly = false);

} // namespace lowbit

#endif // LOWBIT_CODEGEN_EMITOBJECT_H
