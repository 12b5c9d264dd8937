//===- FuzzSupport.cpp ----------------------------------------------------===//
#include "FuzzSupport.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

using namespace llvm;
using namespace lowbit;
using namespace lowbit::fuzz;

std::vector<StringRef> fuzz::splitFiles(StringRef input, size_t count) {
  std::vector<StringRef> files;
  while (files.size() + 1 < count) {
    auto [head, tail] = input.split(kFileSeparator);
    files.push_back(head);
    input = tail;
  }
  files.push_back(input);
  return files;
}

void fuzz::expectFileError(Error error, StringRef name) {
  std::string message = toString(std::move(error));
  if (StringRef(message).starts_with((name + ": ").str()))
    return;
  errs() << "error message does not start with '" << name
         << ": ': " << message << "\n";
  __builtin_trap();
}

void fuzz::expectErrorIn(Error error, StringRef dir) {
  std::string message = toString(std::move(error));
  StringRef m(message);
  if (m.starts_with((dir + "/").str()) || m.starts_with((dir + ": ").str()))
    return;
  errs() << "error message does not name a file in '" << dir
         << "': " << message << "\n";
  __builtin_trap();
}

void fuzz::ignore(Error error) { consumeError(std::move(error)); }

MemFile::MemFile() {
  fd = memfd_create("lowbit-fuzz", MFD_CLOEXEC);
  if (fd < 0) {
    std::perror("memfd_create");
    std::abort();
  }
  filePath = "/proc/self/fd/" + std::to_string(fd);
}

MemFile::~MemFile() { ::close(fd); }

const std::string &MemFile::write(StringRef bytes) {
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, bytes.data(), bytes.size(), 0) != ssize_t(bytes.size())) {
    std::perror("memfd write");
    std::abort();
  }
  return filePath;
}

ScratchDir::ScratchDir() {
  SmallString<128> dir;
  // /dev/shm keeps the per-input writes off the disk when it exists.
  StringRef base = sys::fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string templ = (base + "/lowbit-fuzz-XXXXXX").str();
  if (!mkdtemp(templ.data())) {
    std::perror("mkdtemp");
    std::abort();
  }
  dirPath = templ;
}

ScratchDir::~ScratchDir() { sys::fs::remove_directories(dirPath); }

std::string ScratchDir::write(StringRef name, StringRef bytes) {
  SmallString<128> p(dirPath);
  sys::path::append(p, name);
  FILE *f = std::fopen(p.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
      std::fclose(f) != 0) {
    std::perror(p.c_str());
    std::abort();
  }
  return std::string(p);
}

void ScratchDir::remove(StringRef name) {
  SmallString<128> p(dirPath);
  sys::path::append(p, name);
  sys::fs::remove(p);
}

void fuzz::touch(const void *data, size_t size) {
  const volatile unsigned char *p = static_cast<const unsigned char *>(data);
  unsigned char sum = 0;
  for (size_t i = 0; i < size; ++i)
    sum ^= p[i];
  (void)sum;
}

const lowbit::ModelConfig &lowbit::fuzz::tinyModelConfig() {
  static const ModelConfig config = [] {
    ModelConfig c;
    c.vocabSize = 4096, c.hiddenSize = 256, c.intermediateSize = 768;
    c.numLayers = 4, c.numHeads = 4, c.numKvHeads = 2, c.headDim = 64;
    return c;
  }();
  return config;
}
