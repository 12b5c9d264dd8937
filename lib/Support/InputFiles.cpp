//===- InputFiles.cpp -----------------------------------------------------===//
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Support/Error.h"

#include "llvm/Support/FileSystem.h"

#include <mutex>
#include <string>
#include <vector>

using namespace llvm;

namespace {
struct RecordedInput {
  sys::fs::UniqueID id;
  std::string path;
};
std::mutex inputsMutex;
std::vector<RecordedInput> &recordedInputs() {
  static std::vector<RecordedInput> inputs;
  return inputs;
}
} // namespace

void lowbit::recordInputFile(const Twine &path) {
  sys::fs::UniqueID id;
  if (sys::fs::getUniqueID(path, id)) // follows symlinks
    return;
  std::lock_guard<std::mutex> lock(inputsMutex);
  for (const RecordedInput &in : recordedInputs())
    if (in.id == id)
      return;
  recordedInputs().push_back({id, path.str()});
}

ErrorOr<std::unique_ptr<MemoryBuffer>>
lowbit::readInputFile(const Twine &path, bool isText,
                      bool requiresNullTerminator, bool isVolatile) {
  recordInputFile(path);
  return MemoryBuffer::getFile(path, isText, requiresNullTerminator, isVolatile);
}

Error lowbit::checkNotAnInput(StringRef output) {
  sys::fs::UniqueID id;
  if (sys::fs::getUniqueID(output, id))
    return Error::success(); // a new file cannot be an input
  std::lock_guard<std::mutex> lock(inputsMutex);
  for (const RecordedInput &in : recordedInputs())
    if (in.id == id)
      return fileError(output,
                       "refusing to write: this output is the input '{0}', "
                       "which it would destroy",
                       in.path);
  return Error::success();
}

void lowbit::forgetInputFiles() {
  std::lock_guard<std::mutex> lock(inputsMutex);
  recordedInputs().clear();
}
