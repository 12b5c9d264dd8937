//===- GpuEmbeddingKernel.cpp - Token embedding lookup on the GPU ---------===//
//
// out[t] = row tokens[t] of the table (docs/gpu.md), in the layout a linear
// reads, so a model whose embedding and lm_head share one matrix keeps one
// copy of it:
// - an integer format: each value is s·q + m (s·q without an offset), a
//   product then a sum as the CPU's embedding kernel computes it
//   (LinearKernels.cpp). One thread per block of 32 values: one or two
//   16-byte loads of codes, the block's parameters, eight 16-byte stores;
// - f16, each value widened to f32 (exactly). One thread per 8 values: one
//   16-byte load, two 16-byte stores.
// An id outside the table reads its last row rather than other memory; the
// runtime refuses such ids before they get here.
//
//===----------------------------------------------------------------------===//
#include "GpuBlockFormats.h"

#include "lowbit/Codegen/Kernels.h"

#include <string>

using namespace mlir;

namespace lowbit {

namespace {
constexpr int64_t kThreads = 128;

/// The table row of token `token`'s id: ids are read unsigned, so a negative
/// one is as far past the table as any id at or past `rows`.
Value tableRow(GpuEmitter &e, Value tokens, Value token, int64_t rows) {
  Value id = arith::ExtUIOp::create(e.b, e.loc, e.i64(),
                                    e.load(e.i32(), tokens, e.mul(token, 4), 4));
  return arith::MinUIOp::create(e.b, e.loc, id, e.i64c(rows - 1));
}
} // namespace

GpuKernelLaunch emitGpuEmbeddingInt(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t rows = spec.n, k = spec.k, blocksPerRow = k / 32;
  const int64_t total = spec.batch * blocksPerRow;
  GpuKernelLaunch launch = gpuItemLaunch(spec, total, kThreads);

  GpuEmitter e(module, launch.name, 3, int32_t(kThreads));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value tokens = e.arg(0), table = e.arg(1), out = e.arg(2);
  const GpuBlockLayout layout(spec.format, rows, k);
  VectorType v16i8 = VectorType::get({16}, b.getI8Type());

  e.forEachItem(total, kThreads, [&](Value item) {
    Value token = arith::DivUIOp::create(b, loc, item, e.i64c(blocksPerRow));
    Value block = arith::RemUIOp::create(b, loc, item, e.i64c(blocksPerRow));
    Value row = tableRow(e, tokens, token, rows);
    SmallVector<Value, 2> codes;
    for (Value words : layout.loadCodes(e, table, row, block))
      codes.push_back(LLVM::BitcastOp::create(b, loc, v16i8, words));
    GpuBlockLayout::Params p = layout.decode(e, layout.loadParams(e, table, row, block));
    SmallVector<Value> values(32);
    auto put = [&](int64_t i, Value q) {
      Value v = arith::MulFOp::create(b, loc, q, i < 16 ? p.scale0 : p.scale1);
      Value offset = i >= 16 && p.offset1 ? p.offset1 : p.offset;
      values[size_t(i)] = offset ? arith::AddFOp::create(b, loc, v, offset).getResult() : v;
    };
    if (layout.wideCodes()) {
      // Value i: byte i.
      for (int64_t i = 0; i < 32; ++i) {
        Value byte = e.element(codes[i / 16], i % 16);
        put(i, layout.signedCodes()
                   ? arith::SIToFPOp::create(b, loc, e.f32(), byte).getResult()
                   : arith::UIToFPOp::create(b, loc, e.f32(), byte).getResult());
      }
    } else {
      // Byte j: value j in its low nibble, value 16 + j in its high one.
      for (int64_t j = 0; j < 16; ++j) {
        Value byte = arith::ExtUIOp::create(b, loc, e.i32(), e.element(codes[0], j));
        Value lo = arith::AndIOp::create(b, loc, byte, e.i32c(15));
        Value hi = arith::ShRUIOp::create(b, loc, byte, e.i32c(4));
        put(j, arith::UIToFPOp::create(b, loc, e.f32(), lo));
        put(16 + j, arith::UIToFPOp::create(b, loc, e.f32(), hi));
      }
    }
    Value dst = e.add(e.mul(token, activationRowBytes(k)), e.mul(block, 128));
    for (int64_t c = 0; c < 8; ++c)
      e.store(e.vector(ArrayRef<Value>(values).slice(size_t(c * 4), 4)), out,
              e.add(dst, c * 16), 16);
  });
  return launch;
}

GpuKernelLaunch emitGpuEmbeddingF16(gpu::GPUModuleOp module, const GpuKernelSpec &spec) {
  const int64_t rows = spec.n, k = spec.k, chunksPerRow = k / 8;
  const int64_t total = spec.batch * chunksPerRow;
  GpuKernelLaunch launch = gpuItemLaunch(spec, total, kThreads);

  GpuEmitter e(module, launch.name, 3, int32_t(kThreads));
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value tokens = e.arg(0), table = e.arg(1), out = e.arg(2);
  VectorType v8f16 = VectorType::get({8}, b.getF16Type());
  VectorType v8f32 = VectorType::get({8}, e.f32());

  e.forEachItem(total, kThreads, [&](Value item) {
    Value token = arith::DivUIOp::create(b, loc, item, e.i64c(chunksPerRow));
    Value chunk = arith::RemUIOp::create(b, loc, item, e.i64c(chunksPerRow));
    Value row = tableRow(e, tokens, token, rows);
    Value halves = e.load(v8f16, table, e.add(e.mul(row, k * 2), e.mul(chunk, 16)), 16);
    Value values = arith::ExtFOp::create(b, loc, v8f32, halves);
    Value dst = e.add(e.mul(token, activationRowBytes(k)), e.mul(chunk, 32));
    for (int64_t c = 0; c < 2; ++c) {
      SmallVector<Value, 4> quad;
      for (int64_t j = 0; j < 4; ++j)
        quad.push_back(e.element(values, c * 4 + j));
      e.store(e.vector(quad), out, e.add(dst, c * 16), 16);
    }
  });
  return launch;
}

} // namespace lowbit
