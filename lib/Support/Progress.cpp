//===- Progress.cpp -------------------------------------------------------===//
#include "lowbit/Support/Progress.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <sys/resource.h>

using namespace lowbit;

/// The most memory this process has held resident so far, in bytes.
static uint64_t peakResidentBytes() {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0)
    return 0;
  return uint64_t(usage.ru_maxrss) * 1024; // kilobytes on Linux
}

Progress::Progress(llvm::StringRef what, int64_t total, bool enabled)
    : what(what.str()), total(total), enabled(enabled),
      terminal(llvm::sys::Process::StandardErrIsDisplayed()),
      start(std::chrono::steady_clock::now()) {}

double Progress::elapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

void Progress::update(int64_t done, llvm::StringRef detail) {
  if (!enabled || total <= 0)
    return;
  int64_t decile = done * 10 / total;
  if (!terminal && decile == lastReportedDecile && done != total)
    return;
  lastReportedDecile = decile;
  double elapsed = elapsedSeconds();
  double left = done > 0 ? elapsed / done * (total - done) : 0.0;
  auto &os = llvm::errs();
  os << (terminal ? "\r" : "") << what << ": " << done << "/" << total
     << llvm::format(", %.1f s elapsed, ~%.1f s left", elapsed, left);
  // Long runs on big models are bounded by memory as much as by time.
  if (uint64_t peak = peakResidentBytes())
    os << llvm::format(", peak RSS %.2f GB", double(peak) / 1e9);
  if (!detail.empty())
    os << ", " << detail;
  os << (terminal ? "\x1b[K" : "\n");
  os.flush();
}

void Progress::finish() {
  if (enabled && terminal)
    llvm::errs() << "\n";
}
