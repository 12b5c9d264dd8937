//===- GgmlQuantize.h - llama.cpp-compatible ggml quantizers ----*- C++ -*-===//
//
// fp32 -> ggml block encoders whose output is byte-identical to llama.cpp's
// ggml_quantize_chunk (what llama-quantize writes), with and without an
// importance matrix. The algorithms are described in formats.md §3.3 (no
// imatrix) and §4.4 (imatrix); the implementation is our own, but it keeps
// ggml's float expression order, rounding helpers and thresholds, because any
// difference there changes the chosen codes.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_GGMLQUANTIZE_H
#define LOWBIT_QUANT_GGMLQUANTIZE_H

#include "lowbit/Formats/DType.h"

#include "llvm/Support/Error.h"

#include <cstdint>

namespace lowbit {

/// Types quantizeRowGgml encodes: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K,
/// Q4_K, Q5_K, Q6_K.
bool canQuantizeGgml(DType type);

/// True for the types whose encoding depends on an importance vector
/// (everything canQuantizeGgml accepts except Q8_0, which ignores it).
bool ggmlTypeSupportsImportance(DType type);

/// Encodes one row of `n` values (a multiple of the type's block size) into
/// `dst` (tensorBytes(type, {n}) bytes).
///
/// `importance` is null or holds `n` weights, one per input column of the
/// row: llama.cpp's imatrix entry for the tensor (mean of x^2 of the
/// activations that multiply each column). With null the bytes equal
/// ggml_quantize_chunk(type, ..., imatrix = NULL), i.e. quantize_row_*_ref;
/// otherwise they equal ggml_quantize_chunk with that imatrix. The row is the
/// unit: the legacy types' imatrix path uses statistics of the whole row, so
/// a row must not be split across calls.
///
/// Fails for types canQuantizeGgml rejects and for a partial block.
llvm::Error quantizeRowGgml(DType type, const float *src, uint8_t *dst,
                            int64_t n, const float *importance = nullptr);

} // namespace lowbit

#endif // LOWBIT_QUANT_GGMLQUANTIZE_H
