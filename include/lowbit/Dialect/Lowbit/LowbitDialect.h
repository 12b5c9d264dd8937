//===- LowbitDialect.h - The lowbit dialect ---------------------*- C++ -*-===//
//
// The dialect class alone. Most users want LowbitOps.h, which includes the
// attributes, types and ops as well.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_LOWBITDIALECT_H
#define LOWBIT_DIALECT_LOWBIT_LOWBITDIALECT_H

#include "mlir/IR/Dialect.h"

#include "lowbit/Dialect/Lowbit/LowbitDialect.h.inc"

#endif // LOWBIT_DIALECT_LOWBIT_LOWBITDIALECT_H
