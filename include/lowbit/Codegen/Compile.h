//===- Compile.h - A model to a .lbx artifact -------------------*- C++ -*-===//
#ifndef LOWBIT_CODEGEN_COMPILE_H
#define LOWBIT_CODEGEN_COMPILE_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace lowbit {

struct LoadedModel;
struct GpuTarget;

struct CompileOptions {
  std::string target = "native";
  std::string output;
  /// Also write the generated x86 assembly here (empty: no).
  std::string assemblyPath;
  /// Print the kernels module before and after lowering to llvm.
  llvm::raw_ostream *irDump = nullptr;
  /// Fuse a linear into the residual add that consumes it.
  bool fuseResidual = true;
};

/// Checks that every op and weight encoding of @forward has a kernel;
/// emits an error on each offending op.
mlir::LogicalResult checkCodegenLegality(mlir::ModuleOp module);

/// Fails, saying why, unless `target` names a target compileModel can
/// generate code for: a CPU target, a GPU one (sm_80, sm_90), or one of each
/// separated by a comma (x86-64-v3,sm_90).
llvm::Error checkCompileTarget(llvm::StringRef target);

/// Packs the weights, generates and compiles the kernels and writes the
/// artifact atomically to options.output.
llvm::Error compileModel(LoadedModel &model, const CompileOptions &options);
/// The GPU half of compileModel: PTX kernels (and their cubin when ptxas
/// is found) and the weights in the GPU kernels' layouts (docs/gpu.md).
llvm::Error compileGpuModel(LoadedModel &model, const CompileOptions &options,
                            const GpuTarget &target);
/// compileModel for `--target=CPU,GPU`: one artifact whose two parts are the
/// model compiled for each (artifact.proto, Part).
llvm::Error compileTwoTargets(LoadedModel &model, const CompileOptions &options,
                              llvm::StringRef cpuTarget, const GpuTarget &gpu);

} // namespace lowbit

#endif // LOWBIT_CODEGEN_COMPILE_H
