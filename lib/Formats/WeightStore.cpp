//===- WeightStore.cpp ----------------------------------------------------===//
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Support/Error.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <sys/mman.h>
#include <unistd.h>

using namespace llvm;
using namespace lowbit;

WeightStore::WeightStore() = default;
WeightStore::~WeightStore() = default;
WeightStore::WeightStore(WeightStore &&) = default;
WeightStore &WeightStore::operator=(WeightStore &&) = default;

Error WeightStore::addFile(StringRef path) { return addFileImpl(path, false); }
Error WeightStore::addSideFile(StringRef path) { return addFileImpl(path, true); }

Error WeightStore::addFileImpl(StringRef path, bool shadow) {
  char magic[4] = {0, 0, 0, 0};
  {
    auto head = MemoryBuffer::getFileSlice(path, 4, 0, /*IsVolatile=*/false);
    if (!head) {
      uint64_t size = 0;
      if (!sys::fs::file_size(path, size) && size < 4)
        return fileError(path, "file too short ({0} bytes) to be a weight file",
                         size);
      return fileError(path, "cannot open: {0}", head.getError().message());
    }
    std::memcpy(magic, (*head)->getBufferStart(), 4);
  }
  ArrayRef<TensorRef> tensors;
  bool isMapped = false;
  // The extension counts too, so a damaged .gguf is diagnosed as GGUF.
  if (StringRef(magic, 4) == "GGUF" ||
      sys::path::extension(path).equals_insensitive(".gguf")) {
    auto file = GgufFile::open(path);
    if (!file)
      return file.takeError();
    tensors = (*file)->tensors();
    isMapped = (*file)->isMapped();
    ggufs.push_back(std::move(*file));
  } else {
    auto file = SafetensorsFile::open(path);
    if (!file)
      return file.takeError();
    tensors = (*file)->tensors();
    isMapped = (*file)->isMapped();
    safetensors.push_back(std::move(*file));
  }
  for (const TensorRef &t : tensors) {
    if (shadow) {
      byName[t.name] = {&t, paths.size()};
      continue;
    }
    if (!byName.try_emplace(t.name, &t, paths.size()).second)
      return fileError(path, "tensor '{0}' is also present in an earlier "
                       "weight file", t.name);
  }
  paths.push_back(path.str());
  mapped.push_back(isMapped);
  return Error::success();
}

const TensorRef *WeightStore::find(StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : it->second.first;
}

std::vector<StringRef> WeightStore::names() const {
  std::vector<StringRef> out;
  out.reserve(byName.size());
  for (const auto &entry : byName)
    out.push_back(entry.getKey());
  llvm::sort(out);
  return out;
}

StringRef WeightStore::fileOf(StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? StringRef() : StringRef(paths[it->second.second]);
}

Expected<const TensorRef *> WeightStore::get(StringRef name) const {
  if (const TensorRef *t = find(name))
    return t;
  return fileError(paths.empty() ? StringRef("<weight store>") : StringRef(paths.front()),
                   "no tensor named '{0}' in the weight store", name);
}

const GgufFile *WeightStore::ggufFile() const {
  return ggufs.empty() ? nullptr : ggufs.front().get();
}

void WeightStore::releasePages(const TensorRef &t) const {
  releasePages(t, 0, t.bytes);
}

void WeightStore::releasePages(const TensorRef &t, uint64_t offset,
                               uint64_t bytes) const {
  auto it = byName.find(t.name);
  if (it == byName.end() || it->second.first != &t || !mapped[it->second.second] ||
      offset > t.bytes)
    return;
  bytes = std::min(bytes, t.bytes - offset);
  // Only whole pages inside the range: a neighbour may share the edges.
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t begin = (uintptr_t(t.data + offset) + page - 1) & ~(page - 1);
  uintptr_t end = (uintptr_t(t.data + offset + bytes)) & ~(page - 1);
  if (end > begin)
    (void)madvise(reinterpret_cast<void *>(begin), end - begin, MADV_DONTNEED);
}
