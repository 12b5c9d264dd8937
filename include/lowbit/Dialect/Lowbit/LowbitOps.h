//===- LowbitOps.h - The lowbit dialect, whole ------------------*- C++ -*-===//
//
// Everything a user of the dialect needs: the dialect, its attributes, types
// and ops, and the accessors of the model module's attributes.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_LOWBITOPS_H
#define LOWBIT_DIALECT_LOWBIT_LOWBITOPS_H

#include "lowbit/Dialect/Lowbit/LowbitAttrs.h"
#include "lowbit/Dialect/Lowbit/LowbitDialect.h"
#include "lowbit/Dialect/Lowbit/LowbitTypes.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::lowbit {

/// The KV cache that lowbit.attention appends to and reads from.
struct KVCacheResource : public SideEffects::Resource::Base<KVCacheResource> {
  StringRef getName() final { return "<KVCache>"; }
};

/// The module's `lowbit.config`, or null when it has none.
ConfigAttr getModelConfig(ModuleOp module);

} // namespace mlir::lowbit

MLIR_DECLARE_EXPLICIT_TYPE_ID(::mlir::lowbit::KVCacheResource)

#define GET_OP_CLASSES
#include "lowbit/Dialect/Lowbit/LowbitOps.h.inc"

#endif // LOWBIT_DIALECT_LOWBIT_LOWBITOPS_H
