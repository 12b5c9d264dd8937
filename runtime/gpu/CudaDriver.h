//===- CudaDriver.h - The CUDA driver API through dlopen --------*- C++ -*-===//
//
// GPU artifacts and the GPU benchmark load PTX through the CUDA driver API.
// libcuda.so.1 is opened at run time (LOWBIT_CUDA_DRIVER names another
// library), so nothing here needs the CUDA toolkit to build, and a machine
// without an NVIDIA driver gets one clear error instead of a link failure.
// The few driver types are declared here, not taken from cuda.h.
//
// Every failure is a Status whose message names the driver call and the
// driver's own text for the error.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_RUNTIME_GPU_CUDADRIVER_H
#define LOWBIT_RUNTIME_GPU_CUDADRIVER_H

#include "lowbit/Runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace lowbit {
namespace rt {
namespace cuda {

// The driver ABI, as cuda.h declares it (64-bit hosts).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = uint64_t;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;

} // namespace cuda

/// The loaded driver library and the entry points lowbit uses. One instance
/// per library path lives for the whole process.
class CudaDriver {
public:
  /// Loads the driver: $LOWBIT_CUDA_DRIVER if set, else libcuda.so.1. A
  /// failure says "no CUDA driver: ..." and is not remembered, so a later
  /// call (with another LOWBIT_CUDA_DRIVER) tries again.
  static StatusOr<CudaDriver *> open();

  /// The library open() loads: $LOWBIT_CUDA_DRIVER or libcuda.so.1.
  static std::string libraryPath();

  /// Success for CUDA_SUCCESS; otherwise "CALL: TEXT (NAME)" with the
  /// driver's description and name of the error.
  Status check(cuda::CUresult result, const char *call) const;

  const std::string &path() const { return libPath; }

  CudaDriver(const CudaDriver &) = delete;
  CudaDriver &operator=(const CudaDriver &) = delete;

  // Entry points, named as the driver exports them (without the _v2).
  cuda::CUresult (*cuInit)(unsigned flags) = nullptr;
  cuda::CUresult (*cuDriverGetVersion)(int *version) = nullptr;
  cuda::CUresult (*cuGetErrorString)(cuda::CUresult, const char **text) = nullptr;
  cuda::CUresult (*cuGetErrorName)(cuda::CUresult, const char **name) = nullptr;
  cuda::CUresult (*cuDeviceGetCount)(int *count) = nullptr;
  cuda::CUresult (*cuDeviceGet)(cuda::CUdevice *device, int ordinal) = nullptr;
  cuda::CUresult (*cuDeviceGetName)(char *name, int length, cuda::CUdevice) = nullptr;
  cuda::CUresult (*cuDeviceGetAttribute)(int *value, int attribute, cuda::CUdevice) = nullptr;
  cuda::CUresult (*cuDeviceTotalMem)(size_t *bytes, cuda::CUdevice) = nullptr;
  cuda::CUresult (*cuDevicePrimaryCtxRetain)(cuda::CUcontext *, cuda::CUdevice) = nullptr;
  cuda::CUresult (*cuDevicePrimaryCtxRelease)(cuda::CUdevice) = nullptr;
  cuda::CUresult (*cuCtxSetCurrent)(cuda::CUcontext) = nullptr;
  cuda::CUresult (*cuCtxSynchronize)() = nullptr;
  cuda::CUresult (*cuMemAlloc)(cuda::CUdeviceptr *, size_t bytes) = nullptr;
  cuda::CUresult (*cuMemFree)(cuda::CUdeviceptr) = nullptr;
  cuda::CUresult (*cuMemcpyHtoD)(cuda::CUdeviceptr dst, const void *src, size_t bytes) = nullptr;
  cuda::CUresult (*cuMemcpyDtoH)(void *dst, cuda::CUdeviceptr src, size_t bytes) = nullptr;
  cuda::CUresult (*cuMemcpyDtoD)(cuda::CUdeviceptr dst, cuda::CUdeviceptr src,
                                 size_t bytes) = nullptr;
  cuda::CUresult (*cuMemsetD8)(cuda::CUdeviceptr dst, unsigned char value, size_t n) = nullptr;
  cuda::CUresult (*cuModuleLoadDataEx)(cuda::CUmodule *, const void *image, unsigned numOptions,
                                       int *options, void **optionValues) = nullptr;
  cuda::CUresult (*cuModuleUnload)(cuda::CUmodule) = nullptr;
  cuda::CUresult (*cuModuleGetFunction)(cuda::CUfunction *, cuda::CUmodule,
                                        const char *name) = nullptr;
  cuda::CUresult (*cuLaunchKernel)(cuda::CUfunction, unsigned gridX, unsigned gridY, unsigned gridZ,
                                   unsigned blockX, unsigned blockY, unsigned blockZ,
                                   unsigned sharedBytes, cuda::CUstream, void **params,
                                   void **extra) = nullptr;
  cuda::CUresult (*cuEventCreate)(cuda::CUevent *, unsigned flags) = nullptr;
  cuda::CUresult (*cuEventDestroy)(cuda::CUevent) = nullptr;
  cuda::CUresult (*cuEventRecord)(cuda::CUevent, cuda::CUstream) = nullptr;
  cuda::CUresult (*cuEventSynchronize)(cuda::CUevent) = nullptr;
  cuda::CUresult (*cuEventElapsedTime)(float *ms, cuda::CUevent start, cuda::CUevent end) = nullptr;
  // Streams and graphs: optional (null where the driver predates them, and
  // the calls that need them say so).
  cuda::CUresult (*cuStreamCreate)(cuda::CUstream *, unsigned flags) = nullptr;
  cuda::CUresult (*cuStreamDestroy)(cuda::CUstream) = nullptr;
  cuda::CUresult (*cuStreamBeginCapture)(cuda::CUstream, int mode) = nullptr;
  cuda::CUresult (*cuStreamEndCapture)(cuda::CUstream, cuda::CUgraph *) = nullptr;
  cuda::CUresult (*cuGraphInstantiateWithFlags)(cuda::CUgraphExec *, cuda::CUgraph,
                                                unsigned long long flags) = nullptr;
  cuda::CUresult (*cuGraphLaunch)(cuda::CUgraphExec, cuda::CUstream) = nullptr;
  cuda::CUresult (*cuGraphExecDestroy)(cuda::CUgraphExec) = nullptr;
  cuda::CUresult (*cuGraphDestroy)(cuda::CUgraph) = nullptr;

private:
  CudaDriver() = default;
  static StatusOr<CudaDriver *> load(const std::string &path);

  void *handle = nullptr;
  std::string libPath;
};

/// Device memory, freed when the buffer goes. Buffers must go before the
/// CudaDevice they came from.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer &&other) noexcept { *this = std::move(other); }
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() { reset(); }

  cuda::CUdeviceptr ptr() const { return devPtr; }
  size_t size() const { return bytes; }
  void reset();

private:
  friend class CudaDevice;
  const CudaDriver *driver = nullptr;
  cuda::CUdeviceptr devPtr = 0;
  size_t bytes = 0;
};

/// A loaded PTX module; its functions live as long as it does.
class CudaModule {
public:
  CudaModule() = default;
  CudaModule(CudaModule &&other) noexcept { *this = std::move(other); }
  CudaModule &operator=(CudaModule &&other) noexcept;
  CudaModule(const CudaModule &) = delete;
  CudaModule &operator=(const CudaModule &) = delete;
  ~CudaModule() { reset(); }

  /// The kernel NAME, or "kernel NAME: ..." when the module has none.
  StatusOr<cuda::CUfunction> function(const std::string &name) const;
  void reset();

private:
  friend class CudaDevice;
  const CudaDriver *driver = nullptr;
  cuda::CUmodule module = nullptr;
};

/// A timing event.
class CudaEvent {
public:
  CudaEvent() = default;
  CudaEvent(CudaEvent &&other) noexcept { *this = std::move(other); }
  CudaEvent &operator=(CudaEvent &&other) noexcept;
  CudaEvent(const CudaEvent &) = delete;
  CudaEvent &operator=(const CudaEvent &) = delete;
  ~CudaEvent() { reset(); }

  cuda::CUevent get() const { return event; }
  void reset();

private:
  friend class CudaDevice;
  const CudaDriver *driver = nullptr;
  cuda::CUevent event = nullptr;
};

/// A stream of its own (blocking: it orders with the default stream) that
/// work can be captured from into a graph.
class CudaStream {
public:
  CudaStream() = default;
  CudaStream(CudaStream &&other) noexcept { *this = std::move(other); }
  CudaStream &operator=(CudaStream &&other) noexcept;
  CudaStream(const CudaStream &) = delete;
  CudaStream &operator=(const CudaStream &) = delete;
  ~CudaStream() { reset(); }

  cuda::CUstream get() const { return stream; }
  void reset();

private:
  friend class CudaDevice;
  const CudaDriver *driver = nullptr;
  cuda::CUstream stream = nullptr;
};

/// An instantiated graph: a captured sequence of launches, replayed with
/// one call (a decode step's hundreds of kernels without their launch cost).
class CudaGraph {
public:
  CudaGraph() = default;
  CudaGraph(CudaGraph &&other) noexcept { *this = std::move(other); }
  CudaGraph &operator=(CudaGraph &&other) noexcept;
  CudaGraph(const CudaGraph &) = delete;
  CudaGraph &operator=(const CudaGraph &) = delete;
  ~CudaGraph() { reset(); }

  void reset();

private:
  friend class CudaDevice;
  const CudaDriver *driver = nullptr;
  cuda::CUgraph graph = nullptr;
  cuda::CUgraphExec exec = nullptr;
};

/// One GPU and its primary context, current on the thread that opened it.
/// The primary context is the one the CUDA runtime (and so cuBLAS) uses, so
/// libraries built on the runtime share memory and streams with it. All
/// work goes to the default stream.
class CudaDevice {
public:
  struct Capability {
    int major = 0, minor = 0;
    int number() const { return major * 10 + minor; } // 90 for sm_90
  };

  /// The number of devices; 0 when the driver is present but sees no GPU.
  static StatusOr<int> count(CudaDriver &driver);

  /// Device `ordinal` ("cuda:ORDINAL: no such device (N devices)").
  static StatusOr<CudaDevice> open(int ordinal);

  CudaDevice(CudaDevice &&other) noexcept { *this = std::move(other); }
  CudaDevice &operator=(CudaDevice &&other) noexcept;
  CudaDevice(const CudaDevice &) = delete;
  CudaDevice &operator=(const CudaDevice &) = delete;
  ~CudaDevice();

  const CudaDriver &driver() const { return *drv; }
  int ordinal() const { return ord; }
  const std::string &name() const { return deviceName; }
  Capability computeCapability() const { return capability; }
  size_t totalMemory() const { return memoryBytes; }
  /// cuDeviceGetAttribute; -1 when the driver does not know the attribute.
  int attribute(int attr) const;

  /// Makes this device's context current on the calling thread.
  Status makeCurrent() const;

  StatusOr<DeviceBuffer> alloc(size_t bytes) const;
  Status upload(const DeviceBuffer &dst, const void *src, size_t bytes) const;
  Status download(void *dst, const DeviceBuffer &src, size_t bytes) const;
  Status copy(const DeviceBuffer &dst, const DeviceBuffer &src, size_t bytes) const;
  Status memset(const DeviceBuffer &dst, unsigned char value, size_t bytes) const;

  /// JIT-compiles a NUL-terminated PTX module; a rejected one fails with
  /// the JIT's error log in the message.
  StatusOr<CudaModule> loadPtx(const std::string &ptx) const;
  /// The same for any image the driver loads: NUL-terminated PTX, a cubin
  /// or a fatbinary.
  StatusOr<CudaModule> loadImage(const void *image) const;

  /// Launches `fn` on `stream` (null: the default stream). `args` points at
  /// each parameter's value, in order (for a pointer parameter, at a
  /// CUdeviceptr).
  Status launch(cuda::CUfunction fn, const unsigned grid[3], const unsigned block[3],
                unsigned sharedBytes, void **args, cuda::CUstream stream = nullptr) const;

  StatusOr<CudaStream> createStream() const;
  /// Captures what `work` enqueues on `stream` (it must enqueue nothing
  /// elsewhere) into a graph, and instantiates it.
  StatusOr<CudaGraph> capture(const CudaStream &stream,
                              const std::function<Status()> &work) const;
  /// Replays `graph` on `stream`.
  Status launch(const CudaGraph &graph, const CudaStream &stream) const;

  Status synchronize() const;

  StatusOr<CudaEvent> createEvent() const;
  /// Records `event` on the default stream.
  Status record(const CudaEvent &event) const;
  /// Milliseconds from `start` to `end`, waiting for `end`.
  StatusOr<float> elapsedMs(const CudaEvent &start, const CudaEvent &end) const;

private:
  CudaDevice() = default;

  CudaDriver *drv = nullptr;
  int ord = -1;
  cuda::CUdevice device = 0;
  cuda::CUcontext context = nullptr;
  std::string deviceName;
  Capability capability;
  size_t memoryBytes = 0;
};

} // namespace rt
} // namespace lowbit

#endif // LOWBIT_RUNTIME_GPU_CUDADRIVER_H
