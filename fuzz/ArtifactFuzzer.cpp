//===- ArtifactFuzzer.cpp - The runtime's compiled-artifact loader --------===//
//
// Input: a .lbx file. It goes through every check Model::load makes before
// it runs anything from the file (rt::checkArtifact); the code section is
// never loaded, since dlopen runs what it loads. The checksums are fixed up
// first, so that mutations reach the manifest instead of all failing the
// CRC check. An accepted manifest's tensors must lie in the file, and its
// tokenizer is loaded and used; so must each part's, in an artifact of two
// targets.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "ModelImpl.h"

#include <cstring>

using namespace lowbit;
using namespace lowbit::rt;

static const std::string kName = "fuzz.lbx";

static bool inside(uint64_t offset, uint64_t size, uint64_t total) {
  return offset <= total && size <= total - offset;
}

/// Rewrites the header's checksums to match the sections, where they lie in
/// the file.
static void fixChecksums(std::vector<unsigned char> &bytes) {
  if (bytes.size() < sizeof(ArtifactHeader))
    return;
  ArtifactHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (inside(h.manifestOffset, h.manifestSize, bytes.size()))
    h.manifestCrc32 = artifactCrc32(bytes.data() + h.manifestOffset,
                                    size_t(h.manifestSize));
  if (inside(h.codeOffset, h.codeSize, bytes.size()))
    h.codeCrc32 = artifactCrc32(bytes.data() + h.codeOffset, size_t(h.codeSize));
  std::memcpy(bytes.data(), &h, sizeof(h));
}

static void useTokenizer(const std::string &model, int64_t vocabSize) {
  StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::create(model);
  if (!tok.ok())
    return;
  std::unique_ptr<Tokenizer> t = tok.take();
  std::vector<int32_t> ids = t->encode("Once upon a time, 42 \xE2\x9C\x93");
  (void)t->decode(ids);
  ids.push_back(int32_t(t->size()) - 1);
  (void)t->decode(ids);
}

/// What the session relies on once an artifact of one target is loaded.
static void useAccepted(const unsigned char *data, uint64_t size, const ArtifactHeader &h,
                        const artifact::Manifest &m) {
  const unsigned char *weights = data + h.weightsOffset;
  if (!inside(h.weightsOffset, h.weightsSize, size) || !inside(h.codeOffset, h.codeSize, size))
    __builtin_trap();
  for (const artifact::Tensor &t : m.tensors()) {
    if (!inside(t.offset(), t.size(), h.weightsSize))
      __builtin_trap();
    fuzz::touch(weights + t.offset(), size_t(t.size()));
  }
  const artifact::ModelConfig &c = m.config();
  if (c.vocab_size() <= 0 || c.context_length() <= 0 ||
      m.logits_buffer() >= uint32_t(m.buffers_size()) ||
      static_cast<unsigned __int128>(m.buffers(int(m.logits_buffer())).row_bytes()) <
          static_cast<unsigned __int128>(c.vocab_size()) * sizeof(float))
    __builtin_trap();
  if (!m.tokenizer().sentencepiece_model().empty())
    useTokenizer(m.tokenizer().sentencepiece_model(), c.vocab_size());
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<unsigned char> bytes(data, data + size);
  fixChecksums(bytes);
  ArtifactHeader h;
  artifact::Manifest m;
  Status s = checkArtifact(kName, bytes.data(), bytes.size(), h, m);
  if (!s.ok()) {
    // The file's name, or a part's: "fuzz.lbx (its sm_90 part): ".
    if (s.message().rfind(kName + ": ", 0) != 0 && s.message().rfind(kName + " (its ", 0) != 0)
      __builtin_trap();
    return 0;
  }
  if (m.parts_size() == 0) {
    useAccepted(bytes.data(), bytes.size(), h, m);
    return 0;
  }
  // An accepted two-target artifact: each part lies in the weight section
  // and is itself accepted.
  for (const artifact::Part &part : m.parts()) {
    if (!inside(part.offset(), part.size(), h.weightsSize))
      __builtin_trap();
    const unsigned char *partData = bytes.data() + h.weightsOffset + part.offset();
    ArtifactHeader ph;
    artifact::Manifest pm;
    if (!checkArtifact(kName, partData, part.size(), ph, pm).ok()) {
      if (isGpuTarget(part.target()))
        __builtin_trap(); // checked with the whole; only CPU features are left
      continue;           // a CPU part may need features this CPU lacks
    }
    useAccepted(partData, part.size(), ph, pm);
  }
  return 0;
}
