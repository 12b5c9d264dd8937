//===- ArtifactOutput.h - What CPU and GPU artifacts share ------*- C++ -*-===//
//
// The model's description in the manifest and the atomic write of the file,
// shared by the CPU (Compile.cpp) and GPU (GpuCompile.cpp) compilers.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_ARTIFACTOUTPUT_H
#define LOWBIT_CODEGEN_ARTIFACTOUTPUT_H

#include "artifact.pb.h"
#include "lowbit/Runtime/ArtifactWriter.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <map>

namespace lowbit {
struct LoadedModel;

/// The scratch buffers of a plan: a released buffer is reused by the next
/// request of the same row size.
class BufferPool {
public:
  explicit BufferPool(artifact::Manifest &manifest) : manifest(manifest) {}
  int allocate(int64_t rowBytes) {
    auto it = free.find(rowBytes);
    if (it == free.end()) {
      manifest.add_buffers()->set_row_bytes(uint64_t(rowBytes));
      return manifest.buffers_size() - 1;
    }
    int id = it->second;
    free.erase(it);
    return id;
  }
  void release(int id) { free.emplace(int64_t(manifest.buffers(id).row_bytes()), id); }

private:
  artifact::Manifest &manifest;
  std::multimap<int64_t, int> free;
};

/// Fills the manifest's format version, config, tokenizer and KV width from
/// the model, and its target.
void describeModel(artifact::Manifest &m, const LoadedModel &model, llvm::StringRef target);

/// Writes the artifact to `path` atomically (a temporary name, renamed when
/// complete).
llvm::Error writeArtifactFile(llvm::StringRef path, const artifact::Manifest &m,
                              const void *weights, size_t weightsSize, const void *code,
                              size_t codeSize);
/// The same for artifacts whose parts the caller has laid out.
llvm::Error writeArtifactFile(llvm::StringRef path, const rt::ArtifactParts &parts);
} // namespace lowbit

#endif // LOWBIT_CODEGEN_ARTIFACTOUTPUT_H
