//===- Passes.h - lowbit code generation passes -----------------*- C++ -*-===//
#ifndef LOWBIT_CODEGEN_PASSES_H
#define LOWBIT_CODEGEN_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace mlir::lowbit {

#define GEN_PASS_DECL
#include "lowbit/Codegen/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lowbit/Codegen/Passes.h.inc"

/// legality → dispatches → packing → kernels → llvm dialect, the pipeline
/// lowbit-compile runs (also `--lowbit-codegen-pipeline` in lowbit-opt).
void buildCodegenPipeline(OpPassManager &pm, const std::string &target,
                          const std::string &packedWeights, bool fuseResidual);
void registerCodegenPipeline();

/// The nested module holding the generated kernels.
inline constexpr llvm::StringLiteral kKernelsModuleName = "kernels";

} // namespace mlir::lowbit

#endif // LOWBIT_CODEGEN_PASSES_H
