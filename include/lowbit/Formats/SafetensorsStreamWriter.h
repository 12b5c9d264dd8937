//===- SafetensorsStreamWriter.h - Safetensors written as results come -*- C++ -*-===//
//
// A pass that quantizes a model layer by layer writes each tensor to the
// side file as soon as it is done, so the results of finished layers do not
// stay in memory. The tensors' names, types and shapes are declared up
// front: the layout (SafetensorsWriter's, byte for byte) is then fixed and
// every tensor goes straight to its place in PATH.partial, a file allocated
// whole at creation, so a full disk shows at once and not half way. commit()
// renames it to PATH. A killed run leaves PATH.partial, which a resumed run
// opens again (reopen) and finishes.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_FORMATS_SAFETENSORSSTREAMWRITER_H
#define LOWBIT_FORMATS_SAFETENSORSSTREAMWRITER_H

#include "lowbit/Formats/Safetensors.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace lowbit {

class SafetensorsStreamWriter {
public:
  ~SafetensorsStreamWriter();

  /// Allocates PATH.partial for `tensors` (replacing any earlier one).
  static llvm::Expected<std::unique_ptr<SafetensorsStreamWriter>>
  create(llvm::StringRef path, llvm::ArrayRef<SafetensorsTensorInfo> tensors);
  /// Opens the PATH.partial an interrupted run left; it must hold exactly
  /// the layout of `tensors`.
  static llvm::Expected<std::unique_ptr<SafetensorsStreamWriter>>
  reopen(llvm::StringRef path, llvm::ArrayRef<SafetensorsTensorInfo> tensors);

  /// Writes tensor `name`'s bytes (their size must match its shape).
  llvm::Error write(llvm::StringRef name, llvm::ArrayRef<uint8_t> bytes);
  template <typename T>
  llvm::Error write(llvm::StringRef name, llvm::ArrayRef<T> values) {
    return write(name, llvm::ArrayRef<uint8_t>(
                           reinterpret_cast<const uint8_t *>(values.data()),
                           values.size() * sizeof(T)));
  }
  /// Makes what was written so far durable (before a resume point names it).
  llvm::Error sync();
  /// Syncs and renames PATH.partial to PATH.
  llvm::Error commit();
  /// Removes PATH.partial.
  void discard();

  llvm::StringRef partialPath() const { return partial; }
  static std::string partialPathOf(llvm::StringRef path);

private:
  SafetensorsStreamWriter() = default;
  static llvm::Expected<std::unique_ptr<SafetensorsStreamWriter>>
  open(llvm::StringRef path, llvm::ArrayRef<SafetensorsTensorInfo> tensors,
       bool existing);

  std::string target, partial;
  int fd = -1;
  SafetensorsLayout layout;
  llvm::StringMap<size_t> index;
};

} // namespace lowbit

#endif // LOWBIT_FORMATS_SAFETENSORSSTREAMWRITER_H
