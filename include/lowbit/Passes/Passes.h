//===- Passes.h - lowbit passes and pipelines -------------------*- C++ -*-===//
#ifndef LOWBIT_PASSES_PASSES_H
#define LOWBIT_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::lowbit {

#define GEN_PASS_DECL
#include "lowbit/Passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lowbit/Passes/Passes.h.inc"

/// `--lowbit-pipeline="name=RECIPE ..."`: the usual GPTQ/AWQ/RTN recipes
/// (passes/Pipelines.cpp).
void registerLowbitPipelines();

} // namespace mlir::lowbit

#endif // LOWBIT_PASSES_PASSES_H
