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

  llvm::StringRef path() const { return filePath; }
  llvm::ArrayRef<TensorRef> tensors() const { return tensorList; }
  const TensorRef *find(llvm::StringRef name) const;
  const std::map<std::string, std::string> &metadata() const { return meta; }

private:
  std::string filePath;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  std::vector<TensorRef> tensorList;
  llvm::StringMap<size_t> index;
  std::map<std::string, std::string> meta;
};

/// Maps a safetensors dtype string ("BF16") to our DType.
std::optional<DType> dtypeFromSafetensors(llvm::StringRef name);
llvm::StringRef safetensorsDTypeName(DType type);

} // namespace lowbit

#endif // LOWBIT_FORMATS_SAFETENSORS_H
