//===- AffinePacking.h - GPTQ and AWQ checkpoint bit layouts ----*- C++ -*-===//
//
// Conversions between lowbit's unpacked affine weights (one byte per code,
// f32 scales and zeros per output row and group; see Quant/Affine.h) and the
// int32-packed tensors of GPTQ and AWQ GEMM checkpoints (formats.md §5, §6).
//
// GPTQ packs 32 consecutive codes into `bits` words, read as one
// 32·bits-bit little-endian string with code t at bit bits·t; this one rule
// covers 2, 4 and 8 bits (whole codes per word) and 3 bits (codes 10 and 21
// straddle words). AWQ packs 8 four-bit values per word along the output
// dimension in the order [0, 2, 4, 6, 1, 3, 5, 7].
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_FORMATS_AFFINEPACKING_H
#define LOWBIT_FORMATS_AFFINEPACKING_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace lowbit {

class WeightStore;

/// How a GPTQ checkpoint stores zero points (formats.md §5.4): v1 (AutoGPTQ,
/// `checkpoint_format = "gptq"`) stores zero − 1, v2 (GPTQModel, "gptq_v2")
/// stores the zero itself.
enum class GptqZeroFormat { V1, V2 };

/// One affine weight in lowbit's layout.
struct AffineWeight {
  int64_t rows = 0, cols = 0; // N outputs, K inputs
  int bits = 4;
  int64_t groupSize = 128;   // -1: one group per row
  std::vector<uint8_t> codes; // [N, K], original column order
  std::vector<float> scales;  // [N, groups]
  std::vector<float> zeros;   // [N, groups], integer-valued
  /// [K]: the group of each input column (act-order); empty when groups are
  /// contiguous runs of groupSize columns.
  std::vector<int32_t> gIdx;

  int64_t groups() const { return groupSize < 0 ? 1 : cols / groupSize; }
  int64_t groupOf(int64_t col) const {
    return gIdx.empty() ? (groupSize < 0 ? 0 : col / groupSize) : gIdx[col];
  }
};

/// The checkpoint tensors of one GPTQ linear (formats.md §5.1).
struct GptqTensors {
  std::vector<int32_t> qweight; // [K·bits/32, N]
  std::vector<int32_t> qzeros;  // [groups, N·bits/32]
  std::vector<uint16_t> scales; // fp16 [groups, N]
  std::vector<int32_t> gIdx;    // [K]
  /// Scales that were not fp16 values and were rounded to the nearest one.
  int64_t roundedScales = 0;
};

/// The checkpoint tensors of one AWQ GEMM linear (formats.md §6).
struct AwqTensors {
  std::vector<int32_t> qweight; // [K, N/8]
  std::vector<int32_t> qzeros;  // [groups, N/8]
  std::vector<uint16_t> scales; // fp16 [groups, N]
  int64_t roundedScales = 0;
};

/// 32 codes of `bits` bits (2, 3, 4 or 8) into `bits` words, and back.
void packGptqBlock(const uint8_t *codes, int bits, uint32_t *words);
void unpackGptqBlock(const uint32_t *words, int bits, uint8_t *codes);

/// GPTQ qweight [K·bits/32, N] from codes [N, K] and back; K % 32 == 0.
std::vector<int32_t> packGptqWeight(llvm::ArrayRef<uint8_t> codes, int64_t rows,
                                    int64_t cols, int bits);
std::vector<uint8_t> unpackGptqWeight(llvm::ArrayRef<int32_t> qweight,
                                      int64_t rows, int64_t cols, int bits);
/// GPTQ qzeros [groups, N·bits/32] from fields [groups, N] and back;
/// N % 32 == 0.
std::vector<int32_t> packGptqZeros(llvm::ArrayRef<uint8_t> fields,
                                   int64_t groups, int64_t rows, int bits);
std::vector<uint8_t> unpackGptqZeros(llvm::ArrayRef<int32_t> qzeros,
                                     int64_t groups, int64_t rows, int bits);

/// AWQ GEMM words [r, N/8] from 4-bit values [r, N] and back; N % 8 == 0.
std::vector<int32_t> packAwq(llvm::ArrayRef<uint8_t> values, int64_t r,
                             int64_t n);
std::vector<uint8_t> unpackAwq(llvm::ArrayRef<int32_t> words, int64_t r,
                               int64_t n);

/// The GPTQ tensors of `w`. Fails on shapes GPTQ cannot store (K or N not a
/// multiple of 32, bits other than 2/3/4/8), codes or zeros outside
/// [0, 2^bits − 1], non-integer zeros, scales beyond fp16 and, for v1, a
/// zero point of 0 (its stored field −1 does not fit).
llvm::Expected<GptqTensors> encodeGptq(const AffineWeight &w,
                                       GptqZeroFormat format);
/// The weight a GPTQ linear means. `scales` is [groups, N] in f32; `gIdx`
/// may be empty (contiguous groups). A g_idx equal to k / groupSize is
/// dropped (the weight is then not act-order).
llvm::Expected<AffineWeight>
decodeGptq(llvm::ArrayRef<int32_t> qweight, llvm::ArrayRef<int32_t> qzeros,
           llvm::ArrayRef<float> scales, llvm::ArrayRef<int32_t> gIdx,
           int64_t rows, int64_t cols, int bits, int64_t groupSize,
           GptqZeroFormat format);

/// The AWQ GEMM tensors of `w`: 4-bit, contiguous groups, N % 8 == 0.
llvm::Expected<AwqTensors> encodeAwq(const AffineWeight &w);
llvm::Expected<AffineWeight> decodeAwq(llvm::ArrayRef<int32_t> qweight,
                                       llvm::ArrayRef<int32_t> qzeros,
                                       llvm::ArrayRef<float> scales,
                                       int64_t rows, int64_t cols,
                                       int64_t groupSize);

/// Reads the affine weight `name` from a weight store: NAME (u8 [N, K]),
/// NAME.scales and NAME.zeros (f32 [N, groups]) and, when `actOrder`,
/// NAME.g_idx (i32 [K]).
llvm::Expected<AffineWeight> readAffineWeight(const WeightStore &store,
                                              llvm::StringRef name, int bits,
                                              int64_t groupSize, bool actOrder);

} // namespace lowbit

#endif // LOWBIT_FORMATS_AFFINEPACKING_H
