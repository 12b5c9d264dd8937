//===- InputFiles.h - Outputs that cannot replace inputs --------*- C++ -*-===//
//
// Every file a tool reads is recorded by identity (device and inode), and an
// output that resolves to one of them is refused before anything is written:
// a `-o` or `side-file=` that names the model itself must not destroy it.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_SUPPORT_INPUTFILES_H
#define LOWBIT_SUPPORT_INPUTFILES_H

#include "llvm/Support/Error.h"
#include "llvm/Support/ErrorOr.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>

namespace lowbit {

/// Records `path` as read by this process. Paths that do not name an existing
/// file are ignored (their open fails elsewhere, with its own message).
void recordInputFile(const llvm::Twine &path);

/// MemoryBuffer::getFile that also records the file as an input.
llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>>
readInputFile(const llvm::Twine &path, bool isText = false,
              bool requiresNullTerminator = true, bool isVolatile = false);

/// Fails, naming both paths, when `output` is (through any symlinks) the same
/// file as a recorded input.
llvm::Error checkNotAnInput(llvm::StringRef output);

/// Forgets every recorded input: for a process that reads one unrelated
/// input after another (the fuzz targets), so the record does not grow.
void forgetInputFiles();

} // namespace lowbit

#endif // LOWBIT_SUPPORT_INPUTFILES_H
