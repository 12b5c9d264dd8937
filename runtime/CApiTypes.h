//===- CApiTypes.h - The C API's handles, shared by its two halves --------===//
//
// lowbit_runtime.h's functions live in CApi.cpp (LowbitRuntime) and, for
// GPU sessions, gpu/GpuCApi.cpp (LowbitGpuRuntime): one handle type serves
// both, a session being any Engine.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_RUNTIME_CAPITYPES_H
#define LOWBIT_RUNTIME_CAPITYPES_H

#include "lowbit/Runtime/Engine.h"
#include "lowbit/Runtime/Runtime.h"

#include <memory>
#include <string>

struct lowbit_model {
  std::unique_ptr<lowbit::rt::Model> model;
};

struct lowbit_session {
  std::unique_ptr<lowbit::Engine> engine;
};

namespace lowbit::rt {
/// Records `message` as this thread's last error; returns 1.
int capiFail(const std::string &message);
/// 0 for ok, else capiFail(its message).
int capiCheck(const Status &status);
} // namespace lowbit::rt

#endif // LOWBIT_RUNTIME_CAPITYPES_H
