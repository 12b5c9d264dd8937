//===- Encode.h - Re-encode a stored tensor ---------------------*- C++ -*-===//
#ifndef LOWBIT_QUANT_ENCODE_H
#define LOWBIT_QUANT_ENCODE_H

#include "lowbit/Formats/TensorRef.h"

#include "llvm/Support/Error.h"

#include <vector>

namespace lowbit {

/// The bytes of `t` (any readable encoding) in encoding `type`, row by row
/// (rows = the innermost dimension). Rows are spread over `threads` threads
/// (0: all cores); the result does not depend on the thread count.
/// `importance` (one value per input column, llama.cpp's imatrix) weights
/// the block-scale searches of the ggml types that use it.
llvm::Expected<std::vector<uint8_t>>
encodeTensor(const TensorRef &t, DType type, unsigned threads = 0,
             const std::vector<float> *importance = nullptr);

} // namespace lowbit

#endif // LOWBIT_QUANT_ENCODE_H
