//===- GpuKvStoreKernel.cpp - Keys and values into the f16 KV cache -------===//
//
// Writes each token's key and value rows, rounded to f16, at its position of
// the cache the attention kernels read (docs/gpu.md): the rounding the CPU's
// kv_store applies (to nearest, ties to even), stored as f16 rather than
// widened back, so the cache takes half the bytes. One thread per 4 values
// of both rows: two 16-byte loads, two 8-byte stores.
//
//===----------------------------------------------------------------------===//
#include "GpuEmitter.h"

#include "lowbit/Codegen/Kernels.h"

#include <string>

using namespace mlir;

namespace lowbit {

namespace {
constexpr int64_t kThreads = 256;
} // namespace

GpuKernelLaunch emitGpuKvStore(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t width = spec.k, chunksPerRow = width / 4, total = spec.batch * chunksPerRow;
  GpuKernelLaunch launch = gpuItemLaunch(spec, total, kThreads);

  GpuEmitter e(module, launch.name, 5, int32_t(kThreads));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value keys = e.arg(0), values = e.arg(1), positions = e.arg(2), keyCache = e.arg(3),
        valueCache = e.arg(4);
  VectorType v4f32 = VectorType::get({4}, e.f32()), v4f16 = VectorType::get({4}, b.getF16Type());

  e.forEachItem(total, kThreads, [&](Value item) {
    Value token = arith::DivUIOp::create(b, loc, item, e.i64c(chunksPerRow));
    Value chunk = arith::RemUIOp::create(b, loc, item, e.i64c(chunksPerRow));
    // A position outside the cache writes its last row rather than other
    // memory; the runtime refuses such positions before they get here.
    Value position = arith::ExtUIOp::create(b, loc, e.i64(),
                                            e.load(e.i32(), positions, e.mul(token, 4), 4));
    position = arith::MinUIOp::create(b, loc, position, e.i64c(spec.context - 1));
    Value src = e.add(e.mul(token, activationRowBytes(width)), e.mul(chunk, 16));
    Value dst = e.add(e.mul(position, width * 2), e.mul(chunk, 8));
    for (auto [from, to] : {std::pair{keys, keyCache}, std::pair{values, valueCache}}) {
      Value row = e.load(v4f32, from, src, 16);
      e.store(arith::TruncFOp::create(b, loc, v4f16, row), to, dst, 8);
    }
  });
  return launch;
}

} // namespace lowbit
