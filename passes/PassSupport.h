//===- PassSupport.h - Shared pieces of the weight-rewriting passes -*- C++ -*-//
#ifndef LOWBIT_PASSES_PASSSUPPORT_H
#define LOWBIT_PASSES_PASSSUPPORT_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::lowbit {

/// `path` made absolute, so the IR can be used from any directory.
std::string absolutePath(llvm::StringRef path);

/// Appends a side file to the module's `lowbit.side_files` (moving it to the
/// end if it is already listed: the last side file wins).
void recordSideFile(ModuleOp module, llvm::StringRef absolutePath);

} // namespace mlir::lowbit

#endif // LOWBIT_PASSES_PASSSUPPORT_H
