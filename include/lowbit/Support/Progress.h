//===- Progress.h - Progress lines with time left on stderr -----*- C++ -*-===//
#ifndef LOWBIT_SUPPORT_PROGRESS_H
#define LOWBIT_SUPPORT_PROGRESS_H

#include "llvm/ADT/StringRef.h"

#include <chrono>
#include <string>

namespace lowbit {

/// Reports "what: i/n, elapsed, time left, peak RSS" on stderr: rewritten in place on a
/// terminal, otherwise one line per ~10% so logs stay short.
class Progress {
public:
  Progress(llvm::StringRef what, int64_t total, bool enabled = true);
  void update(int64_t done, llvm::StringRef detail = "");
  void finish();
  double elapsedSeconds() const;

private:
  std::string what;
  int64_t total;
  bool enabled, terminal;
  int64_t lastReportedDecile = -1;
  std::chrono::steady_clock::time_point start;
};

} // namespace lowbit

#endif // LOWBIT_SUPPORT_PROGRESS_H
