//===- GpuElementwiseKernels.cpp - swiglu, add, permute on the GPU --------===//
//
// Value by value over B rows of K f32 (docs/gpu.md), in the CPU kernels'
// order of operations (ModelKernels.cpp, swiglu_K, add_K and
// permute_columns_K):
// - swiglu: out = gate / (1 + e^(−gate)) · up, e^x by GpuEmitter::exp;
// - add: out = a + c (the residual stream);
// - permute: out[j] = x[order[j]], the columns of an act-order linear's
//   input in the order its packed weight holds them.
// swiglu and add: one thread per chunk of 4 values (16-byte loads and
// store); permute: one thread per value (its loads are gathers).
//
//===----------------------------------------------------------------------===//
#include "GpuEmitter.h"

#include <functional>
#include <string>

using namespace mlir;

namespace lowbit {

namespace {
constexpr int64_t kThreads = 256;

/// A kernel (x, y, out) computing out = f(x, y) per value.
GpuKernelLaunch emitElementwise(gpu::GPUModuleOp module, const GpuKernelSpec &spec,
                                const std::function<Value(GpuEmitter &, Value, Value)> &f) {
  // K is a multiple of 32: the rows have no padding and the chunks of all
  // rows follow one another.
  const int64_t chunks = spec.batch * spec.k / 4;
  GpuKernelLaunch launch = gpuItemLaunch(spec, chunks, kThreads);

  GpuEmitter e(module, launch.name, 3, int32_t(kThreads));
  Value x = e.arg(0), y = e.arg(1), out = e.arg(2);
  VectorType v4f32 = VectorType::get({4}, e.f32());

  e.forEachItem(chunks, kThreads, [&](Value chunk) {
    Value off = e.mul(chunk, 16);
    Value xv = e.load(v4f32, x, off, 16), yv = e.load(v4f32, y, off, 16);
    SmallVector<Value, 4> results;
    for (int64_t j = 0; j < 4; ++j) {
      // Named first: argument order is unspecified, the IR's order is not.
      Value xj = e.element(xv, j), yj = e.element(yv, j);
      results.push_back(f(e, xj, yj));
    }
    e.store(e.vector(results), out, off, 16);
  });
  return launch;
}
} // namespace

GpuKernelLaunch emitGpuSwiglu(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  return emitElementwise(module, spec, [](GpuEmitter &e, Value gate, Value up) -> Value {
    OpBuilder &b = e.b;
    Value ex = e.exp(arith::NegFOp::create(b, e.loc, gate));
    Value silu =
        arith::DivFOp::create(b, e.loc, gate, arith::AddFOp::create(b, e.loc, e.f32c(1.0f), ex));
    return arith::MulFOp::create(b, e.loc, silu, up);
  });
}

GpuKernelLaunch emitGpuAdd(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  return emitElementwise(module, spec, [](GpuEmitter &e, Value a, Value c) -> Value {
    return arith::AddFOp::create(e.b, e.loc, a, c);
  });
}

GpuKernelLaunch emitGpuPermuteColumns(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t k = spec.k, values = spec.batch * k;
  GpuKernelLaunch launch = gpuItemLaunch(spec, values, kThreads);

  GpuEmitter e(module, launch.name, 3, int32_t(kThreads));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value x = e.arg(0), order = e.arg(1), out = e.arg(2);
  e.forEachItem(values, kThreads, [&](Value item) {
    Value token = arith::DivUIOp::create(b, loc, item, e.i64c(k));
    Value column = arith::RemUIOp::create(b, loc, item, e.i64c(k));
    // The order holds each column once, all below K (checked at compile time).
    Value from = arith::ExtUIOp::create(b, loc, e.i64(),
                                        e.load(e.i32(), order, e.mul(column, 4), 4));
    Value value = e.load(e.f32(), x, e.mul(e.add(e.mul(token, k), from), 4), 4);
    e.store(value, out, e.mul(item, 4), 4);
  });
  return launch;
}

} // namespace lowbit
