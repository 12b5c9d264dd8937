//===- GpuBlockFormats.h - Reading the integer weight layouts ---*- C++ -*-===//
//
// The integer weight formats (docs/gpu.md) share one shape: blocks of 32
// values whose codes a lane loads in one or two 16-byte loads, and a few
// parameters that turn the block's integer dot product into floats. The
// decode linear and the embedding read them through these helpers, so each
// layout is written down once.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_GPU_GPUBLOCKFORMATS_H
#define LOWBIT_CODEGEN_GPU_GPUBLOCKFORMATS_H

#include "GpuEmitter.h"

namespace lowbit {

/// lut4's table look-up by byte permutes (PTX prmt, whose selector nibble i
/// picks byte i of the result from the 8 bytes of its two sources). For four
/// 4-bit codes in the low 16 bits of `codes`, prmt(t0, t1, codes & kLut4Entry)
/// and prmt(t2, t3, codes & kLut4Entry) are entries (code & 7) of the table's
/// halves, and prmt(low, high, ((codes >> 1) & kLut4Half) | kLut4Bytes) takes
/// byte i from `high` where code i has bit 3.
inline constexpr uint32_t kLut4Entry = 0x7777, kLut4Half = 0x4444, kLut4Bytes = 0x3210;

/// Where an n×k weight of an integer format keeps what.
class GpuBlockLayout {
public:
  GpuBlockLayout(GpuWeightFormat format, int64_t n, int64_t k);

  GpuWeightFormat format;
  /// A byte per code (32 bytes a block) rather than 4-bit ones (16 bytes a
  /// block, value j low and 16 + j high in byte j).
  bool wideCodes() const;
  /// Signed byte codes (q8g32, q6k); every other format's are unsigned.
  bool signedCodes() const;
  /// The block's values are s·q + m (an offset per block) rather than s·q:
  /// the formats of unsigned codes.
  bool hasOffset() const;
  /// The codes index a 16-entry int8 table (lut4): value i of a block is
  /// nibble i of its 16 bytes, and the table follows the parameters.
  bool tableCodes() const { return format == GpuWeightFormat::Lut4; }
  /// The table's 16 bytes as 4 × i32 words (a uniform load: issue it once).
  mlir::Value loadTable(GpuEmitter &e, mlir::Value w) const;
  /// The 8 words of int8 values 4j..4j+3 (word j) of a block's 4 code words
  /// looked up in `table`.
  llvm::SmallVector<mlir::Value, 8> lookUp(GpuEmitter &e, mlir::Value codes,
                                           mlir::Value table) const;
  /// The two halves of a block have their own scales (q6k, q2k).
  bool halfScales() const;
  /// ... and their own offsets (q2k).
  bool halfOffsets() const;
  int64_t codeBytesPerBlock() const { return wideCodes() ? 32 : 16; }

  /// The block's raw parameters, loaded (issue them with the codes).
  struct RawParams {
    mlir::Value first, second;
  };
  RawParams loadParams(GpuEmitter &e, mlir::Value w, mlir::Value row, mlir::Value block) const;

  /// A block's scales in f32 (scale1 = scale0 but for q6k and q2k) and
  /// offsets (null without one; offset1 null but for q2k, whose halves have
  /// offset0 and offset1).
  struct Params {
    mlir::Value scale0, scale1, offset, offset1;
  };
  Params decode(GpuEmitter &e, const RawParams &raw) const;

  /// The code bytes of `block` in `row`, as `wideCodes() ? 2 : 1` vectors of
  /// 4 × i32 words.
  llvm::SmallVector<mlir::Value, 2> loadCodes(GpuEmitter &e, mlir::Value w, mlir::Value row,
                                              mlir::Value block) const;

private:
  int64_t n, k;
};

} // namespace lowbit

#endif // LOWBIT_CODEGEN_GPU_GPUBLOCKFORMATS_H
