//===- RuntimeTest.cpp - Loading checks and the step loop on a toy plan ---===//
//
// The artifacts are written here, around the kernels of toy_kernels.c (a
// shared object built with the tests), so every check of the loader can be
// provoked with one byte changed.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Runtime/ArtifactFormat.h"
#include "lowbit/Runtime/ArtifactWriter.h"
#include "lowbit/Runtime/GpuSession.h"
#include "lowbit/Runtime/Runtime.h"
#include "lowbit/Runtime/Sampler.h"
#include "lowbit/Runtime/lowbit_runtime.h"

#include "artifact.pb.h"

#include <sched.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

using namespace lowbit;
using namespace lowbit::rt;

namespace {

constexpr int64_t kVocab = 16;
constexpr int64_t kContext = 32;

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

void addArg(artifact::Step *step, artifact::Arg::Kind kind, uint32_t index = 0) {
  artifact::Arg *arg = step->add_args();
  arg->set_kind(kind);
  arg->set_index(index);
}

/// The toy plan of toy_kernels.c: embed, cache, head (last token only).
struct Toy {
  artifact::Manifest manifest;
  std::vector<float> table;
  std::string code = readFile(LOWBIT_TOY_KERNELS);

  Toy() {
    for (int64_t i = 0; i < kVocab; ++i)
      table.push_back(0.5f * float(i));
    manifest.set_format_version(kArtifactFormatVersion);
    manifest.set_target("test");
    artifact::ModelConfig *c = manifest.mutable_config();
    c->set_arch("toy");
    c->set_vocab_size(kVocab);
    c->set_context_length(kContext);
    c->set_num_layers(1);
    c->set_bos_token_id(1);
    c->set_eos_token_id(2);
    artifact::Tensor *t = manifest.add_tensors();
    t->set_name("table");
    t->set_offset(0);
    t->set_size(kVocab * sizeof(float));
    manifest.add_buffers()->set_row_bytes(kVocab * sizeof(float)); // logits
    manifest.add_buffers()->set_row_bytes(2 * sizeof(float));      // hidden
    manifest.set_logits_buffer(0);
    manifest.set_kv_width(1);
    manifest.set_kv_layers(1);
    artifact::Step *embed = manifest.add_steps();
    embed->set_kernel("toy_embed");
    addArg(embed, artifact::Arg::TOKENS);
    addArg(embed, artifact::Arg::BUFFER, 1);
    addArg(embed, artifact::Arg::TENSOR, 0);
    artifact::Step *cache = manifest.add_steps();
    cache->set_kernel("toy_cache");
    addArg(cache, artifact::Arg::POSITIONS);
    addArg(cache, artifact::Arg::BUFFER, 1);
    addArg(cache, artifact::Arg::KEY_CACHE, 0);
    addArg(cache, artifact::Arg::VALUE_CACHE, 0);
    artifact::Step *head = manifest.add_steps();
    head->set_kernel("toy_head");
    head->set_last_token_only(true);
    addArg(head, artifact::Arg::POSITIONS);
    addArg(head, artifact::Arg::BUFFER, 1);
    addArg(head, artifact::Arg::KEY_CACHE, 0);
    addArg(head, artifact::Arg::BUFFER, 0);
  }

  std::string write(const std::string &name) const {
    std::string path = ::testing::TempDir() + "lowbit-runtime-" + name + ".lbx";
    ArtifactParts parts;
    parts.manifest = manifest.SerializeAsString();
    parts.weights = table.data();
    parts.weightsSize = table.size() * sizeof(float);
    parts.code = code.data();
    parts.codeSize = code.size();
    Status s = writeArtifact(path, parts);
    EXPECT_TRUE(s.ok()) << s.message();
    return path;
  }
};

ArtifactHeader headerOf(const std::string &bytes) {
  ArtifactHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  return h;
}

void setHeader(std::string &bytes, const ArtifactHeader &h) {
  std::memcpy(&bytes[0], &h, sizeof(h));
}

/// Loading `path` fails with a message that names it (or a part of it:
/// "PATH (its sm_90 part): ") and contains `what`.
void expectLoadError(const std::string &path, const std::string &what) {
  StatusOr<std::unique_ptr<Model>> m = Model::load(path);
  ASSERT_FALSE(m.ok()) << "loaded " << path;
  const std::string &message = m.status().message();
  EXPECT_TRUE(message.rfind(path + ": ", 0) == 0 || message.rfind(path + " (its ", 0) == 0)
      << message;
  EXPECT_NE(m.status().message().find(what), std::string::npos)
      << m.status().message();
}

std::unique_ptr<Model> loadToy(const Toy &toy, const std::string &name,
                               const LoadOptions &options = {}) {
  StatusOr<std::unique_ptr<Model>> m = Model::load(toy.write(name), options);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? m.take() : nullptr;
}

} // namespace

TEST(Crc32, MatchesZlib) {
  EXPECT_EQ(artifactCrc32("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(artifactCrc32("", 0), 0u);
  uint32_t part = artifactCrc32("12345", 5);
  EXPECT_EQ(artifactCrc32("6789", 4, part), 0xCBF43926u);
}

TEST(Loader, LoadsAValidArtifact) {
  Toy toy;
  std::unique_ptr<Model> model = loadToy(toy, "valid");
  ASSERT_TRUE(model);
  EXPECT_EQ(model->info().vocabSize, kVocab);
  EXPECT_EQ(model->info().contextLength, kContext);
  EXPECT_EQ(model->info().steps, 3u);
  EXPECT_EQ(model->info().target, "test");
  EXPECT_EQ(model->tokenizer(), nullptr);
}

TEST(Loader, RejectsAMissingFile) {
  expectLoadError(::testing::TempDir() + "no-such-file.lbx", "cannot open");
}

TEST(Loader, RejectsTruncatedFiles) {
  Toy toy;
  std::string path = toy.write("truncated");
  std::string bytes = readFile(path);
  writeFile(path, bytes.substr(0, bytes.size() - 100));
  expectLoadError(path, "truncated");
  writeFile(path, bytes.substr(0, 100));
  expectLoadError(path, "shorter than the 4096-byte header");
}

TEST(Loader, RejectsBadMagic) {
  Toy toy;
  std::string path = toy.write("magic");
  std::string bytes = readFile(path);
  bytes[0] = 'X';
  writeFile(path, bytes);
  expectLoadError(path, "not a lowbit artifact");
}

TEST(Loader, RefusesNewerFormatVersions) {
  Toy toy;
  std::string path = toy.write("newer");
  std::string bytes = readFile(path);
  ArtifactHeader h = headerOf(bytes);
  h.formatVersion = kArtifactFormatVersion + 1;
  setHeader(bytes, h);
  writeFile(path, bytes);
  expectLoadError(path, "is newer than this runtime supports");
}

TEST(Loader, RejectsBadChecksums) {
  Toy toy;
  std::string path = toy.write("crc");
  std::string bytes = readFile(path);
  ArtifactHeader h = headerOf(bytes);
  std::string damaged = bytes;
  damaged[h.manifestOffset + 3] ^= 0x40;
  writeFile(path, damaged);
  expectLoadError(path, "manifest checksum mismatch");
  damaged = bytes;
  damaged[h.codeOffset + h.codeSize / 2] ^= 0x01;
  writeFile(path, damaged);
  expectLoadError(path, "code checksum mismatch");
}

TEST(Loader, RejectsAnUnparsableManifest) {
  Toy toy;
  std::string path = ::testing::TempDir() + "lowbit-runtime-garbage.lbx";
  ArtifactParts parts;
  parts.manifest = std::string("\xff\xff\xff\xff", 4);
  parts.code = toy.code.data();
  parts.codeSize = toy.code.size();
  ASSERT_TRUE(writeArtifact(path, parts).ok());
  expectLoadError(path, "cannot parse the manifest");
}

TEST(Loader, RejectsSectionsOutsideTheFile) {
  Toy toy;
  std::string path = toy.write("sections");
  std::string bytes = readFile(path);
  ArtifactHeader h = headerOf(bytes);
  h.codeSize += 1u << 20;
  setHeader(bytes, h);
  writeFile(path, bytes);
  expectLoadError(path, "code section");
}

TEST(Loader, ChecksCpuFeaturesBeforeLoadingCode) {
  Toy toy;
  toy.manifest.add_required_features("sse2");
  toy.manifest.add_required_features("frobnicate512");
  expectLoadError(toy.write("features"), "needs CPU feature 'frobnicate512'");
}

TEST(Loader, RejectsTensorsOutsideTheWeights) {
  Toy toy;
  toy.manifest.mutable_tensors(0)->set_offset(64);
  expectLoadError(toy.write("tensor"),
                  "tensor 'table' [64, +64) lies outside the weight section");
}

TEST(Loader, RejectsMissingKernels) {
  Toy toy;
  toy.manifest.mutable_steps(1)->set_kernel("toy_missing");
  expectLoadError(toy.write("kernel"), "kernel 'toy_missing' is not in the code section");
}

TEST(Loader, RejectsArgumentsOutOfRange) {
  Toy toy;
  toy.manifest.mutable_steps(2)->mutable_args(2)->set_index(3);
  expectLoadError(toy.write("args"), "names cache layer 3 of 1");
}

/// The toy as a GPU artifact: PTX for code, one launch per step for the
/// batches 1 and 4.
Toy gpuToy() {
  Toy toy;
  toy.manifest.set_target("sm_90");
  toy.manifest.set_gpu_context(256);
  toy.manifest.add_gpu_batches(1);
  toy.manifest.add_gpu_batches(4);
  toy.code = ".version 8.0\n.target sm_90\n.address_size 64\n";
  toy.code.push_back('\0');
  for (int s = 0; s < toy.manifest.steps_size(); ++s)
    for (uint32_t batch : {1u, 4u}) {
      artifact::GpuKernel *k = toy.manifest.add_gpu_kernels();
      k->set_name(toy.manifest.steps(s).kernel() + "_b" + std::to_string(batch));
      k->set_batch(batch);
      for (int d = 0; d < 3; ++d) {
        k->add_grid(1);
        k->add_block(d ? 1 : 32);
      }
      toy.manifest.mutable_steps(s)->add_gpu_launches(uint32_t(toy.manifest.gpu_kernels_size() - 1));
    }
  return toy;
}

TEST(Loader, LoadsAGpuArtifactWithoutLoadingItsCode) {
  std::unique_ptr<Model> model = loadToy(gpuToy(), "gpu");
  ASSERT_TRUE(model);
  EXPECT_TRUE(model->info().gpu);
  EXPECT_EQ(model->info().target, "sm_90");
  // The CPU session refuses it, saying where it runs.
  StatusOr<std::unique_ptr<Session>> s = Session::create(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("compiled for sm_90, an NVIDIA GPU"), std::string::npos)
      << s.status().message();
}

TEST(Loader, GpuSessionRefusesACpuArtifact) {
  std::unique_ptr<Model> model = loadToy(Toy(), "cpu-on-gpu");
  ASSERT_TRUE(model);
  StatusOr<std::unique_ptr<GpuSession>> s = GpuSession::create(*model);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("compiled for test, a CPU"), std::string::npos)
      << s.status().message();
}

TEST(Loader, CApiGpuSessionRefusesACpuArtifact) {
  Toy toy;
  std::string path = toy.write("capi-cpu-on-gpu");
  lowbit_model *model = nullptr;
  ASSERT_EQ(lowbit_model_load(path.c_str(), &model), 0) << lowbit_last_error();
  lowbit_session *session = nullptr;
  EXPECT_NE(lowbit_session_create_cuda(model, 0, 0, &session), 0);
  EXPECT_EQ(session, nullptr);
  EXPECT_NE(std::string(lowbit_last_error()).find("compiled for test, a CPU"), std::string::npos)
      << lowbit_last_error();
  EXPECT_NE(lowbit_session_create_cuda(nullptr, 0, 0, &session), 0);
  EXPECT_NE(std::string(lowbit_last_error()).find("null argument"), std::string::npos);
  lowbit_model_free(model);
}

TEST(Loader, RejectsBadGpuManifests) {
  Toy toy = gpuToy();
  toy.manifest.mutable_steps(1)->mutable_gpu_launches()->RemoveLast();
  expectLoadError(toy.write("gpu-launches"), "step 1 has 1 launches for 2 batches");
  toy = gpuToy();
  toy.manifest.mutable_steps(0)->set_gpu_launches(1, 0);
  expectLoadError(toy.write("gpu-batch"), "names GPU kernel 0, which is not one of its 6 "
                                          "kernels for a batch of 4");
  // A step may run a smaller batch's kernel repeatedly: kernel batch ×
  // repeats must make the batch.
  toy = gpuToy();
  toy.manifest.mutable_steps(1)->add_gpu_repeats(1);
  expectLoadError(toy.write("gpu-repeat-count"), "step 1 has 1 repeat counts for 2 batches");
  toy = gpuToy();
  for (uint32_t r : {1u, 4u})
    toy.manifest.mutable_steps(1)->add_gpu_repeats(r);
  toy.manifest.mutable_steps(1)->set_gpu_launches(1, toy.manifest.steps(1).gpu_launches(0));
  EXPECT_TRUE(loadToy(toy, "gpu-repeat")) << "4 launches of the batch-1 kernel for a batch of 4";
  toy.manifest.mutable_steps(1)->set_gpu_repeats(1, 3);
  expectLoadError(toy.write("gpu-repeat-bad"), "step 1 names GPU kernel 2, which is not one of "
                                               "its 6 kernels for a batch of 4");
  toy = gpuToy();
  toy.manifest.set_gpu_context(300);
  expectLoadError(toy.write("gpu-context"), "gpu_context 300 is not a positive multiple of 256");
  toy = gpuToy();
  toy.code.pop_back();
  expectLoadError(toy.write("gpu-ptx"), "not NUL-terminated");
  toy = gpuToy();
  toy.manifest.mutable_gpu_kernels(2)->set_block(0, 0);
  expectLoadError(toy.write("gpu-shape"), "GPU kernel 2 ('toy_cache_b1') has no name or no "
                                          "launch shape");
}

/// A two-target artifact of `cpu` and `gpu` (artifact.proto, Part); `edit`
/// may change its manifest before it is written.
std::string writeTwoTargets(const std::string &name, const Toy &cpu, const Toy &gpu,
                            const std::function<void(artifact::Manifest &)> &edit = {}) {
  std::string files[2] = {readFile(cpu.write(name + "-cpu-part")),
                          readFile(gpu.write(name + "-gpu-part"))};
  std::vector<uint64_t> offsets = alignedPartOffsets({files[0].size(), files[1].size()});
  artifact::Manifest m;
  m.set_format_version(kArtifactFormatVersion);
  m.set_target(cpu.manifest.target() + "," + gpu.manifest.target());
  *m.mutable_config() = cpu.manifest.config();
  ArtifactParts parts;
  for (int i = 0; i < 2; ++i) {
    artifact::Part *part = m.add_parts();
    part->set_target(i ? gpu.manifest.target() : cpu.manifest.target());
    part->set_offset(offsets[size_t(i)]);
    part->set_size(files[i].size());
    parts.alignedParts.push_back({files[i].data(), files[i].size()});
  }
  if (edit)
    edit(m);
  parts.manifest = m.SerializeAsString();
  std::string path = ::testing::TempDir() + "lowbit-runtime-" + name + ".lbx";
  Status s = writeArtifact(path, parts);
  EXPECT_TRUE(s.ok()) << s.message();
  return path;
}

TEST(Loader, AlignsEachPartOfATwoTargetArtifact) {
  EXPECT_EQ(alignedPartOffsets({5000, 10}), (std::vector<uint64_t>{0, 8192, 8202}));
  EXPECT_EQ(alignedPartOffsets({4096, 1}), (std::vector<uint64_t>{0, 4096, 4097}));
}

TEST(Loader, RunsTheCpuPartOfATwoTargetArtifact) {
  std::string path = writeTwoTargets("two", Toy(), gpuToy());
  StatusOr<std::unique_ptr<Model>> model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  const ModelInfo &info = (*model)->info();
  EXPECT_EQ(info.target, "test,sm_90");
  EXPECT_TRUE(info.cpu && info.gpu);
  EXPECT_EQ(info.steps, 3u);
  StatusOr<std::unique_ptr<Session>> s = Session::create(**model, 0, 1);
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::vector<int32_t> tokens{3, 5}, positions{0, 1};
  ASSERT_TRUE((*s)->forward(tokens.data(), positions.data(), 2, false).ok());
  // The GPU session takes the GPU part: without a GPU it fails opening the
  // device, not by calling the artifact a CPU one.
  StatusOr<std::unique_ptr<GpuSession>> g = GpuSession::create(**model);
  if (!g.ok())
    EXPECT_EQ(g.status().message().find("a CPU"), std::string::npos) << g.status().message();
}

TEST(Loader, KeepsATwoTargetArtifactWhoseCpuPartThisCpuCannotRun) {
  Toy cpu;
  cpu.manifest.add_required_features("frobnicate512");
  std::string path = writeTwoTargets("two-features", cpu, gpuToy());
  StatusOr<std::unique_ptr<Model>> model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  StatusOr<std::unique_ptr<Session>> s = Session::create(**model);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("frobnicate512"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("--device cuda:0"), std::string::npos)
      << s.status().message();
}

TEST(Loader, RejectsBadTwoTargetArtifacts) {
  Toy cpu;
  Toy gpu = gpuToy();
  expectLoadError(writeTwoTargets("two-one", cpu, gpu,
                                  [](artifact::Manifest &m) { m.mutable_parts()->RemoveLast(); }),
                  "holds one CPU and one GPU part, not 1 parts");
  expectLoadError(writeTwoTargets("two-cpus", cpu, cpu),
                  "holds one CPU and one GPU part");
  expectLoadError(writeTwoTargets("two-steps", cpu, gpu,
                                  [&](artifact::Manifest &m) { *m.add_steps() = cpu.manifest.steps(0); }),
                  "has steps, tensors, buffers or code of its own");
  expectLoadError(writeTwoTargets("two-offset", cpu, gpu,
                                  [](artifact::Manifest &m) { m.mutable_parts(1)->set_offset(100); }),
                  "part sm_90 [100, +");
  expectLoadError(writeTwoTargets("two-size", cpu, gpu,
                                  [](artifact::Manifest &m) {
                                    m.mutable_parts(1)->set_size(m.parts(1).size() + 4096);
                                  }),
                  "is not a 4096-byte aligned range of the weight section");
  expectLoadError(writeTwoTargets("two-target", cpu, gpu,
                                  [](artifact::Manifest &m) { m.mutable_parts(1)->set_target("sm_80"); }),
                  "(its sm_80 part): compiled for sm_90, not sm_80");
  // A damaged part is named.
  std::string path = writeTwoTargets("two-damaged", cpu, gpu);
  std::string bytes = readFile(path);
  ArtifactHeader h = headerOf(bytes);
  artifact::Manifest m;
  ASSERT_TRUE(m.ParseFromString(bytes.substr(h.manifestOffset, h.manifestSize)));
  uint64_t gpuPart = h.weightsOffset + m.parts(1).offset();
  ArtifactHeader gh = headerOf(bytes.substr(gpuPart, sizeof(ArtifactHeader)));
  bytes[gpuPart + gh.manifestOffset] ^= 1;
  writeFile(path, bytes);
  expectLoadError(path, "(its sm_90 part): manifest checksum mismatch");
}

TEST(Loader, TwoModelsLoadSideBySide) {
  Toy toy;
  std::unique_ptr<Model> a = loadToy(toy, "a"), b = loadToy(toy, "b");
  ASSERT_TRUE(a && b);
  a.reset();
  std::unique_ptr<Model> c = loadToy(toy, "c");
  ASSERT_TRUE(c);
}

/// Runs the toy plan with `threads` threads and checks every logit.
static void runToy(int threads) {
  Toy toy;
  std::unique_ptr<Model> model = loadToy(toy, "run" + std::to_string(threads));
  ASSERT_TRUE(model);
  StatusOr<std::unique_ptr<Session>> made = Session::create(*model, 0, threads);
  ASSERT_TRUE(made.ok()) << made.status().message();
  Session &s = **made;
  EXPECT_EQ(s.threads(), threads);

  std::vector<int32_t> tokens{3, 5, 7, 9, 11}, positions{0, 1, 2, 3, 4};
  ASSERT_TRUE(s.forward(tokens.data(), positions.data(), 5, true).ok());
  const float *logits = s.logits();
  float sum = 0;
  for (int t = 0; t < 5; ++t) {
    const float *row = logits + t * kVocab;
    sum += toy.table[tokens[t]];
    EXPECT_EQ(row[0], sum) << "row " << t;
    for (int v = 1; v + 1 < kVocab; ++v)
      EXPECT_EQ(row[v], v == tokens[t] ? 1000.0f : 0.0f) << t << "," << v;
    EXPECT_EQ(row[kVocab - 1], 5.0f); // all logits: the head saw 5 rows
  }
  EXPECT_EQ(s.position(), 5);

  // The cache keeps positions 0..4; the head runs on the last token only.
  std::vector<int32_t> more{2, 4}, at{5, 6};
  ASSERT_TRUE(s.forward(more.data(), at.data(), 2, false).ok());
  sum += toy.table[2] + toy.table[4];
  EXPECT_EQ(s.logits()[0], sum);
  EXPECT_EQ(s.logits()[4], 1000.0f);
  EXPECT_EQ(s.logits()[kVocab - 1], 1.0f);
  EXPECT_EQ(s.position(), 7);

  // A longer batch grows the buffers.
  s.reset();
  std::vector<int32_t> many(kContext), all(kContext);
  for (int i = 0; i < kContext; ++i)
    many[i] = 1 + i % (kVocab - 2), all[i] = i;
  ASSERT_TRUE(s.forward(many.data(), all.data(), kContext, false).ok());
  EXPECT_EQ(s.logits()[many.back()], 1000.0f);
}

TEST(Session, RunsThePlanOnOneThread) { runToy(1); }
TEST(Session, RunsThePlanOnThreeThreads) { runToy(3); }

// --cpus: every thread (the caller is thread 0) is pinned to a listed CPU,
// the plan still computes the same logits, and a CPU the machine lacks is
// refused.
TEST(Session, PinsThreadsToTheListedCpus) {
  Toy toy;
  std::unique_ptr<Model> model = loadToy(toy, "pinned");
  ASSERT_TRUE(model);
  cpu_set_t before;
  ASSERT_EQ(sched_getaffinity(0, sizeof(before), &before), 0);
  int first = 0;
  while (first < CPU_SETSIZE && !CPU_ISSET(first, &before))
    ++first;
  {
    StatusOr<std::unique_ptr<Session>> made = Session::create(*model, 0, 2, {first});
    ASSERT_TRUE(made.ok()) << made.status().message();
    cpu_set_t now;
    ASSERT_EQ(sched_getaffinity(0, sizeof(now), &now), 0);
    EXPECT_EQ(CPU_COUNT(&now), 1);
    EXPECT_TRUE(CPU_ISSET(first, &now));
    std::vector<int32_t> tokens{3, 5}, positions{0, 1};
    ASSERT_TRUE((*made)->forward(tokens.data(), positions.data(), 2, false).ok());
    EXPECT_EQ((*made)->logits()[0], toy.table[3] + toy.table[5]);
  }
  sched_setaffinity(0, sizeof(before), &before);
  StatusOr<std::unique_ptr<Session>> bad = Session::create(*model, 0, 1, {1 << 20});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("is not one of this machine's"), std::string::npos)
      << bad.status().message();
}

TEST(Session, WeightsCopiedToHugePagesGiveTheSameLogits) {
  Toy toy;
  LoadOptions copy;
  copy.copyWeightsToHugePages = true;
  std::unique_ptr<Model> mapped = loadToy(toy, "mapped"), copied = loadToy(toy, "copied", copy);
  ASSERT_TRUE(mapped && copied);
  std::vector<int32_t> tokens{3, 5, 7}, positions{0, 1, 2};
  std::vector<float> logits[2];
  for (int i = 0; i < 2; ++i) {
    StatusOr<std::unique_ptr<Session>> s = Session::create(i ? *copied : *mapped, 0, 2);
    ASSERT_TRUE(s.ok()) << s.status().message();
    ASSERT_TRUE((*s)->forward(tokens.data(), positions.data(), 3, false).ok());
    logits[i].assign((*s)->logits(), (*s)->logits() + kVocab);
  }
  EXPECT_EQ(logits[0], logits[1]);
  EXPECT_EQ(logits[1][0], toy.table[3] + toy.table[5] + toy.table[7]);
}

TEST(Session, PrefillAndDecodeAdvanceThePosition) {
  Toy toy;
  std::unique_ptr<Model> model = loadToy(toy, "decode");
  ASSERT_TRUE(model);
  StatusOr<std::unique_ptr<Session>> s = Session::create(*model, 8, 2);
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::vector<int32_t> prompt{3, 6, 9};
  ASSERT_TRUE((*s)->prefill(prompt.data(), 3).ok());
  EXPECT_EQ((*s)->position(), 3);
  uint64_t rng = 0;
  int32_t next = sampleToken((*s)->logits(), kVocab, SamplerOptions(), rng);
  EXPECT_EQ(next, 9);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE((*s)->decode(next).ok());
  EXPECT_EQ((*s)->position(), 8);
  Status full = (*s)->decode(next);
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.message().find("is full"), std::string::npos) << full.message();
}

TEST(Session, RejectsBadInputs) {
  Toy toy;
  std::unique_ptr<Model> model = loadToy(toy, "inputs");
  ASSERT_TRUE(model);
  StatusOr<std::unique_ptr<Session>> s = Session::create(*model, 8, 1);
  ASSERT_TRUE(s.ok());
  int32_t token = 16, position = 0;
  Status st = (*s)->forward(&token, &position, 1, false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("outside the vocabulary [0, 16)"), std::string::npos)
      << st.message();
  token = 3, position = 8;
  st = (*s)->forward(&token, &position, 1, false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("outside the session's context [0, 8)"),
            std::string::npos)
      << st.message();
  st = (*s)->forward(&token, &position, 0, false);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(Session::create(*model, kContext + 1, 1).ok());
}

TEST(CApi, GreedyDecodeThroughTheCApi) {
  Toy toy;
  std::string path = toy.write("capi");
  lowbit_model *model = nullptr;
  ASSERT_EQ(lowbit_model_load(path.c_str(), &model), 0) << lowbit_last_error();
  lowbit_model_info info;
  lowbit_model_get_info(model, &info);
  EXPECT_EQ(info.vocab_size, kVocab);
  EXPECT_EQ(info.bos_token_id, 1);
  EXPECT_STREQ(info.target, "test");
  lowbit_session *session = nullptr;
  ASSERT_EQ(lowbit_session_create(model, 0, 2, &session), 0) << lowbit_last_error();
  int32_t prompt[] = {4, 13};
  ASSERT_EQ(lowbit_session_prefill(session, prompt, 2), 0) << lowbit_last_error();
  uint64_t rng = 5;
  int32_t next = lowbit_sample(lowbit_session_logits(session), kVocab, 0.0f, 0, 1.0f, &rng);
  EXPECT_EQ(next, 13);
  ASSERT_EQ(lowbit_session_decode(session, 6), 0) << lowbit_last_error();
  EXPECT_EQ(lowbit_sample(lowbit_session_logits(session), kVocab, 0.0f, 0, 1.0f, &rng), 6);
  EXPECT_EQ(lowbit_session_position(session), 3);
  int32_t bad = 99;
  EXPECT_NE(lowbit_session_decode(session, bad), 0);
  EXPECT_NE(std::string(lowbit_last_error()).find("outside the vocabulary"),
            std::string::npos);
  int32_t ids[4];
  EXPECT_EQ(lowbit_tokenize(model, "hello", ids, 4, nullptr), -1);
  EXPECT_NE(std::string(lowbit_last_error()).find("carries no tokenizer"),
            std::string::npos);
  lowbit_session_free(session);
  lowbit_model_free(model);

  lowbit_model *missing = nullptr;
  EXPECT_NE(lowbit_model_load("/nonexistent/x.lbx", &missing), 0);
  EXPECT_EQ(missing, nullptr);
  EXPECT_NE(std::string(lowbit_last_error()).find("/nonexistent/x.lbx: cannot open"),
            std::string::npos);
}

TEST(CApi, TokenizerFromTheManifest) {
  Toy toy;
  toy.manifest.mutable_tokenizer()->set_sentencepiece_model(
      readFile(LOWBIT_MODELS_DIR "/tiny-5m/tokenizer.model"));
  toy.manifest.mutable_tokenizer()->set_add_bos(true);
  std::string path = toy.write("tokenizer");
  lowbit_model *model = nullptr;
  ASSERT_EQ(lowbit_model_load(path.c_str(), &model), 0) << lowbit_last_error();
  lowbit_model_info info;
  lowbit_model_get_info(model, &info);
  EXPECT_EQ(info.add_bos, 1);
  const char *text = "In the beginning God created the heaven and the earth.";
  int64_t needed = 0;
  EXPECT_EQ(lowbit_tokenize(model, text, nullptr, 0, &needed), -1);
  ASSERT_GT(needed, 3);
  std::vector<int32_t> ids(static_cast<size_t>(needed));
  ASSERT_EQ(lowbit_tokenize(model, text, ids.data(), needed, nullptr), needed);
  char out[256];
  EXPECT_EQ(lowbit_detokenize(model, ids.data(), needed, out, sizeof(out)),
            int64_t(std::strlen(text)));
  EXPECT_STREQ(out, text);
  char small[6];
  lowbit_detokenize(model, ids.data(), needed, small, sizeof(small));
  EXPECT_STREQ(small, "In th");
  lowbit_model_free(model);
}

// SentencePiece throws on some models (darts-clone cannot put a piece that
// starts with a NUL byte in its trie); the runtime is built without
// exceptions, so that used to abort. Found by fuzz/TokenizerFuzzer; an
// artifact's tokenizer is loaded by the same call.
TEST(Loader, RejectsATokenizerSentencePieceThrowsOn) {
  const char proto[] = "\n\x0e\n\x05u<nk>\x15\x00\x00\x00\x00\x18\x02"
                       "\n\x05\n\x03\x00\x0b\x15";
  Toy toy;
  toy.manifest.mutable_tokenizer()->set_sentencepiece_model(
      std::string(proto, sizeof(proto) - 1));
  std::string path = toy.write("bad-tokenizer");
  auto model = Model::load(path);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().message().rfind(path + ": cannot load the tokenizer: ", 0),
            0u)
      << model.status().message();
}

TEST(Sampler, CApiMatchesTheCppSampler) {
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i)
    logits[i] = float((i * 7) % 11) * 0.3f;
  SamplerOptions o;
  o.temperature = 0.7f;
  o.topK = 20;
  o.topP = 0.9f;
  uint64_t a = 17, b = 17;
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(lowbit_sample(logits.data(), 50, 0.7f, 20, 0.9f, &a),
              sampleToken(logits.data(), 50, o, b));
  EXPECT_EQ(a, b);
}
