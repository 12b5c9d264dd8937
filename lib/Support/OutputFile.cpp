//===- OutputFile.cpp -----------------------------------------------------===//
#include "lowbit/Support/OutputFile.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/InputFiles.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <unistd.h>

using namespace llvm;
using namespace lowbit;

/// The file a write to `path` should land in: symlinks are written through,
/// so a link keeps pointing at its (updated) target. A dangling link names the
/// file to create.
static Expected<std::string> resolveOutputPath(StringRef path) {
  std::string current = path.str();
  for (int hops = 0; hops < 40; ++hops) {
    sys::fs::file_status st;
    if (sys::fs::status(current, st, /*follow=*/false) ||
        st.type() != sys::fs::file_type::symlink_file)
      return current;
    char target[4096];
    ssize_t n = ::readlink(current.c_str(), target, sizeof(target) - 1);
    if (n < 0)
      return fileError(path, "cannot read the symlink");
    StringRef link(target, size_t(n));
    if (sys::path::is_absolute(link)) {
      current = link.str();
    } else {
      SmallString<256> joined(sys::path::parent_path(current));
      sys::path::append(joined, link);
      current = std::string(joined);
    }
  }
  return fileError(path, "too many levels of symlinks");
}

/// Devices, FIFOs and terminals (`/dev/stdout`, `/dev/null`) are written in
/// place: replacing them with a regular file would be wrong.
static Error writeInPlace(StringRef path,
                          function_ref<Error(raw_pwrite_stream &)> write) {
  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  if (ec)
    return fileError(path, "cannot open output: {0}", ec.message());
  Error result = write(os);
  os.flush();
  if (!result && os.has_error())
    result = fileError(path, "write failed: {0}", os.error().message());
  os.clear_error();
  return result;
}

Error lowbit::writeFileAtomically(
    StringRef path, function_ref<Error(raw_pwrite_stream &)> write) {
  if (Error e = checkNotAnInput(path))
    return e;
  if (path == "-") {
    Error e = write(outs());
    outs().flush();
    return e;
  }
  // /dev/stdout, /dev/fd/N and /proc/self/fd/N name descriptors the caller
  // already holds (their links may name a pipe, not a path): write to them,
  // never around them. Other devices are found by their type below, so a
  // regular file under /dev/shm is still replaced atomically.
  if (path == "/dev/stdout" || path == "/dev/stderr" ||
      path.starts_with("/dev/fd/") || path.starts_with("/proc/"))
    return writeInPlace(path, write);
  Expected<std::string> target = resolveOutputPath(path);
  if (!target)
    return target.takeError();
  sys::fs::file_status existing;
  bool exists = !sys::fs::status(*target, existing);
  if (exists && existing.type() == sys::fs::file_type::directory_file)
    return fileError(path, "is a directory, not an output file");
  if (exists && existing.type() != sys::fs::file_type::regular_file)
    return writeInPlace(*target, write);

  Expected<sys::fs::TempFile> temp =
      sys::fs::TempFile::create(*target + ".tmp-%%%%%%");
  if (!temp)
    return fileError(path, "cannot create output: {0}",
                     toString(temp.takeError()));
  // A replaced file keeps its permissions; a new one gets the usual 0666 less
  // the umask (the temporary starts private).
  sys::fs::perms mode =
      exists ? existing.permissions()
             : static_cast<sys::fs::perms>(0666 & ~sys::fs::getUmask());
  (void)sys::fs::setPermissions(temp->FD, mode);
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
  if (Error e = temp->keep(*target))
    return fileError(path, "cannot rename output into place: {0}",
                     toString(std::move(e)));
  return Error::success();
}
