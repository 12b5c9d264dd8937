//===- WeightStore.h - Named tensors backed by mapped files -----*- C++ -*-===//
#ifndef LOWBIT_FORMATS_WEIGHTSTORE_H
#define LOWBIT_FORMATS_WEIGHTSTORE_H

#include "lowbit/Formats/TensorRef.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace lowbit {

class GgufFile;
class SafetensorsFile;

/// The weights of a model: every tensor of a set of memory-mapped safetensors
/// and GGUF files, looked up by name. IR refers to weights only by name, so
/// importing a large model costs a header parse, not a copy.
class WeightStore {
public:
  WeightStore();
  ~WeightStore();
  WeightStore(WeightStore &&);
  WeightStore &operator=(WeightStore &&);

  /// Adds a file; the format is detected from its first bytes. A tensor name
  /// already present in an earlier file is an error.
  llvm::Error addFile(llvm::StringRef path);
  /// Adds a side file written by a pass: its tensors replace any earlier
  /// tensor of the same name.
  llvm::Error addSideFile(llvm::StringRef path);

  const TensorRef *find(llvm::StringRef name) const;
  llvm::Expected<const TensorRef *> get(llvm::StringRef name) const;
  llvm::ArrayRef<std::string> files() const { return paths; }
  /// The names of every tensor, sorted.
  std::vector<llvm::StringRef> names() const;
  /// The file holding tensor `name` (empty if there is none).
  llvm::StringRef fileOf(llvm::StringRef name) const;
  /// The first GGUF file added, if any (its metadata holds the vocabulary).
  const GgufFile *ggufFile() const;
  /// Tells the kernel the pages under `t` (a tensor of this store) are not
  /// needed now, so a streaming pass's resident memory does not grow with
  /// the tensors it has read. They are read again from the file if used.
  /// Does nothing for files held in memory rather than mapped.
  void releasePages(const TensorRef &t) const;
  /// The same for bytes [offset, offset + bytes) of `t`.
  void releasePages(const TensorRef &t, uint64_t offset, uint64_t bytes) const;

private:
  llvm::Error addFileImpl(llvm::StringRef path, bool shadow);
  std::vector<std::string> paths;
  std::vector<bool> mapped; // per path
  std::vector<std::unique_ptr<SafetensorsFile>> safetensors;
  std::vector<std::unique_ptr<GgufFile>> ggufs;
  llvm::StringMap<std::pair<const TensorRef *, size_t>> byName;
};

} // namespace lowbit

#endif // LOWBIT_FORMATS_WEIGHTSTORE_H
