//===- CudaDriver.cpp - The CUDA driver API through dlopen ----------------===//
//
// The library stays loaded until the process exits: unloading libcuda while
// its threads and contexts may still exist is not safe.
//
//===----------------------------------------------------------------------===//
#include "gpu/CudaDriver.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <mutex>

#include <dlfcn.h>

using namespace lowbit::rt;
using namespace lowbit::rt::cuda;

namespace {

// Values from cuda.h.
constexpr CUresult CUDA_ERROR_STUB_LIBRARY = 34;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr unsigned CU_EVENT_DEFAULT = 0;
constexpr size_t kJitLogBytes = 16384;

const char *const kAdvice = "GPU artifacts need an NVIDIA GPU and its driver";

/// Points `fn` at the first of `names` the library exports.
template <typename Fn>
bool bind(void *lib, Fn &fn, std::initializer_list<const char *> names, std::string &missing) {
  for (const char *name : names)
    if (void *sym = dlsym(lib, name)) {
      fn = reinterpret_cast<Fn>(sym);
      return true;
    }
  missing = *names.begin();
  return false;
}

} // namespace

std::string CudaDriver::libraryPath() {
  const char *env = std::getenv("LOWBIT_CUDA_DRIVER");
  return env && *env ? env : "libcuda.so.1";
}

StatusOr<CudaDriver *> CudaDriver::open() {
  // Loaded drivers by path, never freed (nor is the map, so leak checkers
  // still see them); a failure is not kept.
  static std::mutex mutex;
  static auto *loaded = new std::map<std::string, CudaDriver *>();
  std::string path = libraryPath();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = loaded->find(path);
  if (it != loaded->end())
    return it->second;
  StatusOr<CudaDriver *> driver = load(path);
  if (driver)
    (*loaded)[path] = *driver;
  return driver;
}

StatusOr<CudaDriver *> CudaDriver::load(const std::string &path) {
  void *lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    return Status::error("no CUDA driver: " + path + " could not be loaded (" +
                         (why ? why : "unknown error") + "); " + kAdvice);
  }
  CudaDriver *d = new CudaDriver();
  d->handle = lib;
  d->libPath = path;
  std::string missing;
  bool ok =
      bind(lib, d->cuInit, {"cuInit"}, missing) &&
      bind(lib, d->cuDriverGetVersion, {"cuDriverGetVersion"}, missing) &&
      bind(lib, d->cuGetErrorString, {"cuGetErrorString"}, missing) &&
      bind(lib, d->cuGetErrorName, {"cuGetErrorName"}, missing) &&
      bind(lib, d->cuDeviceGetCount, {"cuDeviceGetCount"}, missing) &&
      bind(lib, d->cuDeviceGet, {"cuDeviceGet"}, missing) &&
      bind(lib, d->cuDeviceGetName, {"cuDeviceGetName"}, missing) &&
      bind(lib, d->cuDeviceGetAttribute, {"cuDeviceGetAttribute"}, missing) &&
      bind(lib, d->cuDeviceTotalMem, {"cuDeviceTotalMem_v2"}, missing) &&
      bind(lib, d->cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"}, missing) &&
      bind(lib, d->cuDevicePrimaryCtxRelease,
           {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}, missing) &&
      bind(lib, d->cuCtxSetCurrent, {"cuCtxSetCurrent"}, missing) &&
      bind(lib, d->cuCtxSynchronize, {"cuCtxSynchronize"}, missing) &&
      bind(lib, d->cuMemAlloc, {"cuMemAlloc_v2"}, missing) &&
      bind(lib, d->cuMemFree, {"cuMemFree_v2"}, missing) &&
      bind(lib, d->cuMemcpyHtoD, {"cuMemcpyHtoD_v2"}, missing) &&
      bind(lib, d->cuMemcpyDtoH, {"cuMemcpyDtoH_v2"}, missing) &&
      bind(lib, d->cuMemcpyDtoD, {"cuMemcpyDtoD_v2"}, missing) &&
      bind(lib, d->cuMemsetD8, {"cuMemsetD8_v2"}, missing) &&
      bind(lib, d->cuModuleLoadDataEx, {"cuModuleLoadDataEx"}, missing) &&
      bind(lib, d->cuModuleUnload, {"cuModuleUnload"}, missing) &&
      bind(lib, d->cuModuleGetFunction, {"cuModuleGetFunction"}, missing) &&
      bind(lib, d->cuLaunchKernel, {"cuLaunchKernel"}, missing) &&
      bind(lib, d->cuEventCreate, {"cuEventCreate"}, missing) &&
      bind(lib, d->cuEventDestroy, {"cuEventDestroy_v2", "cuEventDestroy"}, missing) &&
      bind(lib, d->cuEventRecord, {"cuEventRecord"}, missing) &&
      bind(lib, d->cuEventSynchronize, {"cuEventSynchronize"}, missing) &&
      bind(lib, d->cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, missing);
  if (!ok) {
    dlclose(lib);
    delete d;
    return Status::error("no CUDA driver: " + path + " has no " + missing + "; " + kAdvice);
  }
  // Optional: graphs need a driver of CUDA 11.4 or later.
  std::string absent;
  (void)(bind(lib, d->cuStreamCreate, {"cuStreamCreate"}, absent) &&
         bind(lib, d->cuStreamDestroy, {"cuStreamDestroy_v2", "cuStreamDestroy"}, absent) &&
         bind(lib, d->cuStreamBeginCapture, {"cuStreamBeginCapture_v2"}, absent) &&
         bind(lib, d->cuStreamEndCapture, {"cuStreamEndCapture"}, absent) &&
         bind(lib, d->cuGraphInstantiateWithFlags, {"cuGraphInstantiateWithFlags"}, absent) &&
         bind(lib, d->cuGraphLaunch, {"cuGraphLaunch"}, absent) &&
         bind(lib, d->cuGraphExecDestroy, {"cuGraphExecDestroy"}, absent) &&
         bind(lib, d->cuGraphDestroy, {"cuGraphDestroy"}, absent));
  return d;
}

Status CudaDriver::check(CUresult result, const char *call) const {
  if (result == CUDA_SUCCESS)
    return Status::success();
  const char *text = nullptr, *name = nullptr;
  if (cuGetErrorString(result, &text) != CUDA_SUCCESS || !text)
    text = "unknown error";
  std::string code = cuGetErrorName(result, &name) == CUDA_SUCCESS && name
                         ? std::string(name)
                         : "CUresult " + std::to_string(result);
  return Status::error(std::string(call) + ": " + text + " (" + code + ")");
}

//===----------------------------------------------------------------------===//
// Owned driver objects
//===----------------------------------------------------------------------===//

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  if (this != &other) {
    reset();
    std::swap(driver, other.driver);
    std::swap(devPtr, other.devPtr);
    std::swap(bytes, other.bytes);
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (devPtr)
    (void)driver->cuMemFree(devPtr);
  devPtr = 0;
  bytes = 0;
}

CudaModule &CudaModule::operator=(CudaModule &&other) noexcept {
  if (this != &other) {
    reset();
    std::swap(driver, other.driver);
    std::swap(module, other.module);
  }
  return *this;
}

void CudaModule::reset() {
  if (module)
    (void)driver->cuModuleUnload(module);
  module = nullptr;
}

StatusOr<CUfunction> CudaModule::function(const std::string &name) const {
  if (!module)
    return Status::error("kernel " + name + ": no module loaded");
  CUfunction fn = nullptr;
  Status s =
      driver->check(driver->cuModuleGetFunction(&fn, module, name.c_str()), "cuModuleGetFunction");
  if (!s)
    return Status::error("kernel " + name + ": " + s.message());
  return fn;
}

CudaEvent &CudaEvent::operator=(CudaEvent &&other) noexcept {
  if (this != &other) {
    reset();
    std::swap(driver, other.driver);
    std::swap(event, other.event);
  }
  return *this;
}

void CudaEvent::reset() {
  if (event)
    (void)driver->cuEventDestroy(event);
  event = nullptr;
}

//===----------------------------------------------------------------------===//
// CudaDevice
//===----------------------------------------------------------------------===//

StatusOr<int> CudaDevice::count(CudaDriver &driver) {
  CUresult r = driver.cuInit(0);
  // Both mean "no GPU here": CUDA_ERROR_STUB_LIBRARY (cuda.h's name) is what
  // cuInit returns when the libcuda found is the toolkit's link-time stub
  // (lib64/stubs), not a driver; CUDA_ERROR_NO_DEVICE a driver without GPUs.
  if (r == CUDA_ERROR_NO_DEVICE || r == CUDA_ERROR_STUB_LIBRARY)
    return 0;
  if (Status s = driver.check(r, "cuInit"); !s)
    return s;
  int n = 0;
  if (Status s = driver.check(driver.cuDeviceGetCount(&n), "cuDeviceGetCount"); !s)
    return s;
  return n;
}

StatusOr<CudaDevice> CudaDevice::open(int ordinal) {
  StatusOr<CudaDriver *> driver = CudaDriver::open();
  if (!driver)
    return driver.status();
  CudaDriver &d = **driver;
  StatusOr<int> n = count(d);
  if (!n)
    return n.status();
  std::string where = "cuda:" + std::to_string(ordinal) + ": ";
  if (ordinal < 0 || ordinal >= *n)
    return Status::error(where + "no such device (" + std::to_string(*n) +
                         (*n == 1 ? " device)" : " devices)"));

  CudaDevice dev;
  dev.drv = &d;
  dev.ord = ordinal;
  auto fail = [&](const Status &s) { return Status::error(where + s.message()); };
  if (Status s = d.check(d.cuDeviceGet(&dev.device, ordinal), "cuDeviceGet"); !s)
    return fail(s);
  char name[256] = {};
  if (Status s = d.check(d.cuDeviceGetName(name, sizeof(name) - 1, dev.device), "cuDeviceGetName");
      !s)
    return fail(s);
  dev.deviceName = name;
  if (Status s =
          d.check(d.cuDeviceGetAttribute(&dev.capability.major,
                                         CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev.device),
                  "cuDeviceGetAttribute");
      !s)
    return fail(s);
  if (Status s =
          d.check(d.cuDeviceGetAttribute(&dev.capability.minor,
                                         CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev.device),
                  "cuDeviceGetAttribute");
      !s)
    return fail(s);
  if (Status s = d.check(d.cuDeviceTotalMem(&dev.memoryBytes, dev.device), "cuDeviceTotalMem"); !s)
    return fail(s);
  CUcontext ctx = nullptr;
  if (Status s = d.check(d.cuDevicePrimaryCtxRetain(&ctx, dev.device), "cuDevicePrimaryCtxRetain");
      !s)
    return fail(s);
  dev.context = ctx; // released by the destructor from here on
  if (Status s = dev.makeCurrent(); !s)
    return fail(s);
  return std::move(dev);
}

CudaDevice &CudaDevice::operator=(CudaDevice &&other) noexcept {
  if (this != &other) {
    if (context)
      (void)drv->cuDevicePrimaryCtxRelease(device);
    drv = other.drv;
    ord = other.ord;
    device = other.device;
    context = other.context;
    deviceName = std::move(other.deviceName);
    capability = other.capability;
    memoryBytes = other.memoryBytes;
    other.context = nullptr;
  }
  return *this;
}

CudaDevice::~CudaDevice() {
  if (context)
    (void)drv->cuDevicePrimaryCtxRelease(device);
}

int CudaDevice::attribute(int attr) const {
  int value = -1;
  if (drv->cuDeviceGetAttribute(&value, attr, device) != CUDA_SUCCESS)
    return -1;
  return value;
}

Status CudaDevice::makeCurrent() const {
  return drv->check(drv->cuCtxSetCurrent(context), "cuCtxSetCurrent");
}

StatusOr<DeviceBuffer> CudaDevice::alloc(size_t bytes) const {
  DeviceBuffer buf;
  buf.driver = drv;
  if (bytes == 0)
    return std::move(buf);
  CUdeviceptr p = 0;
  if (Status s = drv->check(drv->cuMemAlloc(&p, bytes), "cuMemAlloc"); !s)
    return Status::error(s.message() + " (" + std::to_string(bytes) + " bytes)");
  buf.devPtr = p;
  buf.bytes = bytes;
  return std::move(buf);
}

static Status tooLarge(const char *what, size_t bytes, size_t size) {
  return Status::error(std::string(what) + ": " + std::to_string(bytes) +
                       " bytes do not fit a buffer of " + std::to_string(size));
}

Status CudaDevice::upload(const DeviceBuffer &dst, const void *src, size_t bytes) const {
  if (bytes > dst.size())
    return tooLarge("upload", bytes, dst.size());
  if (bytes == 0)
    return Status::success();
  return drv->check(drv->cuMemcpyHtoD(dst.ptr(), src, bytes), "cuMemcpyHtoD");
}

Status CudaDevice::download(void *dst, const DeviceBuffer &src, size_t bytes) const {
  if (bytes > src.size())
    return tooLarge("download", bytes, src.size());
  if (bytes == 0)
    return Status::success();
  return drv->check(drv->cuMemcpyDtoH(dst, src.ptr(), bytes), "cuMemcpyDtoH");
}

Status CudaDevice::copy(const DeviceBuffer &dst, const DeviceBuffer &src, size_t bytes) const {
  if (bytes > dst.size() || bytes > src.size())
    return tooLarge("copy", bytes, std::min(dst.size(), src.size()));
  if (bytes == 0)
    return Status::success();
  return drv->check(drv->cuMemcpyDtoD(dst.ptr(), src.ptr(), bytes), "cuMemcpyDtoD");
}

Status CudaDevice::memset(const DeviceBuffer &dst, unsigned char value, size_t bytes) const {
  if (bytes > dst.size())
    return tooLarge("memset", bytes, dst.size());
  if (bytes == 0)
    return Status::success();
  return drv->check(drv->cuMemsetD8(dst.ptr(), value, bytes), "cuMemsetD8");
}

StatusOr<CudaModule> CudaDevice::loadPtx(const std::string &ptx) const {
  return loadImage(ptx.c_str());
}

StatusOr<CudaModule> CudaDevice::loadImage(const void *image) const {
  std::string log(kJitLogBytes, '\0');
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {log.data(), reinterpret_cast<void *>(uintptr_t(log.size() - 1))};
  CUmodule module = nullptr;
  CUresult r = drv->cuModuleLoadDataEx(&module, image, 2, options, values);
  if (r != CUDA_SUCCESS) {
    log.resize(strnlen(log.c_str(), log.size()));
    while (!log.empty() && (log.back() == '\n' || log.back() == ' '))
      log.pop_back();
    std::string message = drv->check(r, "cuModuleLoadDataEx").message();
    if (!log.empty())
      message += ":\n" + log;
    return Status::error(message);
  }
  CudaModule m;
  m.driver = drv;
  m.module = module;
  return std::move(m);
}

Status CudaDevice::launch(CUfunction fn, const unsigned grid[3], const unsigned block[3],
                          unsigned sharedBytes, void **args, CUstream stream) const {
  return drv->check(drv->cuLaunchKernel(fn, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                                        sharedBytes, stream, args, nullptr),
                    "cuLaunchKernel");
}

CudaStream &CudaStream::operator=(CudaStream &&other) noexcept {
  if (this != &other) {
    reset();
    driver = other.driver;
    stream = std::exchange(other.stream, nullptr);
  }
  return *this;
}

void CudaStream::reset() {
  if (stream)
    driver->cuStreamDestroy(stream);
  stream = nullptr;
}

CudaGraph &CudaGraph::operator=(CudaGraph &&other) noexcept {
  if (this != &other) {
    reset();
    driver = other.driver;
    graph = std::exchange(other.graph, nullptr);
    exec = std::exchange(other.exec, nullptr);
  }
  return *this;
}

void CudaGraph::reset() {
  if (exec)
    driver->cuGraphExecDestroy(exec);
  if (graph)
    driver->cuGraphDestroy(graph);
  exec = nullptr;
  graph = nullptr;
}

static Status needGraphs(const CudaDriver &drv) {
  if (drv.cuStreamCreate && drv.cuGraphInstantiateWithFlags)
    return Status::success();
  return Status::error(drv.path() + " has no CUDA graph API (a driver of CUDA 11.4 or later has)");
}

StatusOr<CudaStream> CudaDevice::createStream() const {
  if (Status s = needGraphs(*drv); !s)
    return s;
  CUstream stream = nullptr;
  // Flags 0: a blocking stream, ordered with the default stream's work.
  if (Status s = drv->check(drv->cuStreamCreate(&stream, 0), "cuStreamCreate"); !s)
    return s;
  CudaStream st;
  st.driver = drv;
  st.stream = stream;
  return std::move(st);
}

StatusOr<CudaGraph> CudaDevice::capture(const CudaStream &stream,
                                        const std::function<Status()> &work) const {
  if (Status s = needGraphs(*drv); !s)
    return s;
  // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: only this thread's unsafe calls
  // break the capture.
  constexpr int kCaptureThreadLocal = 1;
  if (Status s = drv->check(drv->cuStreamBeginCapture(stream.get(), kCaptureThreadLocal),
                            "cuStreamBeginCapture");
      !s)
    return s;
  Status enqueued = work();
  CudaGraph g;
  g.driver = drv;
  // The capture ends even when the work failed, so the stream is usable.
  Status ended = drv->check(drv->cuStreamEndCapture(stream.get(), &g.graph), "cuStreamEndCapture");
  if (!enqueued)
    return enqueued;
  if (!ended)
    return ended;
  if (Status s = drv->check(drv->cuGraphInstantiateWithFlags(&g.exec, g.graph, 0),
                            "cuGraphInstantiateWithFlags");
      !s)
    return s;
  return std::move(g);
}

Status CudaDevice::launch(const CudaGraph &graph, const CudaStream &stream) const {
  return drv->check(drv->cuGraphLaunch(graph.exec, stream.get()), "cuGraphLaunch");
}

Status CudaDevice::synchronize() const {
  return drv->check(drv->cuCtxSynchronize(), "cuCtxSynchronize");
}

StatusOr<CudaEvent> CudaDevice::createEvent() const {
  CUevent event = nullptr;
  if (Status s = drv->check(drv->cuEventCreate(&event, CU_EVENT_DEFAULT), "cuEventCreate"); !s)
    return s;
  CudaEvent e;
  e.driver = drv;
  e.event = event;
  return std::move(e);
}

Status CudaDevice::record(const CudaEvent &event) const {
  return drv->check(drv->cuEventRecord(event.get(), nullptr), "cuEventRecord");
}

StatusOr<float> CudaDevice::elapsedMs(const CudaEvent &start, const CudaEvent &end) const {
  if (Status s = drv->check(drv->cuEventSynchronize(end.get()), "cuEventSynchronize"); !s)
    return s;
  float ms = 0;
  if (Status s =
          drv->check(drv->cuEventElapsedTime(&ms, start.get(), end.get()), "cuEventElapsedTime");
      !s)
    return s;
  return ms;
}
