//===- GpuSession.h - Run a GPU artifact on an NVIDIA GPU -------*- C++ -*-===//
//
// The GPU counterpart of Session: the artifact's weights uploaded once to
// device memory (streamed from the mapped file), an f16 KV cache and the
// scratch buffers on the device, and the manifest's launches run in order on
// one stream, replayed as a CUDA graph per batch size after their first run.
// The driver is opened at run time (CudaDriver.h): a machine without one
// gets a clear error, and nothing here links CUDA.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_RUNTIME_GPUSESSION_H
#define LOWBIT_RUNTIME_GPUSESSION_H

#include "lowbit/Runtime/Runtime.h"

#include <memory>
#include <string>

namespace lowbit {
namespace rt {

struct GpuSessionOptions {
  int device = 0;            // cuda:N
  int64_t contextLength = 0; // 0: the model's
  /// Replay each batch size's launches as a CUDA graph (where the driver
  /// has graphs); false: launch them one by one every time.
  bool graphs = true;
  /// Progress of the weight upload on stderr.
  bool progress = true;
};

class GpuSession : public Engine {
public:
  ~GpuSession() override;
  /// Fails with "no CUDA driver: ..." where there is none, or naming the
  /// artifact when it was not compiled for a GPU or not for this one.
  static StatusOr<std::unique_ptr<GpuSession>> create(const Model &model,
                                                      const GpuSessionOptions &options = {});
  Status forward(const int32_t *tokens, const int32_t *positions, int64_t n,
                 bool allLogits) override;
  const float *logits() const override;
  int64_t vocabSize() const override;
  int64_t contextLength() const override;
  void reset() override;
  int64_t position() const override;
  /// "NVIDIA H200 (sm_90, cubin)" or "(..., PTX compiled by the driver)".
  const std::string &description() const;

private:
  GpuSession();
  struct Impl;
  std::unique_ptr<Impl> impl;
};

} // namespace rt
} // namespace lowbit

#endif // LOWBIT_RUNTIME_GPUSESSION_H
