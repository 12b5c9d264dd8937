//===- GgufMixes.h - llama.cpp's per-tensor type choice ---------*- C++ -*-===//
//
// llama-quantize does not quantize every tensor to the file type it is asked
// for: the output matrix, attn_v and ffn_down of some layers get more bits
// (formats.md §4). These functions make the same choice, so our files have
// the same types, sizes and quality as llama.cpp's.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_GGUFMIXES_H
#define LOWBIT_QUANT_GGUFMIXES_H

#include "lowbit/Formats/DType.h"
#include "lowbit/Formats/TensorNames.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace lowbit {

/// A llama.cpp file type (llama_ftype) we can produce.
struct GgufFileType {
  llvm::StringRef name; // "q4_k_m"
  uint32_t id;          // general.file_type
  DType defaultType;    // the type of tensors no rule bumps
};

/// Parses f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_s, q3_k_m,
/// q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k (case-insensitive).
llvm::Expected<GgufFileType> parseGgufFileType(llvm::StringRef name);
/// The names accepted by parseGgufFileType, for help and error messages.
llvm::StringRef ggufFileTypeNames();

struct ModelShape {
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
};

/// The type llama-quantize gives a 2-D weight with `role` in `layer` whose rows
/// have `rowLength` values (with `pure`, always the default type; the
/// row-length fallback still applies).
llvm::Expected<DType> chooseGgufType(const GgufFileType &ftype, WeightRole role,
                                     int64_t layer, int64_t rowLength,
                                     const ModelShape &shape, bool pure = false);

} // namespace lowbit

#endif // LOWBIT_QUANT_GGUFMIXES_H
