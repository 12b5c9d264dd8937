//===- Session.cpp - KV cache, buffers and the step loop ------------------===//
//
// A forward call resolves every step's arguments to pointers once, then all
// threads walk the steps together: each calls the step's kernel with its
// share and meets the others at one barrier before the next step.
//
//===----------------------------------------------------------------------===//
#include "ModelImpl.h"
#include "ThreadPool.h"

#include <algorithm>
#include <cstring>

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace lowbit;
using namespace lowbit::rt;

namespace {

/// Zeroed, page-aligned memory that is only resident once touched.
class Memory {
public:
  Memory() = default;
  Memory(const Memory &) = delete;
  Memory &operator=(const Memory &) = delete;
  Memory(Memory &&other) noexcept : data(other.data), size(other.size) {
    other.data = nullptr;
    other.size = 0;
  }
  ~Memory() { release(); }

  bool allocate(size_t bytes) {
    release();
    if (bytes == 0)
      bytes = 64;
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      return false;
    data = static_cast<unsigned char *>(p);
    size = bytes;
    return true;
  }
  void release() {
    if (data)
      munmap(data, size);
    data = nullptr;
    size = 0;
  }
  unsigned char *data = nullptr;
  size_t size = 0;
};

} // namespace

int lowbit::rt::defaultThreadCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? int(n) : 1;
}

struct Session::Impl {
  const Model::Impl *model = nullptr;
  int64_t context = 0;
  int64_t vocab = 0;
  std::unique_ptr<ThreadPool> pool;

  std::vector<Memory> keys, values; // per cache layer
  std::vector<Memory> buffers;
  int64_t bufferRows = 0; // rows every buffer holds now
  std::vector<int32_t> tokens, positions;

  // Each step's arguments, planned once; the pointers are resolved per
  // call (buffers grow, and last-token-only steps move to the last row).
  struct ArgPlan {
    int kind = 0;
    uint32_t index = 0;
    size_t rowBytes = 0;   // per-row arguments: the row stride
    void *fixed = nullptr; // tensors and caches
  };
  struct StepPlan {
    bool lastTokenOnly = false;
    bool barrierAfter = true;
    size_t firstArg = 0;
  };
  std::vector<ArgPlan> argPlans;
  std::vector<StepPlan> stepPlans;
  std::vector<void *> args;
  std::vector<int64_t> stepTokens;

  const float *logits = nullptr;
  int64_t position = 0;

  Status growBuffers(int64_t rows);
  void plan();
  void resolveArgs(int64_t n, bool allLogits);
  void runSteps();
};

Status Session::Impl::growBuffers(int64_t rows) {
  if (rows <= bufferRows)
    return Status::success();
  const artifact::Manifest &m = model->manifest;
  for (int i = 0; i < m.buffers_size(); ++i) {
    size_t bytes = size_t(rows) * size_t(m.buffers(i).row_bytes());
    if (!buffers[size_t(i)].allocate(bytes))
      return Status::error(model->path + ": cannot allocate " +
                           std::to_string(bytes) + " bytes for buffer " +
                           std::to_string(i));
  }
  bufferRows = rows;
  return Status::success();
}

void Session::Impl::plan() {
  const artifact::Manifest &m = model->manifest;
  for (const artifact::Step &step : m.steps()) {
    StepPlan sp;
    sp.lastTokenOnly = step.last_token_only();
    sp.barrierAfter = !step.no_barrier_after();
    sp.firstArg = argPlans.size();
    for (const artifact::Arg &arg : step.args()) {
      ArgPlan ap;
      ap.kind = arg.kind();
      ap.index = arg.index();
      switch (arg.kind()) {
      case artifact::Arg::BUFFER:
        ap.rowBytes = size_t(m.buffers(int(arg.index())).row_bytes());
        break;
      case artifact::Arg::TENSOR:
        ap.fixed = const_cast<unsigned char *>(
            model->weights + m.tensors(int(arg.index())).offset());
        break;
      case artifact::Arg::TOKENS:
      case artifact::Arg::POSITIONS:
        ap.rowBytes = sizeof(int32_t);
        break;
      case artifact::Arg::KEY_CACHE:
        ap.fixed = keys[arg.index()].data;
        break;
      case artifact::Arg::VALUE_CACHE:
        ap.fixed = values[arg.index()].data;
        break;
      default:
        break; // rejected when the model was loaded
      }
      argPlans.push_back(ap);
    }
    stepPlans.push_back(sp);
  }
  args.resize(argPlans.size());
  stepTokens.resize(stepPlans.size());
}

void Session::Impl::resolveArgs(int64_t n, bool allLogits) {
  for (size_t s = 0; s < stepPlans.size(); ++s) {
    const StepPlan &sp = stepPlans[s];
    bool lastOnly = sp.lastTokenOnly && !allLogits;
    size_t row = lastOnly ? size_t(n - 1) : 0;
    stepTokens[s] = lastOnly ? 1 : n;
    size_t end = s + 1 < stepPlans.size() ? stepPlans[s + 1].firstArg
                                          : argPlans.size();
    for (size_t a = sp.firstArg; a < end; ++a) {
      const ArgPlan &ap = argPlans[a];
      unsigned char *base;
      switch (ap.kind) {
      case artifact::Arg::BUFFER:
        base = buffers[ap.index].data;
        break;
      case artifact::Arg::TOKENS:
        base = reinterpret_cast<unsigned char *>(tokens.data());
        break;
      case artifact::Arg::POSITIONS:
        base = reinterpret_cast<unsigned char *>(positions.data());
        break;
      default:
        args[a] = ap.fixed;
        continue;
      }
      args[a] = base + row * ap.rowBytes;
    }
  }
}

void Session::Impl::runSteps() {
  const std::vector<KernelFunction> &kernels = model->kernels;
  const size_t steps = kernels.size();
  if (pool->size() == 1) {
    for (size_t s = 0; s < steps; ++s)
      kernels[s](args.data() + stepPlans[s].firstArg, stepTokens[s], 0, 1);
    return;
  }
  const int64_t threads = pool->size();
  pool->run([&](int thread) {
    for (size_t s = 0; s < steps; ++s) {
      kernels[s](args.data() + stepPlans[s].firstArg, stepTokens[s], thread,
                 threads);
      if (s + 1 < steps && stepPlans[s].barrierAfter)
        pool->barrier();
    }
  });
}

Session::Session() : impl(std::make_unique<Impl>()) {}
Session::~Session() = default;

StatusOr<std::unique_ptr<Session>>
Session::create(const Model &model, int64_t contextLength, int threads,
                const std::vector<int> &cpus) {
  const Model::Impl &m = *model.impl;
  const int64_t modelContext = m.info.contextLength;
  if (!m.info.cpu)
    return Status::error(m.path + ": compiled for " + m.info.target +
                         ", an NVIDIA GPU: run it on one (lowbit-run --device cuda:0)");
  if (!m.cpuUnavailable.empty())
    return Status::error(m.cpuUnavailable + " (or run its GPU part: --device cuda:0)");
  if (contextLength < 0 || contextLength > modelContext)
    return Status::error(m.path + ": context length " +
                         std::to_string(contextLength) + " is outside 1.." +
                         std::to_string(modelContext) +
                         " (the model's context length)");
  if (threads < 0)
    return Status::error("thread count " + std::to_string(threads) +
                         " must be positive (0: one per core)");
  int cores = int(std::thread::hardware_concurrency());
  for (int cpu : cpus)
    if (cpu < 0 || cpu >= CPU_SETSIZE || (cores > 0 && cpu >= cores))
      return Status::error("CPU " + std::to_string(cpu) + " is not one of this machine's (0.." +
                           std::to_string(cores - 1) + ")");
  std::unique_ptr<Session> session(new Session());
  Impl &s = *session->impl;
  s.model = &m;
  s.context = contextLength ? contextLength : modelContext;
  s.vocab = m.info.vocabSize;
  s.pool = std::make_unique<ThreadPool>(
      threads ? threads : cpus.empty() ? defaultThreadCount() : int(cpus.size()), cpus);
  int64_t layers = std::max<int64_t>(m.manifest.kv_layers(), 0);
  s.keys.resize(size_t(layers));
  s.values.resize(size_t(layers));
  // Whole blocks of kKeyCacheTile positions (ArtifactFormat.h).
  int64_t cachePositions = (s.context + kKeyCacheTile - 1) / kKeyCacheTile * kKeyCacheTile;
  size_t cacheBytes =
      size_t(cachePositions) * size_t(std::max<int64_t>(m.manifest.kv_width(), 0)) *
      sizeof(float);
  for (int64_t l = 0; l < layers; ++l)
    if (!s.keys[size_t(l)].allocate(cacheBytes) ||
        !s.values[size_t(l)].allocate(cacheBytes))
      return Status::error(m.path + ": cannot allocate the KV cache (" +
                           std::to_string(2 * layers * cacheBytes) + " bytes)");
  s.buffers.resize(size_t(m.manifest.buffers_size()));
  s.plan();
  return std::move(session);
}

Status lowbit::rt::checkForwardInputs(const int32_t *tokens, const int32_t *positions,
                                      int64_t n, int64_t vocab, int64_t context) {
  if (n < 1)
    return Status::error("forward needs at least one token, got " + std::to_string(n));
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return Status::error("token " + std::to_string(i) + " has id " +
                           std::to_string(tokens[i]) + ", outside the vocabulary [0, " +
                           std::to_string(vocab) + ")");
    if (positions[i] < 0 || positions[i] >= context)
      return Status::error("token " + std::to_string(i) + " is at position " +
                           std::to_string(positions[i]) +
                           ", outside the session's context [0, " + std::to_string(context) +
                           ")");
  }
  return Status::success();
}

Status Session::forward(const int32_t *tokens, const int32_t *positions,
                        int64_t n, bool allLogits) {
  Impl &s = *impl;
  if (Status st = checkForwardInputs(tokens, positions, n, s.vocab, s.context); !st.ok())
    return st;
  const int32_t highest = *std::max_element(positions, positions + n);
  if (Status st = s.growBuffers(n); !st.ok())
    return st;
  s.tokens.assign(tokens, tokens + n);
  s.positions.assign(positions, positions + n);
  s.resolveArgs(n, allLogits);
  s.runSteps();
  // Last-token-only steps wrote the last row of the logits buffer.
  const artifact::Manifest &m = s.model->manifest;
  const unsigned char *logits = s.buffers[m.logits_buffer()].data;
  if (!allLogits)
    logits += size_t(n - 1) * size_t(m.buffers(int(m.logits_buffer())).row_bytes());
  s.logits = reinterpret_cast<const float *>(logits);
  s.position = std::max<int64_t>(s.position, int64_t(highest) + 1);
  return Status::success();
}

const float *Session::logits() const { return impl->logits; }
int64_t Session::vocabSize() const { return impl->vocab; }
int64_t Session::contextLength() const { return impl->context; }
void Session::reset() {
  impl->position = 0;
  impl->logits = nullptr;
}
int64_t Session::position() const { return impl->position; }
int Session::threads() const { return impl->pool->size(); }
