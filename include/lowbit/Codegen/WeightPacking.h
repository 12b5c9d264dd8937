//===- WeightPacking.h - Weights in the layouts the kernels read -*- C++ -*-===//
//
// Every stored weight is re-laid out at compile time into one of three kernel
// families, so a handful of generated kernel shapes serve every format the IR
// can hold:
//
//   Float    f32 / f16 / bf16 rows, read with FMA against f32 activations.
//   Integer  unsigned b-bit codes u (b <= 6) or signed 8-bit codes in blocks
//            of 32 along the row, w = d·u + m with d, m per sub-block of 16
//            or 32; dotted against int8 activations with int32 sums. Every
//            ggml block format, affine (GPTQ/AWQ/RTN) and int8_row map onto
//            it exactly: Q4_K's d·sc and dmin·mn are exact f32 products, and
//            q4_0's w = d·(q-8) becomes u = q, m = -8d.
//            NF4/FP4 weights read only by linears become Integer too: their
//            4-bit indices go through the codebook rounded to int8
//            (int8Codebook, useInt8Codebook).
//   Lut      4-bit indices into a 16-entry codebook (NF4/FP4) with one f32
//            absmax per 32 values, against f32 activations.
//
// Bytes of a packed [rows, cols] weight: the codes of every row (rows ×
// blocks × codeBytesPerBlock), then, 64-byte aligned, the parameters (rows ×
// blocks × paramBytesPerBlock). Code bytes of one 32-value block:
//   4-bit (and 3-bit): 16 bytes, byte i = value i | value i+16 << 4
//   2-bit: 8 bytes, byte i = values i, i+8, i+16, i+24 at bits 0, 2, 4, 6
//   5/6-bit: the 4-bit low nibbles (16 bytes), then the 2 high bits as a
//            2-bit plane (8 bytes)
//   8-bit: 32 signed bytes.
// Parameters of a block: for each sub-block d (and m when hasMin, unless
// the codes carry a constant offset, m = −codeOffset·d), f16 or f32.
//
// K-quants (superBlock 256) keep ggml's two levels instead, so the kernel
// sums integer products over all 256 values before any float work and the
// bytes stay within a few percent of the GGUF file's: per super-block of a
// row, f32 d and dmin, then one int8 scale sc per sub-block, then (unless
// codeOffset is 0) one int8 min mn per sub-block; w = d·sc·u − dmin·mn. Q6_K
// and Q3_K, whose codes are offset by a constant (w = d·sc·(u − 32 or 4)),
// store no mins: the kernel uses mn = sc with dmin = offset·d.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_WEIGHTPACKING_H
#define LOWBIT_CODEGEN_WEIGHTPACKING_H

#include "lowbit/Dialect/Lowbit/LowbitAttrs.h"
#include "lowbit/Formats/DType.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit {

class WeightStore;

enum class KernelFamily { Float, Integer, Lut };
enum class FloatEncoding { F32, F16, BF16 };

/// How a linear's activations are rounded to int8 before an Integer kernel:
/// the same rules as llama.cpp's CPU backend where the weight came from GGUF,
/// so the artifact's perplexity can be compared with llama.cpp's.
enum class ActivationQuant {
  Q8_0,     // blocks of 32, d = amax/127 rounded to f16 (legacy ggml types)
  Q8_K,     // blocks of 256, d = -max/127 of the largest |x| (k-quants)
  Block32,  // blocks of 32, f32 d = amax/127 (affine, GPTQ/AWQ)
  Row,      // one scale per row, amax/127 (LLM.int8)
  Q8_1,     // Q8_0 whose block sums d·Σq are rounded to f16 (q4_1, q5_1)
};

struct PackedLayout {
  KernelFamily family = KernelFamily::Float;
  int64_t rows = 0, cols = 0;
  // Float
  FloatEncoding floatEncoding = FloatEncoding::F32;
  // Integer and Lut
  int bits = 4;
  bool signedCodes = false; // 8-bit two's complement codes
  int subBlock = 32;        // 16 or 32 values share d (and m)
  bool halfParams = false;  // d, m stored as f16 (exact for legacy ggml)
  bool hasMin = true;
  /// 32: parameters per 32-value block; 256: the two-level K-quant layout.
  int superBlock = 32;
  /// superBlock 32: consecutive blocks sharing one parameter record (affine
  /// groups of 128 values: 4), so a group's d and m are stored once.
  int paramBlocks = 1;
  /// When non-zero, w = d·(u − codeOffset) (superBlock 256: d·sc·(…)) and
  /// no mins are stored (Q4_0: 8, Q5_0: 16, Q3_K: 4, Q6_K: 32).
  int codeOffset = 0;
  ActivationQuant activationQuant = ActivationQuant::Block32;
  // Lut: mlir::lowbit::QuantFormat::NF4 or FP4
  bool fp4Codebook = false;
  /// Integer, 4-bit: the codes index the int8 codebook of NF4 (or FP4 when
  /// fp4Codebook), int8Codebook(); w = d·codebook[u] with d = absmax/scale
  /// (see useInt8Codebook).
  bool int8Codebook = false;
  /// Integer layouts of weights only linears read: rows interleaved in
  /// groups of `interleave` (1: not interleaved; see interleaveRows).
  int interleave = 1;
  /// Act-order weights: columns were sorted by group; input column
  /// columnOrder[j] feeds packed column j (stored as an i32 companion).
  bool permutedColumns = false;

  int64_t blocksPerRow() const { return cols / 32; }
  int64_t codeBytesPerBlock() const;
  /// Parameter bytes of one block (superBlock 32) or super-block (256).
  int64_t paramBytesPerBlock() const;
  int64_t subBlocksPerSuperBlock() const { return superBlock / subBlock; }
  bool storesMins() const { return hasMin && !codeOffset; }
  int64_t paramsOffset() const;
  int64_t totalBytes() const;
  /// Float rows are padded to a multiple of 32 values.
  int64_t paddedCols() const { return (cols + 31) / 32 * 32; }
  /// A short name that identifies the kernel layout, e.g. "i4s32f16m".
  std::string key() const;
};

struct PackedWeight {
  PackedLayout layout;
  std::vector<uint8_t> bytes;
  std::vector<int32_t> columnOrder; // when layout.permutedColumns
};

/// What a weight op's IR type says about its encoding.
struct WeightEncoding {
  bool quantized = false;
  FloatEncoding floatEncoding = FloatEncoding::F32; // when !quantized
  mlir::lowbit::QuantFormat format = mlir::lowbit::QuantFormat::Affine;
  int64_t bits = 0, groupSize = 0;
  bool actOrder = false;
};

/// The codes of one ggml block (32 or 256 values) into u[] (Q8_0: its int8
/// bytes), and d[], m[] per 16 values with w = d·u + m.
void decodeGgmlBlock(DType type, const uint8_t *block, uint8_t *u, float *d, float *m);
/// An act-order weight's columns sorted stably by group (`groupOf`, its
/// g_idx): packed column j holds the weight's column order[j].
std::vector<int32_t> columnsByGroup(llvm::ArrayRef<int32_t> groupOf);
/// ggml's two levels of a K-quant super-block: w = d·sc·u − dmin·mn with 16
/// (Q2_K, Q3_K, Q6_K) or 8 (Q4_K, Q5_K) sub-blocks.
void decodeKQuantScales(DType type, const uint8_t *block, float &d, float &dmin, int8_t *sc,
                        int8_t *mn);

/// Packs stored weight `name` ([rows, cols]) into its kernel layout.
llvm::Expected<PackedWeight> packWeight(const WeightStore &weights,
                                        llvm::StringRef name,
                                        const WeightEncoding &encoding,
                                        int64_t rows, int64_t cols);

/// Packs a float matrix (f32 values, [rows, cols]) as encoding `e`; used by
/// tests and for small float tensors.
PackedWeight packFloatMatrix(const float *values, int64_t rows, int64_t cols,
                             FloatEncoding e);

/// NF4 or FP4 as int8: round(book[i]·scale) for the scale in [64, 127] that
/// loses the least (the sum of the 16 squared rounding errors, relative to
/// the scale). FP4's entries are multiples of 1/12, so scale 120 is exact
/// but for ±0.0052; NF4's are irrational, and its best scale (112) errs by at
/// most 0.39% of the block's absmax, the size of the activations' int8
/// rounding.
struct Int8Codebook {
  int8_t values[16];
  float scale;
};
const Int8Codebook &int8Codebook(bool fp4);

/// Turns a Lut weight into an Integer one that reads the same codes through
/// the int8 codebook (int8Codebook), with d = absmax/scale per parameter
/// record (blocks sharing an absmax share a record), so the integer kernels
/// run NF4/FP4 like q4_0.
void useInt8Codebook(PackedWeight &w);

/// Interleaves an Integer weight's rows in groups of `rows` (8 or 16), so
/// that one int32 lane of a vector dot product holds one row: a block of 32
/// values of a row group is a tile of code bytes where 4 consecutive bytes are
/// 4 consecutive values of one row, and the rows' parameters of a block (or
/// super-block) are adjacent. A chunk is 4·rows bytes (one vector: 256-bit
/// for 8 rows, 512-bit for 16). Per tile, with u[r][i] the codes of row r:
///   8-bit:   8 chunks, chunk g byte 4r+i = u[r][4g+i]
///   <=4-bit: 4 chunks, chunk c byte 4r+i = u[r][4c+i] | u[r][16+4c+i] << 4
///   5/6-bit: those, then 2 chunks of the high 2 bits: chunk p byte 4r+i
///            holds u[r][4(p+2j)+i] >> 4 at bits 2j, j = 0..3
///   2-bit:   2 chunks, chunk p byte 4r+i holds u[r][4(p+2j)+i] at bits 2j.
/// Parameters: per block [sub-block][d, m][row] (f16 or f32); per K-quant
/// super-block [d][dmin] (f32 × rows), then sc and mn as [sub-block][row].
/// Requires rows % `rows` == 0.
void interleaveRows(PackedWeight &w, int rows);
/// The row group of the interleaved integer kernels: one int32 lane per row
/// in a 256-bit vector, or in a 512-bit one on targets with AVX-512 VNNI.
inline constexpr int kInterleavedRows = 8;
inline constexpr int kMaxInterleavedRows = 16;

/// Reference decode of packed row `row` to f32 (cols values): the oracle the
/// kernel tests compare against.
void unpackRow(const PackedWeight &w, int64_t row, float *out);

} // namespace lowbit

#endif // LOWBIT_CODEGEN_WEIGHTPACKING_H
