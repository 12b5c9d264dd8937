//===- ToolSetup.cpp ------------------------------------------------------===//
#include "lowbit/Support/ToolSetup.h"

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

using namespace llvm;

// Fixed buffers: the crash handler may only use async-signal-safe calls.
static char toolName[64] = "lowbit";
static char subject[1024] = "";

static void copyInto(char *dst, size_t cap, StringRef src) {
  size_t n = std::min(src.size(), cap - 1);
  std::memcpy(dst, src.data(), n);
  dst[n] = '\0';
}

static void writeAll(const char *s) {
  size_t n = std::strlen(s);
  while (n) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0)
      return;
    s += w;
    n -= size_t(w);
  }
}

static void writeSubject() {
  if (subject[0]) {
    writeAll(" while processing '");
    writeAll(subject);
    writeAll("'");
  }
}

static const char *signalName(int sig) {
  switch (sig) {
  case SIGSEGV: return "SIGSEGV";
  case SIGBUS: return "SIGBUS";
  case SIGFPE: return "SIGFPE";
  case SIGILL: return "SIGILL";
  case SIGABRT: return "SIGABRT";
  default: return "signal";
  }
}

static void onCrash(int sig) {
  writeAll(toolName);
  writeAll(": internal error (");
  writeAll(signalName(sig));
  writeAll(")");
  writeSubject();
  writeAll("; this is a bug in lowbit\n");
  // Removes files registered for removal (partial outputs), as LLVM's own
  // handler would have.
  sys::RunInterruptHandlers();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

static void onFatalError(void *, const char *reason, bool) {
  writeAll(toolName);
  writeAll(": error: ");
  writeAll(reason);
  if (subject[0]) {
    writeAll(" (while processing '");
    writeAll(subject);
    writeAll("')");
  }
  writeAll("\n");
  sys::RunInterruptHandlers();
  std::_Exit(1);
}

static void onOutOfMemory(void *, const char *, bool) {
  writeAll(toolName);
  writeAll(": error: out of memory");
  writeSubject();
  writeAll("\n");
  sys::RunInterruptHandlers();
  std::_Exit(1);
}

void lowbit::setUpTool(int argc, char **argv) {
  if (argc > 0)
    copyInto(toolName, sizeof(toolName), sys::path::filename(argv[0]));
  install_fatal_error_handler(onFatalError);
  install_bad_alloc_error_handler(onOutOfMemory);
  install_out_of_memory_new_handler();
#if !defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer its own report is the useful one.
  struct sigaction action = {};
  action.sa_handler = onCrash;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
    sigaction(sig, &action, nullptr);
#endif
}

void lowbit::setToolSubject(StringRef input) {
  copyInto(subject, sizeof(subject), input);
}
