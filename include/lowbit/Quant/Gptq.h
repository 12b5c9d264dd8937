//===- Gptq.h - GPTQ weight quantization --------------------------*- C++ -*-===//
//
// The numeric core of GPTQ (Frantar et al. 2022, "GPTQ: Accurate
// Post-Training Quantization for Generative Pre-trained Transformers"):
// columns of W [N, K] are quantized one at a time to the affine grid of
// Affine.h, and each column's rounding error is spread over the columns not
// yet quantized through the inverse of the layer Hessian H = 2 XᵀX / n, so
// that ||X Wᵀ − X Ŵᵀ||² stays small rather than ||W − Ŵ||².
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_GPTQ_H
#define LOWBIT_QUANT_GPTQ_H

#include "lowbit/Quant/Affine.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace lowbit {

struct GptqOptions {
  AffineScheme scheme;
  /// Quantize columns in order of decreasing H[k, k] (desc_act).
  bool actOrder = false;
  /// Compute every group's grid up front from the original contiguous
  /// columns, so that groups stay k / groupSize even with act-order.
  bool staticGroups = false;
  /// H += dampPercent · mean(diag H) · I before inverting.
  double dampPercent = 0.01;
  /// Columns per lazy batch update; changes speed only (the update is exact).
  int64_t blockSize = 128;
  /// Factor the Hessian in float rather than double: half the memory of a
  /// wide layer's factorization.
  bool singlePrecision = false;
};

struct GptqResult {
  /// Codes [N, K] in the original column order; scales and zeros [N, groups].
  AffineTensor tensor;
  /// Group of each column [K]: k / groupSize, except with act-order and
  /// dynamic groups, where groups follow the processing order.
  std::vector<int32_t> gIdx;
  /// The fake-quantized weights [N, K], s · (q − z) per element.
  std::vector<float> dequantized;
  /// Σ over rows and columns of (w − ŵ)² / (2 · Hinv[k, k]²): the GPTQ
  /// objective, for logs.
  double loss = 0;
  /// Columns whose H[k, k] was 0 (the input never reached them); their
  /// weights are quantized as 0.
  int64_t deadColumns = 0;
};

/// GPTQ of the row-major [rows, cols] matrix `w` against `hessian`
/// (cols × cols, row-major, symmetric; modified in place, hence by value).
/// Fails on an unsupported scheme (bits other than 2, 3, 4, 8; a group size
/// that does not divide cols), a Hessian of the wrong size or with
/// non-finite entries, non-finite weights, and a Hessian that is not
/// positive definite after damping. LOWBIT_THREADS caps the worker threads.
llvm::Expected<GptqResult> gptqQuantize(const float *w, int64_t rows,
                                        int64_t cols,
                                        std::vector<float> hessian,
                                        const GptqOptions &options);

} // namespace lowbit

#endif // LOWBIT_QUANT_GPTQ_H
