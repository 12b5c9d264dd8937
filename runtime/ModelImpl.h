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
  // The huge-page copy of the weights (LoadOptions), when made.
  void *weightCopy = nullptr;
  size_t weightCopySize = 0;

  // The code section, loaded with dlopen; `codeFd` stays open while it is
  // loaded so no other model's "/proc/self/fd/N" names the same path.
  void *library = nullptr;
  int codeFd = -1;
  std::string codeTempFile; // when memfd_create is not available

  // A GPU artifact's PTX (the code section, NUL-terminated).
  const char *ptx = nullptr;
  size_t ptxSize = 0;
  /// The kernel of each step, in manifest order (CPU artifacts).
  std::vector<KernelFunction> kernels;

  // A two-target artifact (artifact.proto, Part): this is its CPU part and
  // `gpuPart` its GPU part, which reads this one's mapping.
  std::unique_ptr<Model> gpuPart;
  // Why this CPU cannot run the CPU part of a two-target artifact (its code
  // is then not loaded); empty when it can.
  std::string cpuUnavailable;
};

/// The checks of Engine::forward's arguments that every session makes: at
/// least one token, ids in the vocabulary, positions in the context.
Status checkForwardInputs(const int32_t *tokens, const int32_t *positions, int64_t n,
                          int64_t vocab, int64_t context);

/// GPU targets are named like sm_90.
inline bool isGpuTarget(const std::string &target) { return target.rfind("sm_", 0) == 0; }

/// Everything Model::load checks before it runs anything from the file:
/// header, section bounds, checksums, the manifest and the CPU features it
/// needs. `data` is the whole file (`size` bytes); messages start with
/// `path`. Fills `header` and `manifest`; the code is neither written out nor
/// loaded, so this is also what the artifact fuzzer (fuzz/) exercises.
Status checkArtifact(const std::string &path, const unsigned char *data,
                     uint64_t size, ArtifactHeader &header,
                     artifact::Manifest &manifest);

} // namespace rt
} // namespace lowbit

#endif // LOWBIT_RUNTIME_MODELIMPL_H
