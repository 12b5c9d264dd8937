//===- FuzzSupport.h - Shared pieces of the fuzz targets --------*- C++ -*-===//
//
// Readers that take a path get the input through a memfd (MemFile), readers
// of a directory through a private scratch directory (ScratchDir). Inputs
// made of several files are the files joined by kFileSeparator.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_FUZZ_FUZZSUPPORT_H
#define LOWBIT_FUZZ_FUZZSUPPORT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/Formats/HfConfig.h"

namespace lowbit {
namespace fuzz {

/// Separates the files of a multi-file input (e.g. config.json and
/// model.safetensors of a checkpoint); MakeSeeds.cpp writes seeds so.
inline constexpr llvm::StringLiteral kFileSeparator = "\n--lowbit-fuzz-file--\n";

inline llvm::StringRef bytesOf(const uint8_t *data, size_t size) {
  return llvm::StringRef(reinterpret_cast<const char *>(data), size);
}

/// The input's files; missing trailing files are empty.
std::vector<llvm::StringRef> splitFiles(llvm::StringRef input, size_t count);

/// The readers' contract: a failure is an llvm::Error whose message starts
/// with the file it concerns ("NAME: ..."). Anything else traps, so the
/// fuzzer reports it like a crash.
void expectFileError(llvm::Error error, llvm::StringRef name);

/// The same for errors about the files of a directory: the message starts
/// with the directory or a path inside it.
void expectErrorIn(llvm::Error error, llvm::StringRef dir);

/// Consumes an error whose message is not checked.
void ignore(llvm::Error error);

/// A file in memory (memfd) with a stable path, /proc/self/fd/N.
class MemFile {
public:
  MemFile();
  ~MemFile();
  /// Replaces the contents; returns the path to open.
  const std::string &write(llvm::StringRef bytes);
  const std::string &path() const { return filePath; }

private:
  int fd = -1;
  std::string filePath;
};

/// A private directory, removed with its files at exit.
class ScratchDir {
public:
  ScratchDir();
  ~ScratchDir();
  /// Writes `name` in the directory; returns its path.
  std::string write(llvm::StringRef name, llvm::StringRef bytes);
  void remove(llvm::StringRef name);
  const std::string &path() const { return dirPath; }

private:
  std::string dirPath;
};

/// Reads every byte of [data, data + size), so ASan checks that a view a
/// reader handed out lies inside live memory.
void touch(const void *data, size_t size);

/// The bundled tiny-5m's shape, which the statistics and imatrix seeds were
/// made for.
const ModelConfig &tinyModelConfig();

} // namespace fuzz
} // namespace lowbit

#endif // LOWBIT_FUZZ_FUZZSUPPORT_H
