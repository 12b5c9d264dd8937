//===- GgmlQuants.h - ggml block formats <-> fp32 ---------------*- C++ -*-===//
//
// Dequantizers follow ggml-quants.c's reference loops, including the order of
// float operations, so results are bit-identical to llama.cpp's. Block layouts
// are in formats.md §3.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_GGMLQUANTS_H
#define LOWBIT_QUANT_GGMLQUANTS_H

#include "lowbit/Formats/TensorRef.h"

#include "llvm/Support/Error.h"

#include <vector>

namespace lowbit {

/// Types dequantizeRow accepts: F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1,
/// Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
bool canDequantize(DType type);

/// Sub-block j's 6-bit scale and min in the 12-byte packing of Q4_K/Q5_K
/// super-blocks (formats.md §3).
void decodeScaleMinK4(int j, const uint8_t *packed, uint8_t &scale, uint8_t &min);

/// Decodes `n` values (a multiple of the block size) from `src` into `dst`.
/// `type` must satisfy canDequantize.
void dequantizeRow(DType type, const uint8_t *src, float *dst, int64_t n);

/// Decodes a whole tensor into `out` (resized to its element count). Fails
/// for types canDequantize rejects or a byte size that does not match the
/// shape.
llvm::Error dequantize(const TensorRef &t, std::vector<float> &out);

/// The index of the first NaN or infinity among `n` values, or -1. Cheap
/// enough to run on every row a quantizer or exporter reads.
int64_t findNonFinite(const float *values, int64_t n);

/// An error naming `tensor` and the position (row and column, rows of `cols`
/// values, the first being row `firstRow`) of its first NaN or infinity;
/// success when every value is finite. Quantizers and exporters refuse such
/// weights, as llama.cpp's tensor validation does: the encodings would carry
/// them on silently.
llvm::Error checkFinite(llvm::StringRef tensor, const float *values,
                        int64_t n, int64_t cols, int64_t firstRow = 0);

/// ggml's quantize_row_q8_0_ref: per 32 values d = amax/127, q = roundf(x/d)
/// computed with the unrounded d, then d stored as fp16. `n` % 32 == 0.
void quantizeRowQ8_0(const float *src, uint8_t *dst, int64_t n);

/// Encodes `n` values into `dst` (tensorBytes(type, {n}) bytes): F32, F16,
/// BF16 and every ggml block type (byte-identical to llama.cpp's quantizers,
/// see GgmlQuantize.h). Integer types are not storage encodings and fail.
llvm::Error quantizeRow(DType type, const float *src, uint8_t *dst, int64_t n);

} // namespace lowbit

#endif // LOWBIT_QUANT_GGMLQUANTS_H
