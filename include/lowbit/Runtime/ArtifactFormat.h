//===- ArtifactFormat.h - The byte layout of a .lbx file --------*- C++ -*-===//
//
// A .lbx artifact is one file:
//
//   [0, 4096)            ArtifactHeader, zero padded
//   manifest section     a serialized lowbit.artifact.Manifest (artifact.proto)
//   weight section       packed weights, 4096-byte aligned, mapped read-only
//                        and used in place
//   code section         the generated kernels: an ELF shared object
//                        (GPU targets: the PTX)
//
// An artifact for two targets holds one whole artifact per target in its
// weight section and has an empty code section (artifact.proto, Part).
//
// Offsets are absolute. Shared by the compiler (writer) and the runtime
// (reader); plain C++, no MLIR/LLVM.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_RUNTIME_ARTIFACTFORMAT_H
#define LOWBIT_RUNTIME_ARTIFACTFORMAT_H

#include <array>
#include <cstddef>
#include <cstdint>

namespace lowbit {

inline constexpr char kArtifactMagic[8] = {'L', 'O', 'W', 'B', 'I', 'T', 'X', '\0'};
/// Bumped whenever the layout, the manifest's meaning or the kernel ABI
/// changes; a runtime refuses newer artifacts.
/// 2: the key cache is tiled by kKeyCacheTile positions.
/// 3: an artifact may hold one artifact per target (Manifest.parts); a GPU
///    step may repeat a smaller batch's kernel (Step.gpu_repeats).
inline constexpr uint32_t kArtifactFormatVersion = 3;
inline constexpr uint64_t kArtifactAlignment = 4096;
/// The key cache of a layer holds, for each block of kKeyCacheTile
/// positions, the kv_width values of each position transposed: value d of
/// position p at ((p / tile)·kv_width + d)·tile + p % tile, so attention reads
/// the keys of a block as one vector per dimension. The value cache is
/// row-major ([position][kv_width]). Both hold a whole number of blocks.
inline constexpr int64_t kKeyCacheTile = 16;

struct ArtifactHeader {
  char magic[8];
  uint32_t formatVersion;
  uint32_t headerSize; // sizeof(ArtifactHeader)
  uint64_t manifestOffset, manifestSize;
  uint64_t weightsOffset, weightsSize;
  uint64_t codeOffset, codeSize;
  uint64_t fileSize; // the whole file: a shorter file is truncated
  uint32_t manifestCrc32; // zlib's CRC-32 of the manifest bytes
  uint32_t codeCrc32;
};

/// The signature of every generated kernel: `args` holds one pointer per
/// Arg of the step, `tokens` the rows of this call, and the kernel does the
/// share `thread` of `threads` of the work.
using KernelFunction = void (*)(void *const *args, int64_t tokens,
                                int64_t thread, int64_t threads);

namespace detail {
constexpr std::array<uint32_t, 256> makeCrc32Table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
inline constexpr std::array<uint32_t, 256> kCrc32Table = makeCrc32Table();
} // namespace detail

/// zlib's CRC-32 (`crc32(crc, data, size)`): pass the previous result as
/// `crc` to continue over more bytes; start from 0.
inline uint32_t artifactCrc32(const void *data, size_t size, uint32_t crc = 0) {
  const auto *p = static_cast<const unsigned char *>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i)
    crc = detail::kCrc32Table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

} // namespace lowbit

#endif // LOWBIT_RUNTIME_ARTIFACTFORMAT_H
