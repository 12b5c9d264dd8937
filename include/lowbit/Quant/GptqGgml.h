//===- GptqGgml.h - GPTQ rounding inside ggml blocks ------------*- C++ -*-===//
//
// GPTQ whose quantizer is a ggml block format: each block's parameters
// (K-quant super-block scales and 6-bit sub-block scales and mins, the
// legacy types' block scales) come from llama.cpp's own importance-weighted
// search, run on the error-updated weights when GPTQ reaches the block's
// first column; each value is then rounded on that block's grid, and its
// rounding error spread over the columns not yet quantized (Gptq.h). The
// result is an ordinary ggml tensor: only the choice of codes differs.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_GPTQGGML_H
#define LOWBIT_QUANT_GPTQGGML_H

#include "lowbit/Formats/DType.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace lowbit {

struct GgmlGptqOptions {
  DType type = DType::Q4_K;
  /// Quantize columns in order of decreasing H[k, k]. A ggml block holds no
  /// column permutation, so every block's parameters are then fitted up
  /// front on the original weights (static groups) and only the rounding
  /// follows the activation order.
  bool actOrder = false;
  /// H += dampPercent · mean(diag H) · I before inverting.
  double dampPercent = 0.01;
  /// Sweeps of exact coordinate descent over the blocks after GPTQ
  /// (lib/Quant/GgmlBlockDescent.h); 0 keeps GPTQ's result.
  int64_t descentSweeps = 0;
  /// Whether the descent also moves the blocks' scales and mins.
  bool descendParameters = true;
  /// Columns per lazy batch update; changes speed only.
  int64_t blockSize = 128;
};

struct GgmlGptqResult {
  /// The encoded tensor: rows × tensorBytes(type, {cols}) bytes.
  std::vector<uint8_t> bytes;
  /// `bytes` dequantized [rows, cols], bit-identical to what ggml decodes.
  std::vector<float> dequantized;
  /// The objective ½ Σ (w − ŵ) H (w − ŵ)ᵀ (H damped) of the result, and of
  /// GPTQ's codes before any descent; for logs.
  double loss = 0;
  double gptqLoss = 0;
  int64_t deadColumns = 0;
};

/// GPTQ of the row-major [rows, cols] matrix `w` against `hessian` (cols ×
/// cols, row-major; consumed) into ggml blocks of `options.type`. The block
/// searches weigh each column by H[k, k] (proportional to llama.cpp's
/// importance matrix entry). Fails for a type without a block grid
/// (GgmlBlockGrid.h), a width that is not a multiple of its block size, a
/// Hessian of the wrong size, non-finite inputs, and a Hessian that is not
/// positive definite after damping.
llvm::Expected<GgmlGptqResult> gptqQuantizeGgml(const float *w, int64_t rows,
                                                int64_t cols,
                                                std::vector<float> hessian,
                                                const GgmlGptqOptions &options);

} // namespace lowbit

#endif // LOWBIT_QUANT_GPTQGGML_H
