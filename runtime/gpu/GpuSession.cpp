//===- GpuSession.cpp - Run a GPU artifact on an NVIDIA GPU ---------------===//
//
// Every pointer a launch takes is fixed when the session is made (buffers
// hold the largest batch; token ids and positions go to device buffers of
// their own before each launch group), so each batch size's launches are
// one parameter list, captured once into a CUDA graph.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Runtime/GpuSession.h"

#include "ModelImpl.h"
#include "gpu/CudaDriver.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace lowbit {
namespace rt {

using cuda::CUdeviceptr;
using cuda::CUfunction;

namespace {
/// One launch of a step at one batch size, with its arguments resolved.
struct Launch {
  CUfunction function = nullptr;
  unsigned grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
  unsigned sharedBytes = 0;
  std::vector<CUdeviceptr> args;
  std::vector<void *> params; // &args[i]
};

/// The weight upload's progress: a line per 10% with the time left.
void reportUpload(size_t done, size_t total, double seconds) {
  double left = done ? seconds * double(total - done) / double(done) : 0;
  std::fprintf(stderr, "lowbit-run: uploaded %.0f of %.0f MiB of weights (%.1f s, ~%.1f s left)\n",
               double(done) / 1048576.0, double(total) / 1048576.0, seconds, left);
}
} // namespace

struct GpuSession::Impl {
  const Model::Impl *model = nullptr;
  std::optional<CudaDevice> gpu; // declared first: it goes after what it holds
  CudaModule module;
  CudaStream stream;
  std::string description;
  int64_t vocab = 0, context = 0;
  /// One past the highest position run since the last reset.
  int64_t position = 0;
  DeviceBuffer weights, tokens, positions;
  std::vector<DeviceBuffer> buffers, keyCaches, valueCaches;
  int64_t maxBatch = 1;
  // launches[b]: the launches of every step at batch manifest.gpu_batches(b),
  // in order (a step may repeat a smaller batch's kernel).
  std::vector<std::vector<Launch>> launches;
  std::vector<CudaGraph> graphs; // per batch, once captured
  std::vector<bool> captured;
  bool useGraphs = true;
  std::vector<float> logits, staging;

  Status enqueue(size_t batch, cuda::CUstream on) {
    for (Launch &l : launches[batch])
      if (Status s = gpu->launch(l.function, l.grid, l.block, l.sharedBytes, l.params.data(), on);
          !s)
        return s;
    return Status::success();
  }

  /// The launches of batch index `b`, as a graph after the first call.
  Status run(size_t b) {
    if (!useGraphs)
      return enqueue(b, nullptr);
    if (!captured[b]) {
      StatusOr<CudaGraph> graph =
          gpu->capture(stream, [&] { return enqueue(b, stream.get()); });
      if (!graph.ok()) {
        // A driver without graphs still runs the launches one by one.
        std::fprintf(stderr, "lowbit-run: CUDA graphs unavailable (%s); launching kernels "
                             "one by one\n",
                     graph.status().message().c_str());
        useGraphs = false;
        return enqueue(b, nullptr);
      }
      graphs[b] = graph.take();
      captured[b] = true;
    }
    return gpu->launch(graphs[b], stream);
  }
};

GpuSession::GpuSession() : impl(std::make_unique<Impl>()) {}
GpuSession::~GpuSession() = default;

StatusOr<std::unique_ptr<GpuSession>> GpuSession::create(const Model &model,
                                                         const GpuSessionOptions &options) {
  // A two-target artifact's GPU part, else the artifact itself.
  const Model::Impl &m = model.impl->gpuPart ? *model.impl->gpuPart->impl : *model.impl;
  const artifact::Manifest &manifest = m.manifest;
  auto fail = [&](const std::string &why) { return Status::error(m.path + ": " + why); };
  if (!m.info.gpu)
    return fail("compiled for " + m.info.target +
                ", a CPU: run it on the CPU (--device cpu) or compile it with --target=sm_90");
  std::unique_ptr<GpuSession> session(new GpuSession());
  Impl &s = *session->impl;
  s.model = &m;
  s.vocab = manifest.config().vocab_size();
  int64_t modelContext = std::min(m.info.contextLength, manifest.gpu_context());
  s.context = options.contextLength ? options.contextLength : modelContext;
  if (s.context < 1 || s.context > modelContext)
    return fail("context length " + std::to_string(s.context) + " is outside 1.." +
                std::to_string(modelContext));

  StatusOr<CudaDevice> device = CudaDevice::open(options.device);
  if (!device.ok())
    return fail(device.status().message());
  s.gpu.emplace(device.take());
  const int sm = std::atoi(m.info.target.c_str() + 3);
  const int have = s.gpu->computeCapability().number();
  std::string where = "cuda:" + std::to_string(options.device) + " (" + s.gpu->name() +
                      ", sm_" + std::to_string(have) + ")";
  if (have < sm)
    return fail("compiled for " + m.info.target + ", which " + where +
                " cannot run; compile with --target=sm_" + std::to_string(have));

  // The cubin where it was assembled for exactly this GPU, else the PTX.
  bool cubin = !manifest.gpu_cubin().empty() && have == sm;
  StatusOr<CudaModule> module =
      cubin ? s.gpu->loadImage(manifest.gpu_cubin().data()) : s.gpu->loadImage(m.ptx);
  if (!module.ok())
    return fail("cannot load its GPU kernels on " + where + ": " + module.status().message());
  s.module = module.take();
  s.description = s.gpu->name() + " (sm_" + std::to_string(have) + ", " +
                  (cubin ? "cubin" : "PTX compiled by the driver") + ")";

  // The weights, streamed from the mapping in pieces so the file is never
  // read whole into host memory first.
  const size_t weightBytes = size_t(m.info.weightBytes);
  {
    StatusOr<DeviceBuffer> w = s.gpu->alloc(std::max<size_t>(weightBytes, 1));
    if (!w.ok())
      return fail("weights (" + std::to_string(weightBytes) + " bytes): " +
                  w.status().message());
    s.weights = w.take();
    constexpr size_t kPiece = size_t(64) << 20;
    auto start = std::chrono::steady_clock::now();
    size_t nextReport = weightBytes / 10;
    for (size_t done = 0; done < weightBytes;) {
      size_t n = std::min(kPiece, weightBytes - done);
      if (Status st = s.gpu->driver().check(
              s.gpu->driver().cuMemcpyHtoD(s.weights.ptr() + done, m.weights + done, n),
              "cuMemcpyHtoD");
          !st)
        return fail("uploading the weights: " + st.message());
      done += n;
      if (options.progress && weightBytes > (size_t(256) << 20) &&
          (done >= nextReport || done == weightBytes)) {
        reportUpload(done, weightBytes,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                         .count());
        nextReport = done + weightBytes / 10;
      }
    }
  }

  s.maxBatch = int64_t(manifest.gpu_batches(manifest.gpu_batches_size() - 1));
  auto alloc = [&](size_t bytes, DeviceBuffer &into) -> Status {
    StatusOr<DeviceBuffer> b = s.gpu->alloc(std::max<size_t>(bytes, 4));
    if (!b.ok())
      return b.status();
    into = b.take();
    // Zeros: padding columns are read as finite values, and the cache's
    // unwritten positions are never read past a token's own.
    return s.gpu->memset(into, 0, into.size());
  };
  s.buffers.resize(size_t(manifest.buffers_size()));
  for (int b = 0; b < manifest.buffers_size(); ++b)
    if (Status st = alloc(size_t(manifest.buffers(b).row_bytes()) * size_t(s.maxBatch),
                          s.buffers[size_t(b)]);
        !st)
      return fail("scratch buffers: " + st.message());
  const size_t cacheBytes = size_t(manifest.gpu_context()) * size_t(manifest.kv_width()) * 2;
  s.keyCaches.resize(size_t(manifest.kv_layers()));
  s.valueCaches.resize(size_t(manifest.kv_layers()));
  for (int64_t l = 0; l < manifest.kv_layers(); ++l)
    for (DeviceBuffer *cache : {&s.keyCaches[size_t(l)], &s.valueCaches[size_t(l)]})
      if (Status st = alloc(cacheBytes, *cache); !st)
        return fail("KV cache: " + st.message());
  if (Status st = alloc(size_t(s.maxBatch) * 4, s.tokens); !st)
    return fail(st.message());
  if (Status st = alloc(size_t(s.maxBatch) * 4, s.positions); !st)
    return fail(st.message());

  // Every launch's arguments, resolved once.
  std::vector<CUfunction> functions;
  for (const artifact::GpuKernel &k : manifest.gpu_kernels()) {
    StatusOr<CUfunction> fn = s.module.function(k.name());
    if (!fn.ok())
      return fail(fn.status().message());
    functions.push_back(*fn);
  }
  s.launches.resize(size_t(manifest.gpu_batches_size()));
  for (int b = 0; b < manifest.gpu_batches_size(); ++b) {
    std::vector<Launch> &list = s.launches[size_t(b)];
    for (int i = 0; i < manifest.steps_size(); ++i) {
      const artifact::Step &step = manifest.steps(i);
      const artifact::GpuKernel &k = manifest.gpu_kernels(int(step.gpu_launches(b)));
      // A smaller batch's kernel repeated over the rows (artifact.proto).
      const uint32_t repeats = step.gpu_repeats_size() ? step.gpu_repeats(b) : 1;
      for (uint32_t r = 0; r < repeats; ++r) {
        Launch &l = list.emplace_back();
        l.function = functions[step.gpu_launches(b)];
        for (int d = 0; d < 3; ++d) {
          l.grid[d] = k.grid(d);
          l.block[d] = k.block(d);
        }
        l.sharedBytes = k.shared_bytes();
        const uint64_t firstRow = uint64_t(r) * k.batch();
        for (const artifact::Arg &a : step.args()) {
          CUdeviceptr p = 0;
          switch (a.kind()) {
          case artifact::Arg::BUFFER:
            p = s.buffers[a.index()].ptr() + firstRow * manifest.buffers(int(a.index())).row_bytes();
            break;
          case artifact::Arg::TENSOR:
            p = s.weights.ptr() + manifest.tensors(int(a.index())).offset();
            break;
          case artifact::Arg::TOKENS:
            p = s.tokens.ptr() + firstRow * 4;
            break;
          case artifact::Arg::POSITIONS:
            p = s.positions.ptr() + firstRow * 4;
            break;
          case artifact::Arg::KEY_CACHE:
            p = s.keyCaches[a.index()].ptr();
            break;
          case artifact::Arg::VALUE_CACHE:
            p = s.valueCaches[a.index()].ptr();
            break;
          default:
            return fail("step " + std::to_string(i) + " has an argument of unknown kind");
          }
          l.args.push_back(p);
        }
      }
    }
    // The parameter arrays point into each launch's arguments: taken once
    // the list no longer grows.
    for (Launch &l : list) {
      for (CUdeviceptr &p : l.args)
        l.params.push_back(&p);
      // A trailing null: the driver reads only the kernel's parameters, and
      // a stand-in driver (test/runtime) counts them by it.
      l.params.push_back(nullptr);
    }
  }
  s.useGraphs = options.graphs && s.gpu->driver().cuStreamBeginCapture;
  if (s.useGraphs) {
    StatusOr<CudaStream> stream = s.gpu->createStream();
    if (!stream.ok())
      return fail(stream.status().message());
    s.stream = stream.take();
  }
  s.graphs.resize(s.launches.size());
  s.captured.assign(s.launches.size(), false);
  return std::move(session);
}

Status GpuSession::forward(const int32_t *tokens, const int32_t *positions, int64_t n,
                           bool allLogits) {
  Impl &s = *impl;
  if (Status st = checkForwardInputs(tokens, positions, n, s.vocab, s.context); !st)
    return st;
  const artifact::Manifest &m = s.model->manifest;
  const size_t logitsRow = size_t(m.buffers(int(m.logits_buffer())).row_bytes());
  const DeviceBuffer &logitsBuffer = s.buffers[m.logits_buffer()];
  s.logits.resize(size_t(allLogits ? n : 1) * size_t(s.vocab));
  const CudaDriver &drv = s.gpu->driver();
  for (int64_t done = 0; done < n;) {
    // The largest batch that fits what is left.
    int b = m.gpu_batches_size() - 1;
    while (b > 0 && int64_t(m.gpu_batches(b)) > n - done)
      --b;
    const int64_t rows = int64_t(m.gpu_batches(b));
    if (Status st = s.gpu->upload(s.tokens, tokens + done, size_t(rows) * 4); !st)
      return st;
    if (Status st = s.gpu->upload(s.positions, positions + done, size_t(rows) * 4); !st)
      return st;
    if (Status st = s.run(size_t(b)); !st)
      return st;
    // The rows wanted: all of them, or the call's last.
    int64_t first = allLogits ? 0 : (done + rows == n ? rows - 1 : rows);
    if (first < rows) {
      s.staging.resize(size_t(rows - first) * logitsRow / 4);
      if (Status st = drv.check(drv.cuMemcpyDtoH(s.staging.data(),
                                                 logitsBuffer.ptr() + size_t(first) * logitsRow,
                                                 size_t(rows - first) * logitsRow),
                                "cuMemcpyDtoH");
          !st)
        return st;
      for (int64_t r = first; r < rows; ++r)
        std::memcpy(s.logits.data() + size_t(allLogits ? done + r : 0) * size_t(s.vocab),
                    s.staging.data() + size_t(r - first) * logitsRow / 4,
                    size_t(s.vocab) * 4);
    }
    done += rows;
  }
  s.position = std::max<int64_t>(s.position, *std::max_element(positions, positions + n) + 1);
  return Status::success();
}

const float *GpuSession::logits() const { return impl->logits.data(); }
int64_t GpuSession::vocabSize() const { return impl->vocab; }
int64_t GpuSession::contextLength() const { return impl->context; }
// Attention reads no position past a token's own, so stale cache rows are
// never seen: forgetting them needs no device work.
void GpuSession::reset() { impl->position = 0; }
int64_t GpuSession::position() const { return impl->position; }
const std::string &GpuSession::description() const { return impl->description; }

} // namespace rt
} // namespace lowbit
