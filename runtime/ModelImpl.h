//===- ModelImpl.h - A loaded artifact, as the session sees it --*- C++ -*-===//
#ifndef LOWBIT_RUNTIME_MODELIMPL_H
#define LOWBIT_RUNTIME_MODELIMPL_H

#include "lowbit/Runtime/ArtifactFormat.h"
#include "lowbit/Runtime/Runtime.h"

#include "artifact.pb.h"

#include <memory>
#include <string>
#include <vector>

namespace lowbit {
namespace rt {

struct Model::Impl {
  ~Impl();

  std::string path;
  ModelInfo info;
  artifact::Manifest manifest;
  std::unique_ptr<Tokenizer> tokenizer;

  // The read-only mapping of the whole file.
  const unsigned char *base = nullptr;
  size_t mappedSize = 0;
  const unsigned char *weights = nullptr;

  // The code section, loaded with dlopen; `codeFd` stays open while it is
  // loaded so no other model's "/proc/self/fd/N" names the same path.
  void *library = nullptr;
  int codeFd = -1;
  std::string codeTempFile; // when memfd_create is not available

  /// The kernel of each step, in manifest order.
  std::vector<KernelFunction> kernels;
};

} // namespace rt
} // namespace lowbit

#endif // LOWBIT_RUNTIME_MODELIMPL_H
