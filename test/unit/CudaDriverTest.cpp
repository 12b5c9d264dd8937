//===- CudaDriverTest.cpp - The dlopen'ed CUDA driver ---------------------===//
//
// A missing or wrong driver library is an error naming it, never a crash;
// with a driver and a GPU, a buffer goes to the device and comes back.
//
//===----------------------------------------------------------------------===//
#include "gpu/CudaDriver.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

using namespace lowbit::rt;

namespace {

/// Sets LOWBIT_CUDA_DRIVER for one test and restores it after.
class ScopedDriverPath {
public:
  explicit ScopedDriverPath(const char *path) {
    const char *old = std::getenv("LOWBIT_CUDA_DRIVER");
    hadOld = old != nullptr;
    if (old)
      saved = old;
    setenv("LOWBIT_CUDA_DRIVER", path, 1);
  }
  ~ScopedDriverPath() {
    if (hadOld)
      setenv("LOWBIT_CUDA_DRIVER", saved.c_str(), 1);
    else
      unsetenv("LOWBIT_CUDA_DRIVER");
  }

private:
  std::string saved;
  bool hadOld = false;
};

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST(CudaDriver, MissingLibraryIsAClearError) {
  const char *path = "/nonexistent/libcuda.so.1";
  ScopedDriverPath env(path);
  EXPECT_EQ(CudaDriver::libraryPath(), path);
  StatusOr<CudaDriver *> driver = CudaDriver::open();
  ASSERT_FALSE(driver.ok());
  const std::string &msg = driver.status().message();
  EXPECT_TRUE(contains(msg, "no CUDA driver")) << msg;
  EXPECT_TRUE(contains(msg, path)) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;

  StatusOr<CudaDevice> device = CudaDevice::open(0);
  ASSERT_FALSE(device.ok());
  EXPECT_TRUE(contains(device.status().message(), path)) << device.status().message();
}

TEST(CudaDriver, LibraryWithoutTheDriverApiIsAClearError) {
  // libm loads everywhere and exports no cu* function.
  ScopedDriverPath env("libm.so.6");
  StatusOr<CudaDriver *> driver = CudaDriver::open();
  ASSERT_FALSE(driver.ok());
  const std::string &msg = driver.status().message();
  EXPECT_TRUE(contains(msg, "libm.so.6 has no cuInit")) << msg;
}

TEST(CudaDriver, DeviceRoundTrip) {
  StatusOr<CudaDriver *> driver = CudaDriver::open();
  if (!driver.ok()) {
    std::string why = driver.status().message();
    const std::string prefix = "no CUDA driver: ";
    if (why.compare(0, prefix.size(), prefix) == 0)
      why.erase(0, prefix.size());
    GTEST_SKIP() << "no CUDA driver/GPU: " << why;
  }
  StatusOr<int> count = CudaDevice::count(**driver);
  ASSERT_TRUE(count.ok()) << count.status().message();
  if (*count == 0)
    GTEST_SKIP() << "no CUDA driver/GPU: " << (*driver)->path() << " sees no device";

  StatusOr<CudaDevice> opened = CudaDevice::open(0);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  CudaDevice device = opened.take();
  EXPECT_FALSE(device.name().empty());
  EXPECT_GE(device.computeCapability().major, 3);

  StatusOr<CudaDevice> missing = CudaDevice::open(*count);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(
      contains(missing.status().message(), "cuda:" + std::to_string(*count) + ": no such device"))
      << missing.status().message();

  std::vector<uint32_t> host(1 << 16);
  for (size_t i = 0; i < host.size(); ++i)
    host[i] = uint32_t(i * 2654435761u);
  size_t bytes = host.size() * sizeof(uint32_t);
  StatusOr<DeviceBuffer> a = device.alloc(bytes), b = device.alloc(bytes);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  ASSERT_TRUE(device.upload(*a, host.data(), bytes).ok());
  ASSERT_TRUE(device.copy(*b, *a, bytes).ok());
  std::vector<uint32_t> back(host.size(), 0);
  Status s = device.download(back.data(), *b, bytes);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, host);

  ASSERT_TRUE(device.memset(*b, 0xab, bytes).ok());
  ASSERT_TRUE(device.download(back.data(), *b, bytes).ok());
  EXPECT_EQ(back[0], 0xababababu);
  EXPECT_FALSE(device.upload(*a, host.data(), bytes + 1).ok());

  // A module that is not PTX fails with the JIT's message, not a crash.
  StatusOr<CudaModule> bad = device.loadPtx("this is not ptx");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.status().message(), "cuModuleLoadDataEx")) << bad.status().message();

  // The smallest kernel: out[i] = i for one block of 32 threads.
  const char *ptx = R"(.version 7.0
.target sm_52
.address_size 64
.visible .entry iota(.param .u64 out) {
  .reg .b32 %r<2>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [out];
  cvta.to.global.u64 %rd2, %rd1;
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd2, %rd2, %rd3;
  st.global.u32 [%rd2], %r1;
  ret;
}
)";
  StatusOr<CudaModule> module = device.loadPtx(ptx);
  ASSERT_TRUE(module.ok()) << module.status().message();
  StatusOr<lowbit::rt::cuda::CUfunction> fn = module->function("iota");
  ASSERT_TRUE(fn.ok()) << fn.status().message();
  EXPECT_FALSE(module->function("no_such_kernel").ok());
  lowbit::rt::cuda::CUdeviceptr out = b->ptr();
  void *args[] = {&out};
  unsigned grid[3] = {1, 1, 1}, block[3] = {32, 1, 1};
  StatusOr<CudaEvent> start = device.createEvent(), end = device.createEvent();
  ASSERT_TRUE(start.ok() && end.ok());
  ASSERT_TRUE(device.record(*start).ok());
  s = device.launch(*fn, grid, block, 0, args);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(device.record(*end).ok());
  StatusOr<float> ms = device.elapsedMs(*start, *end);
  ASSERT_TRUE(ms.ok()) << ms.status().message();
  EXPECT_GE(*ms, 0.0f);
  ASSERT_TRUE(device.synchronize().ok());
  ASSERT_TRUE(device.download(back.data(), *b, 32 * sizeof(uint32_t)).ok());
  for (uint32_t i = 0; i < 32; ++i)
    EXPECT_EQ(back[i], i);
}
