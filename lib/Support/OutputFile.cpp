//===- OutputFile.cpp -----------------------------------------------------===//
#include "lowbit/Support/OutputFile.h"
#include "lowbit/Support/Error.h"

#include "llvm/Support/FileSystem.h"

using namespace llvm;

Error lowbit::writeFileAtomically(
    StringRef path, function_ref<Error(raw_pwrite_stream &)> write) {
  Expected<sys::fs::TempFile> temp =
      sys::fs::TempFile::create(path + ".tmp-%%%%%%");
  if (!temp)
    return fileError(path, "cannot create output: {0}",
                     toString(temp.takeError()));
  Error result = Error::success();
  {
    raw_fd_ostream os(temp->FD, /*shouldClose=*/false);
    result = write(os);
    os.flush();
    if (!result && os.has_error())
      result = fileError(path, "write failed: {0}", os.error().message());
    os.clear_error();
  }
  if (result) {
    consumeError(temp->discard());
    return result;
  }
  if (Error e = temp->keep(path))
    return fileError(path, "cannot rename output into place: {0}",
                     toString(std::move(e)));
  return Error::success();
}
