//===- GpuCApi.cpp - lowbit_session_create_cuda ---------------------------===//
//
// The C API's GPU session, in LowbitGpuRuntime so that programs that run
// only CPU artifacts link nothing of the GPU side.
//
//===----------------------------------------------------------------------===//
#include "CApiTypes.h"
#include "lowbit/Runtime/GpuSession.h"
#include "lowbit/Runtime/lowbit_runtime.h"

using namespace lowbit::rt;

extern "C" int lowbit_session_create_cuda(lowbit_model *model, int64_t context_length,
                                          int device, lowbit_session **session) {
  if (!model || !session)
    return capiFail("lowbit_session_create_cuda: null argument");
  *session = nullptr;
  GpuSessionOptions options;
  options.device = device;
  options.contextLength = context_length;
  options.progress = false;
  StatusOr<std::unique_ptr<GpuSession>> created = GpuSession::create(*model->model, options);
  if (!created.ok())
    return capiCheck(created.status());
  *session = new lowbit_session{created.take()};
  return 0;
}
