//===- GpuEmitter.h - Building blocks of generated GPU kernels --*- C++ -*-===//
//
// A thin layer over OpBuilder for gpu.func kernels: global (addrspace 1)
// pointer arithmetic and aligned loads through the llvm dialect, i64 scf.for
// loops, thread and block indices, warp shuffles and NVVM intrinsics.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_GPU_GPUEMITTER_H
#define LOWBIT_CODEGEN_GPU_GPUEMITTER_H

#include "lowbit/Codegen/GpuKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

#include <functional>

namespace lowbit {

/// The threads of a warp.
inline constexpr int64_t kWarpSize = 32;

class GpuEmitter {
public:
  /// Starts kernel `name` with `pointerArgs` global pointer arguments, run
  /// by blocks of `blockSize` threads, at the end of `module`.
  GpuEmitter(mlir::gpu::GPUModuleOp module, llvm::StringRef name, int pointerArgs,
             int32_t blockSize);
  ~GpuEmitter();

  mlir::OpBuilder b;
  mlir::Location loc;

  mlir::Type f32() { return b.getF32Type(); }
  mlir::Type i32() { return b.getI32Type(); }
  mlir::Type i64() { return b.getI64Type(); }
  mlir::Type f64() { return b.getF64Type(); }
  mlir::Type globalPtr();

  mlir::Value arg(int i);
  mlir::Value i64c(int64_t v);
  mlir::Value i32c(int32_t v);
  mlir::Value f32c(float v);
  mlir::Value f64c(double v);

  /// threadIdx.x, blockIdx.x as i64.
  mlir::Value threadIndex();
  mlir::Value blockIndex();

  mlir::Value offset(mlir::Value ptr, mlir::Value bytes);
  /// Loads and stores at ptr + bytes; `align` is what the ABI guarantees.
  mlir::Value load(mlir::Type t, mlir::Value ptr, mlir::Value bytes, unsigned align);
  void store(mlir::Value v, mlir::Value ptr, mlir::Value bytes, unsigned align);

  mlir::Value add(mlir::Value a, mlir::Value c);
  mlir::Value add(mlir::Value a, int64_t c) { return add(a, i64c(c)); }
  mlir::Value mul(mlir::Value a, mlir::Value c);
  mlir::Value mul(mlir::Value a, int64_t c) { return mul(a, i64c(c)); }
  /// Element i of an llvm vector value.
  mlir::Value element(mlir::Value vec, int64_t i);
  /// The vector of `elements` (all of one type), for one wide store.
  mlir::Value vector(mlir::ValueRange elements);

  /// for (i = lo; i < hi; i += step) with loop-carried values.
  mlir::ValueRange loop(mlir::Value lo, mlir::Value hi, int64_t step, mlir::ValueRange init,
                        const std::function<llvm::SmallVector<mlir::Value>(
                            mlir::Value, mlir::ValueRange)> &body);
  /// if (cond) { body }.
  void when(mlir::Value cond, const std::function<void()> &body);

  /// The value of lane `lane ^ mask` of the warp.
  mlir::Value shuffleXor(mlir::Value v, int32_t mask);
  mlir::Value call(llvm::StringRef intrinsic, mlir::Type result, mlir::ValueRange operands);
  /// e^x of f32 x, generated inline (no libdevice); NaN passes through.
  mlir::Value exp(mlir::Value x);
  /// body(item) for the flat thread index item = block·threads + thread
  /// below `total`, guarded only where the grid overshoots it.
  void forEachItem(int64_t total, int64_t threads, const std::function<void(mlir::Value)> &body);

private:
  mlir::gpu::GPUFuncOp func;
};

/// Warps per block of the decode linear: 128 threads leave room for 16
/// resident blocks per SM.
inline constexpr int64_t kGpuDecodeWarpsPerBlock = 4;

/// The launch of `spec`'s kernel: `blocks` blocks of `threads` threads.
GpuKernelLaunch gpuLaunch(const GpuKernelSpec &spec, int64_t blocks, int64_t threads);
/// The launch of a kernel of one thread per item (GpuEmitter::forEachItem).
inline GpuKernelLaunch gpuItemLaunch(const GpuKernelSpec &spec, int64_t total, int64_t threads) {
  return gpuLaunch(spec, (total + threads - 1) / threads, threads);
}

/// The bodies of the kernels (GpuLinearKernel.cpp and GpuBlockFormats.cpp, GpuQuantizeKernel.cpp,
/// GpuMmaLinearKernel.cpp, GpuRmsNormKernel.cpp, GpuElementwiseKernels.cpp,
/// GpuRopeKernel.cpp, GpuAttentionKernel.cpp, GpuKvStoreKernel.cpp,
/// GpuEmbeddingKernel.cpp).
/// The decode linear of every integer format (q4g128, q4g32, q4k, q8g32, q6k).
GpuKernelLaunch emitGpuLinearInt(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuLinearF16(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
/// Blocks of 32 (B32, Q8_0, Q8_1) and of 256 (Q8_K).
GpuKernelLaunch emitGpuQuantizeB32(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuQuantizeQ8K(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuMmaLinearQ4G128(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuInt8MmaLinear(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuRmsNorm(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuSwiglu(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuAdd(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuPermuteColumns(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuKvStore(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuEmbeddingInt(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuEmbeddingF16(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuRope(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuAttentionSplit(mlir::gpu::GPUModuleOp module, const GpuKernelSpec &spec);
GpuKernelLaunch emitGpuAttentionCombine(mlir::gpu::GPUModuleOp module,
                                        const GpuKernelSpec &spec);

/// Positions per block of the split attention kernel, and the splits of a
/// context (a multiple of kGpuAttentionSplit).
inline constexpr int64_t kGpuAttentionSplit = 256;
int64_t gpuAttentionSplits(const GpuKernelSpec &spec);
/// The longest context the attention kernels take, and the head sizes.
inline constexpr int64_t kGpuAttentionMaxContext = 1 << 20;

/// Tokens of the row kernels (rms_norm, swiglu, rope): as many as the
/// largest batch a linear takes.
inline constexpr int64_t kGpuMaxRowBatch = 64;
/// The widest rms_norm row: a block of at most 1024 threads holds the row
/// and the weight in registers, at most 4 chunks of 4 values per thread.
inline constexpr int64_t kGpuRmsNormMaxWidth = 1024 * 4 * 4;

/// Rows each block of a tensor-core linear owns (16, 32 or 64: one to four
/// mma tiles, which every warp of the block computes over its share of the
/// input width) and the number of those warps.
int64_t gpuMmaBlockRows(const GpuKernelSpec &spec);
int64_t gpuMmaWarpsPerBlock(const GpuKernelSpec &spec);

} // namespace lowbit

#endif // LOWBIT_CODEGEN_GPU_GPUEMITTER_H
