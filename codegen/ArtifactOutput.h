//===- ArtifactOutput.h - What CPU and GPU artifacts share ------*- C++ -*-===//
//
// The model's description in the manifest and the atomic write of the file,
// shared by the CPU (Compile.cpp) and GPU (GpuCompile.cpp) compilers.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_ARTIFACTOUTPUT_H
#define LOWBIT_CODEGEN_ARTIFACTOUTPUT_H

#include "artifact.pb.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>

namespace lowbit {
struct LoadedModel;

/// Fills the manifest's format version, config, tokenizer and KV width from
/// the model, and its target.
void describeModel(artifact::Manifest &m, const LoadedModel &model, llvm::StringRef target);

/// Writes the artifact to `path` atomically (a temporary name, renamed when
/// complete).
llvm::Error writeArtifactFile(llvm::StringRef path, const artifact::Manifest &m,
                              const void *weights, size_t weightsSize, const void *code,
                              size_t codeSize);
} // namespace lowbit

#endif // LOWBIT_CODEGEN_ARTIFACTOUTPUT_H
