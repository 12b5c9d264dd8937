//===- Awq.h - Activation-aware weight quantization ---------------*- C++ -*-===//
//
// The numeric core of AWQ (Lin et al. 2023): the zero-point pseudo-quantizer
// of AutoAWQ checkpoints, the search for per-input-channel scales s that
// protect salient channels (quantize W·diag(s), feed x/s), and the search for
// per-group clipping ranges. The caller folds 1/s into whatever produces the
// input (an rms_norm weight, the rows of the previous linear).
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_AWQ_H
#define LOWBIT_QUANT_AWQ_H

#include "lowbit/Quant/Affine.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace lowbit {

struct AwqGrid {
  int bits = 4;
  int64_t groupSize = 128; // -1: one group per row
  bool zeroPoint = true;

  int64_t groupWidth(int64_t cols) const { return groupSize < 0 ? cols : groupSize; }
  int64_t groupsPerRow(int64_t cols) const { return groupSize < 0 ? 1 : cols / groupSize; }
};

/// Error unless bits is 2..8 and the group size (> 0, or -1) divides `cols`.
llvm::Error checkAwqGrid(const AwqGrid &grid, int64_t cols);

/// AutoAWQ's pseudo-quantizer grid of one group of `n` weights, after
/// clamping them to [−clip, clip] (pass +inf for no clip). With a zero point:
/// scale = max(max − min, 1e−5) / (2^bits − 1), zero = clamp(−round(min /
/// scale), 0, 2^bits − 1). Symmetric: scale = max(max|w|, 1e−5) /
/// (2^(bits−1) − 1), zero = 2^(bits−1), codes clamp to [0, 2^bits − 1] (the
/// signed range −2^(bits−1) .. 2^(bits−1) − 1 shifted by the zero). The scale
/// is rounded to fp16 as checkpoints store it; the zero comes from the
/// rounded scale.
void computeAwqGroupGrid(const float *w, int64_t n, float clip,
                         const AwqGrid &grid, float &scale, float &zero);

/// Quantize a row-major [rows, cols] matrix group by group. `clipMax`
/// ([rows, groups], or null) clamps each group to [−clipMax, clipMax] before
/// its grid and codes are computed (apply_clip followed by rounding).
llvm::Expected<AffineTensor> quantizeAwq(const float *w, int64_t rows,
                                         int64_t cols, const AwqGrid &grid,
                                         const float *clipMax = nullptr);

/// Quantize and dequantize in one go: `out` [rows, cols] gets s · (q − z).
llvm::Error fakeQuantizeAwq(const float *w, int64_t rows, int64_t cols,
                            const AwqGrid &grid, const float *clipMax,
                            float *out);

/// Replaces the scale search's loss: receives, per weight, the fake-quantized
/// weight in the basis of the unscaled input, Q(W · diag(s)) · diag(s)⁻¹
/// ([rows_j, k] row-major), and returns the error to minimize. NaN aborts
/// the search with an error.
using AwqLossCallback =
    std::function<double(llvm::ArrayRef<std::vector<float>> fakeQuantWeights)>;

/// Replaces the affine grid of the scale search: writes Q(rows [begin, end)
/// of `scaled`), the rows of weight `weight` already multiplied by the
/// candidate scales `s` ([cols]), into the same rows of `out`. For block
/// formats (e.g. ggml K-quants) whose scales the quantizer fits itself.
using AwqFakeQuantizer = std::function<void(
    size_t weight, const float *scaled, int64_t begin, int64_t end,
    int64_t cols, llvm::ArrayRef<float> s, float *out)>;

struct AwqScaleResult {
  std::vector<float> scales;  // [k]; multiply W's columns, divide x by them
  float alpha = 0;            // the exponent chosen
  double bestLoss = 0;        // loss at alpha
  double baseLoss = 0;        // loss at alpha = 0 (plain rounding)
  std::vector<double> losses; // [gridSize], loss of alpha = i / gridSize
};

/// Scale search for linears sharing one input. `x` [samples, k] is a sample
/// of calibration inputs, `meanAbsX` [k] the mean |x| per channel over all
/// calibration tokens. For alpha = i / gridSize, i = 0 .. gridSize − 1:
/// s = max(meanAbsX^alpha, 1e−4) / sqrt(max(s) · min(s)), and
/// loss = Σ_j ‖x · W_jᵀ − x · (Q(W_j · diag(s)) · diag(s)⁻¹)ᵀ‖² / numel
/// (numel = samples · Σ_j rows_j), or `lossCallback` of the fake-quantized
/// weights when given (then `x` may be null). With `gram` (XᵀX [k, k] over
/// every calibration token, any positive multiple) the same error is
/// Σ_j Σ_rows d·gram·dᵀ / Σ_j rows_j, and `x` may be null. The first alpha
/// with the smallest loss wins; alpha 0 gives s = 1, plain rounding. With
/// `fakeQuantizer`, Q is that quantizer instead of `grid`'s.
llvm::Expected<AwqScaleResult>
searchAwqScales(const float *x, int64_t samples, int64_t k,
                llvm::ArrayRef<const float *> weights,
                llvm::ArrayRef<int64_t> rowsPerWeight, const float *meanAbsX,
                const AwqGrid &grid, int gridSize = 20,
                AwqLossCallback lossCallback = {}, const float *gram = nullptr,
                AwqFakeQuantizer fakeQuantizer = {});

/// Clip search (auto_clip). Tokens: rows 0, step, 2·step, ... of `x`
/// [samples, k] with step = max(1, samples / maxTokens) (as the reference
/// subsamples, this keeps between maxTokens and 2·maxTokens − 1 rows when
/// samples ≥ maxTokens). For each output row and group of `w` [rows, k], try
/// clip = max|w_g| · (1 − i / gridSize) for i = 0 .. ⌊maxShrink · gridSize⌋ − 1,
/// and keep the one minimizing mean_t (x_t,g · (w_g − Q(clamp(w_g, ±clip))))²;
/// i = 0 is no clipping, so the chosen error never exceeds it. Returns
/// clipMax [rows, groups] for quantizeAwq.
llvm::Expected<std::vector<float>>
searchAwqClip(const float *x, int64_t samples, int64_t k, const float *w,
              int64_t rows, const AwqGrid &grid, int gridSize = 20,
              double maxShrink = 0.5, int64_t maxTokens = 512);

} // namespace lowbit

#endif // LOWBIT_QUANT_AWQ_H
