//===- CompanionTensors.h - Names of a quantized weight's parts -*- C++ -*-===//
//
// A quantized weight NAME in a weight store is NAME (its codes) plus
// companion tensors named NAME + suffix. Every reader and writer of those
// tensors (passes, the interpreter, exports, the code generator) spells
// them through these helpers.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_FORMATS_COMPANIONTENSORS_H
#define LOWBIT_FORMATS_COMPANIONTENSORS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"

#include <string>

namespace lowbit {

enum class Companion {
  Scales,       // affine: f32 [rows, groups]
  Zeros,        // affine: f32 [rows, groups]
  GroupIndex,   // affine act-order: i32 [cols], the group of each column
  RowScales,    // int8_row (LLM.int8 SCB): f32 [rows]
  Absmax,       // nf4/fp4: f32 [blocks], or u8 codes when double-quantized
  NestedAbsmax, // nf4/fp4 double quantization: f32 [ceil(blocks / 256)]
  NestedOffset, // nf4/fp4 double quantization: f32 [1]
};

inline llvm::StringRef companionSuffix(Companion c) {
  switch (c) {
  case Companion::Scales: return ".scales";
  case Companion::Zeros: return ".zeros";
  case Companion::GroupIndex: return ".g_idx";
  case Companion::RowScales: return ".scb";
  case Companion::Absmax: return ".absmax";
  case Companion::NestedAbsmax: return ".nested_absmax";
  case Companion::NestedOffset: return ".nested_offset";
  }
  return "";
}

/// The name of weight `weight`'s companion `c`.
inline std::string companionName(const llvm::Twine &weight, Companion c) {
  return (weight + companionSuffix(c)).str();
}

} // namespace lowbit

#endif // LOWBIT_FORMATS_COMPANIONTENSORS_H
