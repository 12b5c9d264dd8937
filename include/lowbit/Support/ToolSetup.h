//===- ToolSetup.h - Process set-up shared by the lowbit tools --*- C++ -*-===//
//
// The tools do not use LLVM's InitLLVM: its crash handler prints a stack dump
// and a request to report the bug to LLVM. A lowbit tool instead says, in one
// line, that lowbit failed and on which input.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_SUPPORT_TOOLSETUP_H
#define LOWBIT_SUPPORT_TOOLSETUP_H

#include "llvm/ADT/StringRef.h"

namespace lowbit {

/// Installs the tool's handlers:
/// - a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) prints
///   "<tool>: internal error (<signal>) while processing '<input>'" and still
///   ends the process by that signal, so callers see it was a crash;
/// - an LLVM fatal error prints "<tool>: error: <reason> (while processing
///   '<input>')" and exits with status 1;
/// - running out of memory says so and exits with status 1.
/// Partial outputs (temporary files) are removed in every case.
void setUpTool(int argc, char **argv);

/// Names the input that the messages above mention.
void setToolSubject(llvm::StringRef input);

} // namespace lowbit

#endif // LOWBIT_SUPPORT_TOOLSETUP_H
