//===- ArtifactWriter.cpp - Header, sections, checksums -------------------===//
#include "lowbit/Runtime/ArtifactWriter.h"
#include "lowbit/Runtime/ArtifactFormat.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

using namespace lowbit;
using namespace lowbit::rt;

static uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

std::vector<uint64_t> lowbit::rt::alignedPartOffsets(const std::vector<uint64_t> &sizes) {
  std::vector<uint64_t> offsets{0};
  for (size_t i = 0; i < sizes.size(); ++i)
    offsets.push_back(i + 1 < sizes.size() ? alignUp(offsets.back() + sizes[i], kArtifactAlignment)
                                           : offsets.back() + sizes[i]);
  return offsets;
}

bool lowbit::rt::writeArtifact(const ArtifactParts &parts,
                               const ArtifactSink &sink) {
  ArtifactHeader h;
  std::memset(&h, 0, sizeof(h));
  std::memcpy(h.magic, kArtifactMagic, sizeof(h.magic));
  h.formatVersion = kArtifactFormatVersion;
  h.headerSize = sizeof(ArtifactHeader);
  h.manifestOffset = kArtifactAlignment;
  h.manifestSize = parts.manifest.size();
  h.weightsOffset = alignUp(h.manifestOffset + h.manifestSize, kArtifactAlignment);
  std::vector<uint64_t> partSizes, partOffsets;
  for (const ArtifactParts::Piece &p : parts.alignedParts)
    partSizes.push_back(p.size);
  if (!partSizes.empty())
    partOffsets = alignedPartOffsets(partSizes);
  h.weightsSize = partSizes.empty() ? parts.weightsSize : partOffsets.back();
  h.codeOffset = alignUp(h.weightsOffset + h.weightsSize, kArtifactAlignment);
  h.codeSize = parts.codeSize;
  h.fileSize = h.codeOffset + h.codeSize;
  h.manifestCrc32 = artifactCrc32(parts.manifest.data(), parts.manifest.size());
  h.codeCrc32 = artifactCrc32(parts.code, parts.codeSize);

  std::vector<char> zeros(kArtifactAlignment, 0);
  uint64_t written = 0;
  bool ok = true;
  auto put = [&](const void *data, uint64_t size) {
    if (ok && size && !sink(data, size))
      ok = false;
    written += size;
  };
  auto padTo = [&](uint64_t offset) {
    while (written < offset)
      put(zeros.data(), std::min<uint64_t>(offset - written, zeros.size()));
  };
  put(&h, sizeof(h));
  padTo(h.manifestOffset);
  put(parts.manifest.data(), parts.manifest.size());
  padTo(h.weightsOffset);
  if (partSizes.empty())
    put(parts.weights, parts.weightsSize);
  for (size_t i = 0; i < partSizes.size(); ++i) {
    padTo(h.weightsOffset + partOffsets[i]);
    put(parts.alignedParts[i].data, partSizes[i]);
  }
  padTo(h.codeOffset);
  put(parts.code, parts.codeSize);
  return ok;
}

Status lowbit::rt::writeArtifact(const std::string &path,
                                 const ArtifactParts &parts) {
  std::string temp = path + ".tmp";
  FILE *f = std::fopen(temp.c_str(), "wb");
  if (!f)
    return Status::error(path + ": cannot create: " + std::strerror(errno));
  bool ok = writeArtifact(parts, [f](const void *data, uint64_t size) {
    return std::fwrite(data, 1, size, f) == size;
  });
  if (std::fclose(f) != 0)
    ok = false;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    return Status::error(path + ": cannot write: " + why);
  }
  return Status::success();
}
