//===- Model.cpp - Mapping, checking and loading an artifact --------------===//
//
// Every check happens before the code is loaded: a damaged, truncated or
// newer file, or one built for a wider CPU, fails with a message naming the
// file and the problem, never with a crash inside a kernel.
//
//===----------------------------------------------------------------------===//
#include "ModelImpl.h"

#include "CpuFeatures.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace lowbit;
using namespace lowbit::rt;

static_assert(sizeof(ArtifactHeader) <= kArtifactAlignment,
              "the header must fit its 4096-byte slot");

namespace {

/// Failures of one file: every message starts with its path.
struct FileErrors {
  const std::string &path;
  Status operator()(const std::string &problem) const {
    return Status::error(path + ": " + problem);
  }
};

std::string str(uint64_t v) { return std::to_string(v); }

bool sectionInside(uint64_t offset, uint64_t size, uint64_t fileSize) {
  return offset <= fileSize && size <= fileSize - offset;
}

Status writeAll(int fd, const unsigned char *data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return Status::error(std::strerror(errno));
    }
    data += n;
    size -= size_t(n);
  }
  return Status::success();
}

} // namespace

Model::Impl::~Impl() {
  kernels.clear();
  if (library)
    dlclose(library);
  if (codeFd >= 0)
    ::close(codeFd);
  if (!codeTempFile.empty())
    ::unlink(codeTempFile.c_str());
  if (base)
    munmap(const_cast<unsigned char *>(base), mappedSize);
  if (weightCopy)
    munmap(weightCopy, weightCopySize);
}

/// The weight section copied into anonymous memory aligned to 2 MiB and
/// advised to use transparent huge pages.
static Status copyWeightsToHugePages(const FileErrors &fail, Model::Impl &impl, size_t bytes) {
  constexpr size_t kHugePage = size_t(2) << 20;
  size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  size_t reserved = rounded + kHugePage;
  void *area = mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED)
    return fail("cannot allocate " + str(uint64_t(bytes)) + " bytes for the weights: " +
                std::strerror(errno));
  // Keep only the 2 MiB-aligned part of the reservation.
  auto start = reinterpret_cast<uintptr_t>(area);
  uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start)
    munmap(area, aligned - start);
  if (uintptr_t end = start + reserved; end > aligned + rounded)
    munmap(reinterpret_cast<void *>(aligned + rounded), end - (aligned + rounded));
  void *copy = reinterpret_cast<void *>(aligned);
  madvise(copy, rounded, MADV_HUGEPAGE); // advice only: small pages still work
  // In chunks, each file page released once copied: it stays in the page
  // cache, not in this process, so resident memory peaks near one copy.
  constexpr size_t kChunk = size_t(64) << 20;
  for (size_t at = 0; at < bytes; at += kChunk) {
    size_t n = std::min(kChunk, bytes - at);
    std::memcpy(static_cast<unsigned char *>(copy) + at, impl.weights + at, n);
    madvise(const_cast<unsigned char *>(impl.weights + at), n, MADV_DONTNEED);
  }
  mprotect(copy, rounded, PROT_READ);
  impl.weightCopy = copy;
  impl.weightCopySize = rounded;
  impl.weights = static_cast<const unsigned char *>(copy);
  return Status::success();
}

/// Checks the header against the file; fills the section pointers.
static Status checkHeader(const FileErrors &fail, const ArtifactHeader &h,
                          uint64_t actualSize) {
  if (std::memcmp(h.magic, kArtifactMagic, sizeof(kArtifactMagic)) != 0)
    return fail("not a lowbit artifact (bad magic)");
  if (h.formatVersion > kArtifactFormatVersion)
    return fail("format version " + str(h.formatVersion) +
                " is newer than this runtime supports (" +
                str(kArtifactFormatVersion) +
                "); rebuild with a newer lowbit runtime or recompile the "
                "model with a matching compiler");
  if (h.formatVersion == 0)
    return fail("invalid format version 0");
  if (h.headerSize != sizeof(ArtifactHeader))
    return fail("header size " + str(h.headerSize) + " is not the " +
                str(sizeof(ArtifactHeader)) + " bytes of format version " +
                str(h.formatVersion));
  if (actualSize < h.fileSize)
    return fail("truncated: " + str(actualSize) + " bytes of " +
                str(h.fileSize));
  if (actualSize > h.fileSize)
    return fail("has " + str(actualSize - h.fileSize) +
                " bytes past the end its header records (" + str(h.fileSize) +
                ")");
  struct Section {
    const char *name;
    uint64_t offset, size;
  } sections[] = {{"manifest", h.manifestOffset, h.manifestSize},
                  {"weight", h.weightsOffset, h.weightsSize},
                  {"code", h.codeOffset, h.codeSize}};
  for (const Section &s : sections) {
    if (s.offset < kArtifactAlignment ||
        !sectionInside(s.offset, s.size, h.fileSize))
      return fail(std::string(s.name) + " section [" + str(s.offset) + ", +" +
                  str(s.size) + ") lies outside the file (" + str(h.fileSize) +
                  " bytes)");
  }
  if (h.weightsOffset % kArtifactAlignment != 0)
    return fail("weight section offset " + str(h.weightsOffset) +
                " is not 4096-byte aligned");
  return Status::success();
}

static Status checkManifest(const FileErrors &fail, const artifact::Manifest &m,
                            uint64_t weightsSize) {
  const artifact::ModelConfig &c = m.config();
  if (c.vocab_size() <= 0)
    return fail("manifest: vocab_size " + std::to_string(c.vocab_size()) +
                " must be positive");
  if (c.context_length() <= 0)
    return fail("manifest: context_length " +
                std::to_string(c.context_length()) + " must be positive");
  for (int i = 0; i < m.tensors_size(); ++i) {
    const artifact::Tensor &t = m.tensors(i);
    if (!sectionInside(t.offset(), t.size(), weightsSize))
      return fail("tensor '" + t.name() + "' [" + str(t.offset()) + ", +" +
                  str(t.size()) + ") lies outside the weight section (" +
                  str(weightsSize) + " bytes)");
    if (t.offset() % 64 != 0)
      return fail("tensor '" + t.name() + "' offset " + str(t.offset()) +
                  " is not 64-byte aligned");
  }
  if (m.buffers_size() == 0 || m.logits_buffer() >= uint32_t(m.buffers_size()))
    return fail("manifest: logits_buffer " + str(m.logits_buffer()) +
                " is not one of its " + str(m.buffers_size()) + " buffers");
  uint64_t logitsRow = m.buffers(int(m.logits_buffer())).row_bytes();
  if (logitsRow < uint64_t(c.vocab_size()) * sizeof(float))
    return fail("manifest: the logits buffer's rows (" + str(logitsRow) +
                " bytes) cannot hold " + std::to_string(c.vocab_size()) +
                " floats");
  bool usesCache = false;
  for (int s = 0; s < m.steps_size(); ++s) {
    const artifact::Step &step = m.steps(s);
    std::string where = "manifest: step " + std::to_string(s) + " (" +
                        step.kernel() + ")";
    if (step.kernel().empty())
      return fail(where + " names no kernel");
    for (int a = 0; a < step.args_size(); ++a) {
      const artifact::Arg &arg = step.args(a);
      uint64_t limit = 0;
      const char *what = "";
      switch (arg.kind()) {
      case artifact::Arg::BUFFER:
        limit = uint64_t(m.buffers_size()), what = "buffer";
        break;
      case artifact::Arg::TENSOR:
        limit = uint64_t(m.tensors_size()), what = "tensor";
        break;
      case artifact::Arg::KEY_CACHE:
      case artifact::Arg::VALUE_CACHE:
        usesCache = true;
        limit = uint64_t(m.kv_layers() > 0 ? m.kv_layers() : 0);
        what = "cache layer";
        break;
      case artifact::Arg::TOKENS:
      case artifact::Arg::POSITIONS:
        continue;
      default:
        return fail(where + ": argument " + std::to_string(a) +
                    " has unknown kind " + std::to_string(int(arg.kind())));
      }
      if (arg.index() >= limit)
        return fail(where + ": argument " + std::to_string(a) + " names " +
                    what + " " + str(arg.index()) + " of " + str(limit));
    }
  }
  if (usesCache && m.kv_width() <= 0)
    return fail("manifest: kv_width " + std::to_string(m.kv_width()) +
                " must be positive when steps use the KV cache");
  if (m.steps_size() == 0)
    return fail("manifest: no steps");
  return Status::success();
}

static Status checkCpuFeatures(const FileErrors &fail,
                               const artifact::Manifest &m) {
  for (const std::string &name : m.required_features()) {
    switch (cpuFeature(name)) {
    case CpuFeatureState::Present:
      break;
    case CpuFeatureState::Missing:
      return fail("compiled for " +
                  (m.target().empty() ? std::string("another CPU") : m.target()) +
                  ": needs CPU feature '" + name +
                  "', which this CPU lacks; recompile for this machine "
                  "(--target=native)");
    case CpuFeatureState::Unknown:
      return fail("needs CPU feature '" + name +
                  "', which this runtime does not know how to check");
    }
  }
  return Status::success();
}

/// Writes the code section to an anonymous file and dlopens it. With
/// LOWBIT_KERNELS_FILE set, to that file instead, which is kept, so that
/// profilers (perf) can name the kernels.
static Status loadCode(const FileErrors &fail, Model::Impl &impl,
                       const unsigned char *code, size_t size) {
  const char *keep = std::getenv("LOWBIT_KERNELS_FILE");
  int fd = keep && *keep ? ::open(keep, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644)
                         : memfd_create("lowbit-kernels", MFD_CLOEXEC);
  std::string loadPath;
  if (keep && *keep) {
    if (fd < 0)
      return fail(std::string("cannot create LOWBIT_KERNELS_FILE ") + keep + ": " +
                  std::strerror(errno));
    loadPath = keep;
  } else if (fd >= 0) {
    loadPath = "/proc/self/fd/" + std::to_string(fd);
  } else {
    const char *dir = std::getenv("TMPDIR");
    std::string templ = std::string(dir && *dir ? dir : "/tmp") +
                        "/lowbit-kernels-XXXXXX";
    std::vector<char> name(templ.begin(), templ.end());
    name.push_back('\0');
    fd = mkstemp(name.data());
    if (fd < 0)
      return fail(std::string("cannot create a file for the code section: ") +
                  std::strerror(errno));
    impl.codeTempFile = name.data();
    loadPath = impl.codeTempFile;
  }
  impl.codeFd = fd;
  if (Status s = writeAll(fd, code, size); !s.ok())
    return fail("cannot write the code section: " + s.message());
  impl.library = dlopen(loadPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!impl.library) {
    const char *why = dlerror();
    return fail(std::string("cannot load the code section: ") +
                (why ? why : "unknown dlopen error"));
  }
  const artifact::Manifest &m = impl.manifest;
  impl.kernels.reserve(size_t(m.steps_size()));
  for (int s = 0; s < m.steps_size(); ++s) {
    const std::string &name = m.steps(s).kernel();
    dlerror();
    void *sym = dlsym(impl.library, name.c_str());
    if (!sym)
      return fail("step " + std::to_string(s) + ": kernel '" + name +
                  "' is not in the code section");
    impl.kernels.push_back(reinterpret_cast<KernelFunction>(sym));
  }
  return Status::success();
}

/// A GPU artifact's launches, kernels and code (artifact.proto).
static Status checkGpuManifest(const FileErrors &fail, const artifact::Manifest &m,
                               const unsigned char *code, uint64_t codeSize) {
  if (code[codeSize - 1] != '\0')
    return fail("the PTX of the code section is not NUL-terminated");
  if (m.gpu_batches_size() == 0 || m.gpu_batches(0) != 1)
    return fail("manifest: GPU artifact without a batch of 1 in gpu_batches");
  for (int b = 1; b < m.gpu_batches_size(); ++b)
    if (m.gpu_batches(b) <= m.gpu_batches(b - 1))
      return fail("manifest: gpu_batches are not ascending");
  if (m.gpu_context() <= 0 || m.gpu_context() % 256)
    return fail("manifest: gpu_context " + std::to_string(m.gpu_context()) +
                " is not a positive multiple of 256");
  for (int k = 0; k < m.gpu_kernels_size(); ++k) {
    const artifact::GpuKernel &kernel = m.gpu_kernels(k);
    bool shaped = kernel.grid_size() == 3 && kernel.block_size() == 3;
    for (int d = 0; shaped && d < 3; ++d)
      shaped = kernel.grid(d) > 0 && kernel.block(d) > 0;
    if (!shaped || kernel.name().empty())
      return fail("manifest: GPU kernel " + std::to_string(k) + " ('" + kernel.name() +
                  "') has no name or no launch shape");
  }
  for (int s = 0; s < m.steps_size(); ++s) {
    const artifact::Step &step = m.steps(s);
    if (step.gpu_launches_size() != m.gpu_batches_size())
      return fail("manifest: step " + std::to_string(s) + " has " +
                  std::to_string(step.gpu_launches_size()) + " launches for " +
                  std::to_string(m.gpu_batches_size()) + " batches");
    if (step.gpu_repeats_size() != 0 && step.gpu_repeats_size() != m.gpu_batches_size())
      return fail("manifest: step " + std::to_string(s) + " has " +
                  std::to_string(step.gpu_repeats_size()) + " repeat counts for " +
                  std::to_string(m.gpu_batches_size()) + " batches");
    for (int b = 0; b < step.gpu_launches_size(); ++b) {
      uint32_t k = step.gpu_launches(b);
      uint64_t repeats = step.gpu_repeats_size() ? step.gpu_repeats(b) : 1;
      if (k >= uint32_t(m.gpu_kernels_size()) || repeats == 0 ||
          uint64_t(m.gpu_kernels(int(k)).batch()) * repeats != m.gpu_batches(b))
        return fail("manifest: step " + std::to_string(s) + " names GPU kernel " + str(k) +
                    ", which is not one of its " + std::to_string(m.gpu_kernels_size()) +
                    " kernels for a batch of " + str(m.gpu_batches(b)));
    }
  }
  return Status::success();
}

/// Header, checksums, manifest and, for a GPU target, its launches: all but
/// the CPU features a CPU artifact needs.
static Status checkArtifactBytes(const FileErrors &fail, const unsigned char *data,
                                 uint64_t size, ArtifactHeader &h,
                                 artifact::Manifest &manifest) {
  if (size < kArtifactAlignment)
    return fail("truncated: " + str(size) +
                " bytes, shorter than the 4096-byte header");
  std::memcpy(&h, data, sizeof(h));
  if (Status s = checkHeader(fail, h, size); !s.ok())
    return s;
  const unsigned char *manifestBytes = data + h.manifestOffset;
  if (artifactCrc32(manifestBytes, h.manifestSize) != h.manifestCrc32)
    return fail("manifest checksum mismatch (the file is damaged)");
  if (artifactCrc32(data + h.codeOffset, h.codeSize) != h.codeCrc32)
    return fail("code checksum mismatch (the file is damaged)");
  if (h.manifestSize > uint64_t(INT32_MAX) ||
      !manifest.ParseFromArray(manifestBytes, int(h.manifestSize)))
    return fail("cannot parse the manifest");
  if (manifest.format_version() != 0 &&
      manifest.format_version() != h.formatVersion)
    return fail("manifest format version " + str(manifest.format_version()) +
                " differs from the header's " + str(h.formatVersion));
  if (manifest.parts_size() > 0)
    return Status::success(); // checkParts
  if (h.codeSize == 0)
    return fail("has no code section");
  if (Status s = checkManifest(fail, manifest, h.weightsSize); !s.ok())
    return s;
  if (isGpuTarget(manifest.target()))
    return checkGpuManifest(fail, manifest, data + h.codeOffset, h.codeSize);
  return Status::success();
}

/// Failures of one part of a two-target artifact name the file and the part.
static std::string partPath(const std::string &path, const artifact::Part &part) {
  return path + " (its " + part.target() + " part)";
}

/// A two-target artifact: one whole CPU artifact and one whole GPU artifact
/// inside its weight section, and nothing else.
static Status checkParts(const FileErrors &fail, const unsigned char *data,
                         const ArtifactHeader &h, const artifact::Manifest &m) {
  if (m.steps_size() || m.tensors_size() || m.buffers_size() || h.codeSize)
    return fail("manifest: an artifact with parts has steps, tensors, buffers or code of "
                "its own");
  if (m.parts_size() != 2 || isGpuTarget(m.parts(0).target()) ==
                                 isGpuTarget(m.parts(1).target()))
    return fail("manifest: an artifact with parts holds one CPU and one GPU part, not " +
                std::to_string(m.parts_size()) + " parts");
  for (const artifact::Part &part : m.parts()) {
    if (part.offset() % kArtifactAlignment != 0 ||
        !sectionInside(part.offset(), part.size(), h.weightsSize))
      return fail("manifest: part " + part.target() + " [" + str(part.offset()) + ", +" +
                  str(part.size()) + ") is not a 4096-byte aligned range of the weight "
                  "section (" + str(h.weightsSize) + " bytes)");
    std::string where = partPath(fail.path, part);
    FileErrors partFail{where};
    ArtifactHeader ph;
    artifact::Manifest pm;
    if (Status s = checkArtifactBytes(partFail, data + h.weightsOffset + part.offset(),
                                      part.size(), ph, pm);
        !s.ok())
      return s;
    if (pm.parts_size() > 0)
      return partFail("a part holds parts of its own");
    if (pm.target() != part.target())
      return partFail("compiled for " + pm.target() + ", not " + part.target());
  }
  return Status::success();
}

Status lowbit::rt::checkArtifact(const std::string &path,
                                 const unsigned char *data, uint64_t size,
                                 ArtifactHeader &h,
                                 artifact::Manifest &manifest) {
  FileErrors fail{path};
  if (Status s = checkArtifactBytes(fail, data, size, h, manifest); !s.ok())
    return s;
  // A two-target artifact's CPU features are checked when a CPU session is
  // made: its GPU part runs on any CPU.
  if (manifest.parts_size() > 0)
    return checkParts(fail, data, h, manifest);
  if (isGpuTarget(manifest.target()))
    return Status::success();
  return checkCpuFeatures(fail, manifest);
}

/// Loads one target's artifact, `data` (`size` bytes), into `impl`:
/// weights, tokenizer, and the CPU code or the GPU's PTX. In a two-target
/// artifact (`inParts`) a CPU part this CPU cannot run is kept, unloaded,
/// with the reason in impl.cpuUnavailable.
static Status loadPart(Model::Impl &impl, const unsigned char *data, uint64_t size,
                       const LoadOptions &options, bool inParts) {
  FileErrors fail{impl.path};
  ArtifactHeader h;
  if (Status s = checkArtifactBytes(fail, data, size, h, impl.manifest); !s.ok())
    return s;
  const artifact::Manifest &m = impl.manifest;
  const bool gpu = isGpuTarget(m.target());
  if (!gpu)
    if (Status s = checkCpuFeatures(fail, m); !s.ok()) {
      if (!inParts)
        return s;
      impl.cpuUnavailable = s.message();
    }
  const bool runsHere = gpu || impl.cpuUnavailable.empty();
  const unsigned char *code = data + h.codeOffset;
  impl.weights = data + h.weightsOffset;
  if (options.copyWeightsToHugePages && h.weightsSize && !gpu && runsHere)
    if (Status s = copyWeightsToHugePages(fail, impl, size_t(h.weightsSize)); !s.ok())
      return s;

  if (!m.tokenizer().sentencepiece_model().empty()) {
    StatusOr<std::unique_ptr<Tokenizer>> tok =
        Tokenizer::create(m.tokenizer().sentencepiece_model());
    if (!tok.ok())
      return fail(tok.status().message());
    impl.tokenizer = tok.take();
  }
  // A GPU artifact's code is PTX, loaded by the session on its device.
  if (gpu) {
    impl.ptx = reinterpret_cast<const char *>(code);
    impl.ptxSize = size_t(h.codeSize);
  } else if (runsHere) {
    if (Status s = loadCode(fail, impl, code, size_t(h.codeSize)); !s.ok())
      return s;
  }

  const artifact::ModelConfig &c = m.config();
  ModelInfo &info = impl.info;
  info.arch = c.arch();
  info.target = m.target();
  info.gpu = gpu;
  info.cpu = !gpu;
  info.source = m.source();
  info.vocabSize = c.vocab_size();
  info.contextLength = c.context_length();
  info.numLayers = c.num_layers();
  info.bosTokenId = c.bos_token_id();
  info.eosTokenId = c.eos_token_id();
  info.addBos = m.tokenizer().add_bos();
  info.weightBytes = h.weightsSize;
  info.codeBytes = h.codeSize;
  info.steps = size_t(m.steps_size());
  return Status::success();
}

Model::Model() : impl(std::make_unique<Impl>()) {}
Model::~Model() = default;

StatusOr<std::unique_ptr<Model>> Model::load(const std::string &path,
                                             const LoadOptions &options) {
  std::unique_ptr<Model> model(new Model());
  Impl &impl = *model->impl;
  impl.path = path;
  FileErrors fail{impl.path};

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return fail(std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail("not a regular file");
  }
  uint64_t actualSize = uint64_t(st.st_size);
  if (actualSize < kArtifactAlignment) {
    ::close(fd);
    return fail("truncated: " + str(actualSize) +
                " bytes, shorter than the 4096-byte header");
  }
  void *map = mmap(nullptr, size_t(actualSize), PROT_READ, MAP_PRIVATE, fd, 0);
  int mapErr = errno;
  ::close(fd);
  if (map == MAP_FAILED)
    return fail(std::string("cannot map: ") + std::strerror(mapErr));
  impl.base = static_cast<const unsigned char *>(map);
  impl.mappedSize = size_t(actualSize);

  ArtifactHeader h;
  artifact::Manifest whole;
  if (Status s = checkArtifact(impl.path, impl.base, actualSize, h, whole); !s.ok())
    return s;
  if (whole.parts_size() == 0) {
    if (Status s = loadPart(impl, impl.base, actualSize, options, /*inParts=*/false); !s.ok())
      return s;
    return std::move(model);
  }
  // Two targets: the CPU part is this model; the GPU part, kept beside it,
  // is what a GPU session runs. Both read the one mapping.
  for (const artifact::Part &part : whole.parts()) {
    const unsigned char *data = impl.base + h.weightsOffset + part.offset();
    bool gpu = isGpuTarget(part.target());
    if (gpu) {
      impl.gpuPart.reset(new Model());
      impl.gpuPart->impl->path = path;
    }
    Impl &into = gpu ? *impl.gpuPart->impl : impl;
    if (Status s = loadPart(into, data, part.size(), options, /*inParts=*/true); !s.ok())
      return Status::error(partPath(path, part) + s.message().substr(path.size()));
  }
  impl.info.target = whole.target();
  impl.info.gpu = true;
  return std::move(model);
}

const ModelInfo &Model::info() const { return impl->info; }
const std::string &Model::path() const { return impl->path; }
const Tokenizer *Model::tokenizer() const { return impl->tokenizer.get(); }
