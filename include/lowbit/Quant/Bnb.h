//===- Bnb.h - bitsandbytes 4-bit blockwise quantization ---------*- C++ -*-===//
//
// QLoRA's NF4 and FP4 (Dettmers et al., 2023) as bitsandbytes stores them
// (formats.md §7.2). A weight is flattened row-major and cut into blocks of
// `blockSize` consecutive values; each block keeps its absmax and every value
// becomes the index of the nearest entry of a 16-value codebook, after
// division by the absmax. Two indices share a byte, the first in the high
// nibble. Double quantization stores the absmax values themselves as 8-bit
// indices into bitsandbytes' signed dynamic map, in blocks of 256, around
// their mean.
//
// Rounding follows bitsandbytes' reference kernels (backends/default/ops.py):
// x · (1 / absmax) in fp32, clamped to [−1, 1], then the codebook entry with
// the smallest |x − code| in fp32, the lowest index on ties (torch.argmin).
// A block whose absmax is 0 gets index 0 everywhere (the reference divides
// by zero and argmin picks the first NaN); it decodes to 0 either way.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_BNB_H
#define LOWBIT_QUANT_BNB_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace lowbit {

class WeightStore;

enum class Bnb4BitType { NF4, FP4 };

llvm::StringRef bnb4BitTypeName(Bnb4BitType type); // "nf4", "fp4"
std::optional<Bnb4BitType> parseBnb4BitType(llvm::StringRef name);

/// The 16 fp32 codebook values of get_4bit_type: NF4's normal quantiles, or
/// FP4's E2M1 values [0, 0.0625, 8, 12, 4, 6, 2, 3, −0, …] divided by 12.
llvm::ArrayRef<float> bnb4BitCodebook(Bnb4BitType type);

/// create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256
/// ascending fp32 values from −0.99296875 to 1.0 with 0 at index 127.
llvm::ArrayRef<float> bnbDynamicMap();

/// The index of the entry of `code` nearest to x (lowest index on ties).
uint8_t bnbNearestIndex(float x, llvm::ArrayRef<float> code);

/// Block sizes bitsandbytes' 4-bit quantizer accepts here: powers of two
/// from 64 to 4096.
bool isValidBnbBlockSize(int64_t blockSize);

/// Double quantization always uses blocks of 256 absmax values.
constexpr int64_t kBnbNestedBlockSize = 256;

/// Blockwise 8-bit quantization with a 256-entry map (quantize_blockwise):
/// absmax per block of `blockSize`, indices into `code`.
void quantizeBlockwise8Bit(llvm::ArrayRef<float> values, int64_t blockSize,
                           llvm::ArrayRef<float> code, std::vector<uint8_t> &indices,
                           std::vector<float> &absmax);

/// A 4-bit weight [rows, cols] as bitsandbytes keeps it.
struct Bnb4BitWeight {
  Bnb4BitType type = Bnb4BitType::NF4;
  int64_t blockSize = 64;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> packed; // ceil(rows·cols / 2) bytes
  /// Without double quantization: the fp32 absmax of every block.
  std::vector<float> absmax;
  /// With double quantization: absmax[b] = dynamicMap[absmaxCodes[b]] ·
  /// nestedAbsmax[b / 256] + offset.
  bool doubleQuant = false;
  std::vector<uint8_t> absmaxCodes;
  std::vector<float> nestedAbsmax;
  float offset = 0;

  int64_t numElements() const { return rows * cols; }
  int64_t numBlocks() const { return (numElements() + blockSize - 1) / blockSize; }
  int64_t packedBytes() const { return (numElements() + 1) / 2; }
  int64_t numNestedBlocks() const {
    return (numBlocks() + kBnbNestedBlockSize - 1) / kBnbNestedBlockSize;
  }
};

/// Quantizes a row-major [rows, cols] matrix (quantize_4bit, with
/// compress_statistics = doubleQuant). An odd element count pads the last
/// byte's low nibble with the index of 0.
Bnb4BitWeight quantizeBnb4Bit(const float *w, int64_t rows, int64_t cols,
                              Bnb4BitType type, int64_t blockSize,
                              bool doubleQuant);

/// Double quantization of block absmax values: offset = their mean, and
/// absmax − offset quantized blockwise (256) with the dynamic map.
void doubleQuantizeAbsmax(llvm::ArrayRef<float> absmax,
                          std::vector<uint8_t> &codes,
                          std::vector<float> &nestedAbsmax, float &offset);

/// The per-block absmax of a weight, restoring double-quantized ones.
std::vector<float> bnbBlockAbsmax(const Bnb4BitWeight &w);

/// Dequantizes to fp32: code[index] · absmax[block].
std::vector<float> dequantizeBnb4Bit(const Bnb4BitWeight &w);

/// Reads weight `name` [rows, cols] from the side-file layout the
/// --lowbit-bnb-4bit pass writes (docs/ir.md): NAME (u8 [ceil(n/2), 1]),
/// NAME.absmax (f32 [blocks], or u8 [blocks] when double-quantized, then
/// with NAME.nested_absmax f32 [ceil(blocks/256)] and NAME.nested_offset
/// f32 [1]).
llvm::Expected<Bnb4BitWeight> readBnb4BitWeight(const WeightStore &weights,
                                                llvm::StringRef name,
                                                Bnb4BitType type,
                                                int64_t blockSize, int64_t rows,
                                                int64_t cols);

/// The JSON of QuantState.as_dict(packed=True)'s
/// `quant_state.bitsandbytes__<type>` tensor, byte for byte as Python's
/// json.dumps writes it; `dtype` is the original weight dtype ("bfloat16").
std::string bnbQuantStateJson(const Bnb4BitWeight &w, llvm::StringRef dtype);

/// Python's repr() of a float (shortest round-trip digits, exponent form
/// below 1e-4 and from 1e16), which json.dumps writes.
std::string pythonFloatRepr(double value);

} // namespace lowbit

#endif // LOWBIT_QUANT_BNB_H
