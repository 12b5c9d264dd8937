//===- SafetensorsStreamWriter.cpp ----------------------------------------===//
#include "lowbit/Formats/SafetensorsStreamWriter.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/InputFiles.h"

#include "llvm/Support/FileSystem.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace llvm;
using namespace lowbit;

std::string SafetensorsStreamWriter::partialPathOf(StringRef path) {
  return path.str() + ".partial";
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() {
  if (fd >= 0)
    ::close(fd);
}

/// Writes all of `bytes` at `offset`, retrying short writes.
static Error writeAt(int fd, StringRef path, const uint8_t *bytes, uint64_t n,
                     uint64_t offset) {
  while (n > 0) {
    ssize_t done = ::pwrite(fd, bytes, size_t(std::min<uint64_t>(n, 1u << 30)),
                            off_t(offset));
    if (done < 0 && errno == EINTR)
      continue;
    if (done <= 0)
      return fileError(path, "write failed: {0}",
                       done < 0 ? std::strerror(errno) : "no progress");
    bytes += done;
    n -= uint64_t(done);
    offset += uint64_t(done);
  }
  return Error::success();
}

Expected<std::unique_ptr<SafetensorsStreamWriter>>
SafetensorsStreamWriter::open(StringRef path,
                              ArrayRef<SafetensorsTensorInfo> tensors,
                              bool existing) {
  if (Error e = checkNotAnInput(path))
    return std::move(e);
  sys::fs::file_status st;
  if (!sys::fs::status(path, st) &&
      st.type() != sys::fs::file_type::regular_file)
    return fileError(path, st.type() == sys::fs::file_type::directory_file
                               ? "is a directory, not an output file"
                               : "a side file must be a regular file");
  std::unique_ptr<SafetensorsStreamWriter> w(new SafetensorsStreamWriter());
  w->target = path.str();
  w->partial = partialPathOf(path);
  Expected<SafetensorsLayout> layout = layoutSafetensors(tensors, {{"format", "pt"}}, path);
  if (!layout)
    return layout.takeError();
  w->layout = std::move(*layout);
  for (size_t i = 0; i < tensors.size(); ++i)
    w->index[tensors[i].name] = i;

  if (existing) {
    w->fd = ::open(w->partial.c_str(), O_RDWR | O_CLOEXEC);
    if (w->fd < 0)
      return fileError(w->partial, "cannot open to resume: {0}",
                       std::strerror(errno));
    struct stat info;
    std::string head(w->layout.header.size(), '\0');
    if (::fstat(w->fd, &info) != 0 ||
        uint64_t(info.st_size) != w->layout.fileSize ||
        ::pread(w->fd, head.data(), head.size(), 0) != ssize_t(head.size()) ||
        head != w->layout.header)
      return fileError(w->partial,
                       "was not written by this run's pass and options; "
                       "remove it to start again");
    return std::move(w);
  }

  w->fd = ::open(w->partial.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (w->fd < 0)
    return fileError(w->partial, "cannot create: {0}", std::strerror(errno));
  // Every block up front: a disk too small fails here, not half way.
  if (int err = ::posix_fallocate(w->fd, 0, off_t(w->layout.fileSize))) {
    std::string why = err == ENOSPC
                          ? "not enough disk space for its " +
                                std::to_string(w->layout.fileSize) + " bytes"
                          : std::string("cannot allocate: ") + std::strerror(err);
    w->discard();
    return fileError(path, "{0}", why);
  }
  if (Error e = writeAt(w->fd, w->partial,
                        reinterpret_cast<const uint8_t *>(w->layout.header.data()),
                        w->layout.header.size(), 0)) {
    w->discard();
    return std::move(e);
  }
  return std::move(w);
}

Expected<std::unique_ptr<SafetensorsStreamWriter>>
SafetensorsStreamWriter::create(StringRef path,
                                ArrayRef<SafetensorsTensorInfo> tensors) {
  return open(path, tensors, /*existing=*/false);
}

Expected<std::unique_ptr<SafetensorsStreamWriter>>
SafetensorsStreamWriter::reopen(StringRef path,
                                ArrayRef<SafetensorsTensorInfo> tensors) {
  return open(path, tensors, /*existing=*/true);
}

Error SafetensorsStreamWriter::write(StringRef name, ArrayRef<uint8_t> bytes) {
  auto it = index.find(name);
  if (it == index.end())
    return fileError(target, "tensor '{0}' was not declared", name);
  auto [begin, end] = layout.ranges[it->second];
  if (bytes.size() != end - begin)
    return fileError(target, "tensor '{0}': {1} bytes do not match its shape",
                     name, bytes.size());
  return writeAt(fd, partial, bytes.data(), bytes.size(), begin);
}

Error SafetensorsStreamWriter::sync() {
  if (::fsync(fd) != 0)
    return fileError(partial, "cannot sync: {0}", std::strerror(errno));
  return Error::success();
}

Error SafetensorsStreamWriter::commit() {
  if (Error e = sync())
    return e;
  ::close(fd);
  fd = -1;
  if (std::error_code ec = sys::fs::rename(partial, target))
    return fileError(target, "cannot rename output into place: {0}",
                     ec.message());
  return Error::success();
}

void SafetensorsStreamWriter::discard() {
  if (fd >= 0)
    ::close(fd);
  fd = -1;
  (void)sys::fs::remove(partial);
}
