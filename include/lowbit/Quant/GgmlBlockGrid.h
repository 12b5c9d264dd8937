//===- GgmlBlockGrid.h - Rounding grids of encoded ggml blocks --*- C++ -*-===//
//
// Every ggml block format dequantizes each value as scale · q + offset, with
// an integer code q in a fixed range and scale and offset set by the block's
// (super-)block and sub-block parameters. Reading that grid back from an
// encoded block, and writing codes into a block without touching its
// parameters, lets a quantizer choose the parameters one way (llama.cpp's
// searches) and the codes another (GPTQ's error feedback), and still emit a
// block every ggml reader decodes to exactly scale · q + offset.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_GGMLBLOCKGRID_H
#define LOWBIT_QUANT_GGMLBLOCKGRID_H

#include "lowbit/Formats/DType.h"

#include <cstdint>

namespace lowbit {

/// The grid of one block of `blockElems` values (at most 256).
struct GgmlBlockGrid {
  /// Value i of the block is scale[i] * q + offset[i], as ggml computes it.
  float scale[256];
  float offset[256];
  /// The codes the format can hold (signed where the format centres them:
  /// Q4_0 [-8, 7], Q3_K [-4, 3], Q6_K [-32, 31], Q8_0 [-127, 127]).
  int qmin = 0, qmax = 0;
};

/// Types the two functions below accept: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K,
/// Q3_K, Q4_K, Q5_K, Q6_K.
bool hasGgmlBlockGrid(DType type);

/// Reads the grid of the encoded block `block` of `type`.
void decodeGgmlBlockGrid(DType type, const uint8_t *block, GgmlBlockGrid &grid);

/// Overwrites the codes of the encoded block `block` with `codes` (one per
/// value, each within the grid's [qmin, qmax]); scales and mins are kept.
void setGgmlBlockCodes(DType type, uint8_t *block, const int8_t *codes);

/// One parameter of a block that sets its grid: a sub-block's integer scale
/// or min code, or a half-precision super-block or block scale or min.
struct GgmlBlockParameter {
  bool half = false;
  /// The codes an integer parameter can hold (unused for halves).
  int lo = 0, hi = 0;
  /// The values whose grid it sets: [first, first + count).
  int first = 0, count = 0;
};

/// How many parameters a block of `type` has (hasGgmlBlockGrid types):
/// sub-block scales, then sub-block mins where the type has them, then the
/// half d and, where the type has one, dmin (or m).
int ggmlBlockParameterCount(DType type);
GgmlBlockParameter ggmlBlockParameter(DType type, int index);

/// Parameter `index` of the encoded block (an integer code, or the half's
/// value).
float readGgmlBlockParameter(DType type, const uint8_t *block, int index);

/// Sets parameter `index` of the encoded block to `value`: an integer within
/// [lo, hi], or a finite float rounded to half. Codes and the other
/// parameters are kept.
void writeGgmlBlockParameter(DType type, uint8_t *block, int index,
                             float value);

/// The code nearest to `value` on element `i` of `grid`, clamped to its range
/// (a zero scale gives the code nearest to 0).
inline int nearestGgmlCode(const GgmlBlockGrid &grid, int i, float value) {
  float scale = grid.scale[i];
  float q = scale != 0 ? __builtin_nearbyintf((value - grid.offset[i]) / scale) : 0.0f;
  if (!(q >= float(grid.qmin))) // also catches NaN
    return grid.qmin;
  if (q > float(grid.qmax))
    return grid.qmax;
  return int(q);
}

} // namespace lowbit

#endif // LOWBIT_QUANT_GGMLBLOCKGRID_H
