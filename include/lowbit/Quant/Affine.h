//===- Affine.h - Integer codes with per-group scale and zero ----*- C++ -*-===//
//
// The weight encoding of GPTQ, AWQ and RTN: each run of `groupSize` inputs of
// an output row shares a scale s and a zero point z, and w ≈ s · (q − z) with
// integer codes q in [0, 2^bits − 1]. Stored unpacked (one byte per code) in
// the weight store as three tensors: NAME (u8 [N, K]), NAME.scales and
// NAME.zeros (f32 [N, K / groupSize]); checkpoint exports pack them.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_AFFINE_H
#define LOWBIT_QUANT_AFFINE_H

#include "lowbit/Formats/TensorRef.h"

#include "llvm/Support/Error.h"

#include <vector>

namespace lowbit {

struct AffineScheme {
  int bits = 4;
  int64_t groupSize = 128; // -1: one group per row
  bool symmetric = false;
  /// Search shrunken ranges for the grid with the least Σ|q(w) − w|^2.4
  /// (the reference GPTQ quantizer's mse=True) instead of the full range.
  bool mseGrid = false;

  int64_t groupsPerRow(int64_t k) const { return groupSize < 0 ? 1 : k / groupSize; }
  int64_t groupWidth(int64_t k) const { return groupSize < 0 ? k : groupSize; }
};

struct AffineTensor {
  std::vector<uint8_t> codes;  // [N, K]
  std::vector<float> scales;   // [N, groups]
  std::vector<float> zeros;    // [N, groups], integer-valued
};

/// Round to nearest with the reference GPTQ quantizer's grid: asymmetric
/// groups span [min(w, 0), max(w, 0)] with zero = round(−min / s);
/// symmetric groups use max |w| and zero = (2^bits − 1 + 1) / 2. The scale
/// is rounded to fp16, as checkpoints store it, and the zero comes from the
/// rounded scale; scales below the fp16 normal range round up instead, so
/// the coarse subnormal steps never shrink the grid below the group's range
/// (and a scale is never 0). With scheme.mseGrid, ranges p·[lo, hi] for
/// p = 1, 0.99, …, 0.21 are tried and the one with the least Σ|q(w) − w|^2.4
/// wins.
void computeAffineGrid(const float *w, int64_t n, const AffineScheme &scheme,
                       float &scale, float &zero);
uint8_t affineCode(float w, float scale, float zero, int bits);

/// RTN of a row-major [rows, cols] matrix.
llvm::Expected<AffineTensor> quantizeAffineRtn(const float *w, int64_t rows,
                                               int64_t cols,
                                               const AffineScheme &scheme);

/// w = s · (q − z) for every element. Column c uses group c / groupSize,
/// or gIdx[c] when given (GPTQ act-order: groups in processing order).
void dequantizeAffine(const uint8_t *codes, const float *scales,
                      const float *zeros, int64_t rows, int64_t cols,
                      int64_t groupSize, float *out,
                      const int32_t *gIdx = nullptr);

} // namespace lowbit

#endif // LOWBIT_QUANT_AFFINE_H
