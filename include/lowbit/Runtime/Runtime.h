//===- Runtime.h - Load and run compiled artifacts (.lbx) -------*- C++ -*-===//
//
// The C++ layer of the runtime (the C API in lowbit_runtime.h sits on top):
//
//   Model    maps an artifact read-only, checks it (header, checksums,
//            format version, CPU features, manifest) and loads its kernels;
//   Session  a KV cache, scratch buffers and a thread pool that run the
//            manifest's steps over a batch of tokens;
//   Tokenizer the artifact's SentencePiece model.
//
// No MLIR, no LLVM, no exceptions: failures come back as rt::Status.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_RUNTIME_RUNTIME_H
#define LOWBIT_RUNTIME_RUNTIME_H

#include "lowbit/Runtime/Engine.h"
#include "lowbit/Runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit {
namespace rt {

/// What a caller needs to know about a loaded model.
struct ModelInfo {
  std::string arch, target, source;
  /// Holds code for an NVIDIA GPU (target sm_80, sm_90): run by GpuSession.
  bool gpu = false;
  /// Holds code for a CPU: run by Session. An artifact compiled for two
  /// targets (x86-64-v3,sm_90) has both.
  bool cpu = false;
  int64_t vocabSize = 0;
  int64_t contextLength = 0;
  int64_t numLayers = 0;
  int64_t bosTokenId = -1; // -1: none
  int64_t eosTokenId = -1;
  bool addBos = false;
  uint64_t weightBytes = 0;
  uint64_t codeBytes = 0;
  size_t steps = 0;
};

/// Text <-> token ids through libsentencepiece.
class Tokenizer {
public:
  ~Tokenizer();
  /// `serializedModel` is a SentencePiece ModelProto.
  static StatusOr<std::unique_ptr<Tokenizer>>
  create(const std::string &serializedModel);

  /// Encodes without BOS/EOS.
  std::vector<int32_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int32_t> &ids) const;
  int64_t size() const;

private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// How Model::load places the weights.
struct LoadOptions {
  /// Copy the weight section into anonymous memory backed by 2 MiB pages
  /// (transparent huge pages) instead of reading it in place from the file
  /// mapping: one TLB entry per 2 MiB of weights, which decode streams.
  /// Costs a copy at load and memory beside the file's page cache (like
  /// llama.cpp's --no-mmap); where the kernel has no huge pages the copy is
  /// still made, in 4 KiB pages.
  bool copyWeightsToHugePages = false;
};

class Model {
public:
  ~Model();
  /// Maps and checks `path`; every error message starts with the path.
  static StatusOr<std::unique_ptr<Model>> load(const std::string &path,
                                               const LoadOptions &options = {});

  const ModelInfo &info() const;
  const std::string &path() const;
  /// Null when the artifact carries no tokenizer.
  const Tokenizer *tokenizer() const;

  /// The loaded state (runtime/ModelImpl.h), for the runtime itself.
  struct Impl;

private:
  friend class Session;
  friend class GpuSession;
  Model();
  std::unique_ptr<Impl> impl;
};

class GpuSession;

/// One conversation's state over a Model (which must outlive it).
class Session : public Engine {
public:
  ~Session() override;
  /// `contextLength` 0: the model's; `threads` 0: one per available core
  /// (one per listed CPU when `cpus` is given). With `cpus`, thread i (the
  /// calling thread is thread 0) is pinned to cpus[i % cpus.size()].
  static StatusOr<std::unique_ptr<Session>>
  create(const Model &model, int64_t contextLength = 0, int threads = 0,
         const std::vector<int> &cpus = {});

  Status forward(const int32_t *tokens, const int32_t *positions, int64_t n,
                 bool allLogits) override;
  const float *logits() const override;
  int64_t vocabSize() const override;
  int64_t contextLength() const override;
  void reset() override;
  int64_t position() const override;
  int threads() const;

private:
  Session();
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Threads a session uses by default: the cores this process may run on.
int defaultThreadCount();

} // namespace rt
} // namespace lowbit

#endif // LOWBIT_RUNTIME_RUNTIME_H
