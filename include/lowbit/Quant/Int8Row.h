//===- Int8Row.h - LLM.int8() vector-wise int8 quantization -----*- C++ -*-===//
//
// The int8 part of LLM.int8() (Dettmers et al., 2022), as bitsandbytes'
// Linear8bitLt stores and multiplies it. Weights: each output row n keeps its
// absmax SCB[n] and codes CB[n, k] = round(W[n, k] · 127 / SCB[n]), so
// W ≈ CB · SCB / 127. Activations: each row (token) is quantized the same way
// on its own absmax when it is multiplied, and the int32 product is rescaled
// by rowAbsmax · SCB / 127². In the weight store: NAME (i8 [N, K]) and
// NAME.scb (f32 [N]). Rounding is to nearest, ties to even, like the CUDA
// kernels' round-to-nearest conversion.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_INT8ROW_H
#define LOWBIT_QUANT_INT8ROW_H

#include <cstdint>
#include <vector>

namespace lowbit {

struct Int8RowTensor {
  std::vector<int8_t> codes; // CB [N, K]
  std::vector<float> scales; // SCB [N], the row absmax
};

/// Quantizes a row-major [rows, cols] matrix. An all-zero row gets SCB = 0
/// and zero codes.
Int8RowTensor quantizeInt8Rows(const float *w, int64_t rows, int64_t cols);

/// W = CB · SCB / 127 for every element.
void dequantizeInt8Rows(const int8_t *codes, const float *scales, int64_t rows,
                        int64_t cols, float *out);

/// Rounds every row of a row-major [rows, cols] activation, in place, to its
/// int8 grid: x ← round(x · 127 / absmax) · absmax / 127. Multiplying the
/// result by dequantized weights equals the rescaled int8 × int8 product up
/// to fp32 rounding. Zero rows stay zero.
void fakeQuantizeInt8Rows(float *x, int64_t rows, int64_t cols);

/// The int8 matmul itself, out[r, n] = Σ_k xq[r, k] · CB[n, k] in int32,
/// rescaled by absmax_r · SCB[n] / 127²; x is [rows, k]. A slow, exact
/// reference for tests.
void int8RowMatmulReference(const float *x, int64_t rows, int64_t k,
                            const Int8RowTensor &w, int64_t n, float *out);

} // namespace lowbit

#endif // LOWBIT_QUANT_INT8ROW_H
