//===- GpuSwigluKernel.cpp - silu(gate)·up on the GPU ---------------------===//
//
// out = gate / (1 + exp(−gate)) · up per value (docs/gpu.md), in the CPU
// kernel's order of operations (ModelKernels.cpp, swiglu_K), e^x by
// GpuEmitter::exp. One thread per chunk of 4 values (16-byte loads and
// store).
//
//===----------------------------------------------------------------------===//
#include "GpuEmitter.h"

#include <string>

using namespace mlir;

namespace lowbit {

namespace {
constexpr int64_t kThreads = 256;
} // namespace

GpuKernelLaunch emitGpuSwiglu(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  // K is a multiple of 32: the rows have no padding and the chunks of all
  // rows follow one another.
  const int64_t chunks = spec.batch * spec.k / 4;
  GpuKernelLaunch launch;
  launch.spec = spec;
  launch.name = gpuKernelName(spec);
  launch.block = {kThreads, 1, 1};
  launch.grid = {(chunks + kThreads - 1) / kThreads, 1, 1};

  GpuEmitter e(module, launch.name, 3, int32_t(kThreads));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value gate = e.arg(0), up = e.arg(1), out = e.arg(2);
  VectorType v4f32 = VectorType::get({4}, e.f32());

  Value chunk = e.add(e.mul(e.blockIndex(), kThreads), e.threadIndex());
  auto body = [&] {
    Value off = e.mul(chunk, 16);
    Value g = e.load(v4f32, gate, off, 16), u = e.load(v4f32, up, off, 16);
    SmallVector<Value, 4> ys;
    for (int64_t j = 0; j < 4; ++j) {
      Value gj = e.element(g, j);
      Value ex = e.exp(arith::NegFOp::create(b, loc, gj));
      Value silu =
          arith::DivFOp::create(b, loc, gj, arith::AddFOp::create(b, loc, e.f32c(1.0f), ex));
      ys.push_back(arith::MulFOp::create(b, loc, silu, e.element(u, j)));
    }
    e.store(e.vector(ys), out, off, 16);
  };
  if (chunks % kThreads)
    e.when(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, chunk, e.i64c(chunks)),
           body);
  else
    body();
  return launch;
}

} // namespace lowbit
