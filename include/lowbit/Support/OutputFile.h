//===- OutputFile.h - All-or-nothing output files ---------------*- C++ -*-===//
//
// Outputs are written under a temporary name next to the destination and
// renamed only when complete, so a failed run never leaves a partial file.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_SUPPORT_OUTPUTFILE_H
#define LOWBIT_SUPPORT_OUTPUTFILE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace lowbit {

/// Creates a temporary file beside `path`, lets `write` fill it, and renames
/// it to `path` if `write` succeeds; otherwise the temporary is removed.
llvm::Error writeFileAtomically(
    llvm::StringRef path,
    llvm::function_ref<llvm::Error(llvm::raw_pwrite_stream &)> write);

} // namespace lowbit

#endif // LOWBIT_SUPPORT_OUTPUTFILE_H
