//===- GpuLayouts.h - Weight layouts of the GPU kernels ---------*- C++ -*-===//
//
// The byte layouts the generated GPU kernels read (docs/gpu.md). Plain C++
// shared by the compiler, which packs weights into them, and by the runtime
// and the benchmarks, which check them; no MLIR/LLVM.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_RUNTIME_GPULAYOUTS_H
#define LOWBIT_RUNTIME_GPULAYOUTS_H

#include <cstdint>

namespace lowbit {

/// Rows of one tile of the tensor-core layout (the m of mma.m16n8k16).
inline constexpr int64_t kGpuMmaTileRows = 16;
/// Bytes of one tile × one block of 32 values.
inline constexpr int64_t kGpuMmaTileBytes = kGpuMmaTileRows * 16;

/// The code bytes of q4g128 in the tensor-core kernel's order. `rowMajor` is
/// the decode layout's codes (n rows of k/2 bytes; in each 16-byte block
/// byte j holds value j low and value j + 16 high). The output holds, per
/// tile of 16 rows and per block of 32 values, 256 bytes: lane L of the warp
/// (g = L / 4, t = L % 4) finds 8 bytes at L·8, row g's bytes 2t, 2t + 8,
/// 2t + 1, 2t + 9 of the block, then row g + 8's. So one 32-bit word
/// shifted by 0, 8, 4 and 12 and masked with 0x000F000F gives the f16x2
/// halves of mma's A fragment for both 16-value halves of the block.
/// n must be a multiple of 16 and k of 32.
inline void packQ4G128ForMma(const uint8_t *rowMajor, int64_t n, int64_t k, uint8_t *out) {
  const int64_t blocks = k / 32;
  static constexpr int kOrder[4] = {0, 8, 1, 9};
  for (int64_t tile = 0; tile < n / kGpuMmaTileRows; ++tile)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      uint8_t *dst = out + (tile * blocks + blk) * kGpuMmaTileBytes;
      for (int lane = 0; lane < 32; ++lane) {
        int g = lane / 4, t = lane % 4;
        for (int half = 0; half < 2; ++half) {
          int64_t r = tile * kGpuMmaTileRows + g + 8 * half;
          const uint8_t *row = rowMajor + r * (k / 2) + blk * 16;
          for (int i = 0; i < 4; ++i)
            dst[lane * 8 + half * 4 + i] = row[2 * t + kOrder[i]];
        }
      }
    }
}

} // namespace lowbit

#endif // LOWBIT_RUNTIME_GPULAYOUTS_H
