//===- ArtifactWriter.h - Writing a .lbx file -------------------*- C++ -*-===//
//
// Lays out header, manifest, weights and code as ArtifactFormat.h says and
// fills in sizes and checksums. The compiler and the runtime's tests write
// artifacts through this one function.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_RUNTIME_ARTIFACTWRITER_H
#define LOWBIT_RUNTIME_ARTIFACTWRITER_H

#include "lowbit/Runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lowbit {
namespace rt {

struct ArtifactParts {
  /// A serialized lowbit.artifact.Manifest.
  std::string manifest;
  /// The weight section; tensor offsets in the manifest are relative to it.
  const void *weights = nullptr;
  uint64_t weightsSize = 0;
  /// The kernels: an ELF shared object.
  const void *code = nullptr;
  uint64_t codeSize = 0;
  /// A weight section of whole artifacts, one per target (artifact.proto,
  /// Part), each 4096-byte aligned at alignedPartOffsets(); used instead of
  /// `weights` when not empty.
  struct Piece {
    const void *data;
    uint64_t size;
  };
  std::vector<Piece> alignedParts;
};

/// Where pieces of these sizes start in a weight section that aligns each
/// to 4096 bytes; the last entry is the section's size.
std::vector<uint64_t> alignedPartOffsets(const std::vector<uint64_t> &sizes);

/// Receives the artifact's bytes in order; returns false when a write failed.
using ArtifactSink = std::function<bool(const void *data, uint64_t size)>;

/// Lays out `parts` and hands the bytes, in file order, to `sink`. Returns
/// false as soon as the sink does.
bool writeArtifact(const ArtifactParts &parts, const ArtifactSink &sink);

/// Writes `parts` to `path` (through a temporary file renamed into place).
Status writeArtifact(const std::string &path, const ArtifactParts &parts);

} // namespace rt
} // namespace lowbit

#endif // LOWBIT_RUNTIME_ARTIFACTWRITER_H
