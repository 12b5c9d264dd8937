//===- GgmlBlockDescent.h - Exact descent inside ggml blocks ----*- C++ -*-===//
//
// Internal to lib/Quant. GPTQ rounds each column once, in order, and never
// revisits a code, and a block's scales are fitted before its codes exist.
// Coordinate descent on the layer-output error
//   ½ Σ_rows (ŵ − w) H (ŵ − w)ᵀ
// revisits both with everything else known: each block parameter (sub-block
// scale and min codes, the half d and dmin) moves to the value that lowers
// the error most given the codes, then each code to the grid point that
// lowers it most. Every move is evaluated exactly and taken only if the
// error falls, so starting from GPTQ's result it can only improve.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_LIB_QUANT_GGMLBLOCKDESCENT_H
#define LOWBIT_LIB_QUANT_GGMLBLOCKDESCENT_H

#include "lowbit/Formats/DType.h"

#include <cstdint>
#include <vector>

namespace lowbit::gptq {

/// Rows [begin, end) of a [rows, k] tensor encoded in ggml blocks of `type`
/// (hasGgmlBlockGrid), with its codes kept apart.
struct BlockDescentRows {
  DType type = DType::Q4_K;
  int64_t begin = 0, end = 0, k = 0;
  /// Original weights, row-major [rows, k].
  const float *weights = nullptr;
  /// Codes of every value, row-major [rows, k]; updated in place.
  int8_t *codes = nullptr;
  /// The encoded tensor, rows × (k / blockElems) blocks; its parameters are
  /// updated in place, its code bits are not touched (setGgmlBlockCodes).
  uint8_t *bytes = nullptr;
  /// Also move the blocks' parameters, not only the codes.
  bool parameters = true;
};

/// Runs `sweeps` sweeps of exact coordinate descent over `rows` against
/// `hessian` (k × k, row-major, symmetric positive definite: the damped
/// Hessian), leaving `dead` columns alone. Returns the objective over the
/// range after the last sweep, and in `before` the objective at the start.
double descendGgmlBlocks(const BlockDescentRows &rows,
                         const std::vector<float> &hessian,
                         const std::vector<bool> &dead, int sweeps,
                         double &before);

} // namespace lowbit::gptq

#endif // LOWBIT_LIB_QUANT_GGMLBLOCKDESCENT_H
