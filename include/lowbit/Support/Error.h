//===- Error.h - Error helpers that name the offending file -----*- C++ -*-===//
#ifndef LOWBIT_SUPPORT_ERROR_H
#define LOWBIT_SUPPORT_ERROR_H

#include "llvm/Support/Error.h"
#include "llvm/Support/FormatVariadic.h"

namespace lowbit {

/// Every user-facing error starts with the file it concerns, so a message
/// printed by a tool reads "model.safetensors: tensor 'x' ends past the file".
template <typename... Ts>
llvm::Error fileError(llvm::StringRef file, const char *fmt, Ts &&...args) {
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      (file + ": " + llvm::formatv(fmt, std::forward<Ts>(args)...).str()).str());
}

} // namespace lowbit

#endif // LOWBIT_SUPPORT_ERROR_H
