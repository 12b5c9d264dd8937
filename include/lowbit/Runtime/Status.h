//===- Status.h - Errors as values for the runtime --------------*- C++ -*-===//
//
// The runtime links no LLVM, so it cannot use llvm::Error; these two small
// types carry a failure's message instead (no exceptions).
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_RUNTIME_STATUS_H
#define LOWBIT_RUNTIME_STATUS_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace lowbit {
namespace rt {

/// Success, or a failure with a message for people.
class [[nodiscard]] Status {
public:
  Status() = default;
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.failed = true;
    s.text = std::move(message);
    return s;
  }
  bool ok() const { return !failed; }
  explicit operator bool() const { return ok(); }
  const std::string &message() const { return text; }

private:
  bool failed = false;
  std::string text;
};

/// A value, or the Status saying why there is none.
template <typename T> class [[nodiscard]] StatusOr {
public:
  StatusOr(T value) : val(std::move(value)) {}
  StatusOr(Status status) : st(std::move(status)) {
    assert(!st.ok() && "a StatusOr without a value needs a failure");
  }
  bool ok() const { return val.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status &status() const { return st; }
  T &operator*() { return *val; }
  const T &operator*() const { return *val; }
  T *operator->() { return &*val; }
  const T *operator->() const { return &*val; }
  T take() { return std::move(*val); }

private:
  std::optional<T> val;
  Status st;
};

} // namespace rt
} // namespace lowbit

#endif // LOWBIT_RUNTIME_STATUS_H
