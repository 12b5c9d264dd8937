//===- LowbitTypes.h - lowbit types -----------------------------*- C++ -*-===//

#ifndef LOWBIT_DIALECT_LOWBIT_LOWBITTYPES_H
#define LOWBIT_DIALECT_LOWBIT_LOWBITTYPES_H

#include "lowbit/Dialect/Lowbit/LowbitAttrs.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"

#define GET_TYPEDEF_CLASSES
#include "lowbit/Dialect/Lowbit/LowbitTypes.h.inc"

#endif // LOWBIT_DIALECT_LOWBIT_LOWBITTYPES_H
