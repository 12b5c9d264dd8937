//===- Safetensors.h - Memory-mapped safetensors reader ---------*- C++ -*-===//
#ifndef LOWBIT_FORMATS_SAFETENSORS_H
#define LOWBIT_FORMATS_SAFETENSORS_H

#include "lowbit/Formats/TensorRef.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <map>
#include <memory>

namespace lowbit {

/// A safetensors file mapped read-only. Opening validates the header the way
/// the reference implementation does (sizes, contiguous offsets, no trailing
/// bytes), so every TensorRef handed out is in bounds.
class SafetensorsFile {
public:
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  open(llvm::StringRef path);
  /// Reads a file already in memory; errors name its buffer identifier.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  open(std::unique_ptr<llvm::MemoryBuffer> buffer);

  llvm::StringRef path() const { return filePath; }
  llvm::ArrayRef<TensorRef> tensors() const { return tensorList; }
  const TensorRef *find(llvm::StringRef name) const;
  const std::map<std::string, std::string> &metadata() const { return meta; }
  /// Whether the tensors point into a mapping of the file (not a copy).
  bool isMapped() const;

private:
  std::string filePath;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<TensorRef> tensorList;
  llvm::StringMap<size_t> index;
  std::map<std::string, std::string> meta;
};

/// A tensor to be written: its name, encoding and shape.
struct SafetensorsTensorInfo {
  std::string name;
  DType type;
  std::vector<int64_t> shape;
};

/// Where the reference serializer puts everything (formats.md §1): the
/// header with its 8-byte length prefix, then each tensor's byte range in
/// the file, in the order of `tensors`.
struct SafetensorsLayout {
  std::string header;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  uint64_t fileSize = 0;
};
/// Fails, naming `path`, on duplicate names, dtypes safetensors cannot store
/// or shapes too large to address.
llvm::Expected<SafetensorsLayout>
layoutSafetensors(llvm::ArrayRef<SafetensorsTensorInfo> tensors,
                  const std::map<std::string, std::string> &metadata,
                  llvm::StringRef path);

/// Writes safetensors files byte-identical to the reference serializer
/// (formats.md §1): tensors ordered by dtype alignment then name, compact
/// JSON, header padded with spaces to 8 bytes, `format: pt` metadata.
class SafetensorsWriter {
public:
  void addTensor(llvm::StringRef name, DType type,
                 llvm::ArrayRef<int64_t> shape, std::vector<uint8_t> bytes);
  void setMetadata(llvm::StringRef key, llvm::StringRef value) {
    meta[key.str()] = value.str();
  }
  /// Writes atomically; fails (creating nothing) on duplicate names, sizes
  /// that do not match their shape, or dtypes safetensors cannot store.
  llvm::Error write(llvm::StringRef path) const;

private:
  struct Entry {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Entry> entries;
  std::map<std::string, std::string> meta{{"format", "pt"}};
};

/// Maps a safetensors dtype string ("BF16") to our DType.
std::optional<DType> dtypeFromSafetensors(llvm::StringRef name);
llvm::StringRef safetensorsDTypeName(DType type);

} // namespace lowbit

#endif // LOWBIT_FORMATS_SAFETENSORS_H
