//===- GgufMixes.cpp - llama.cpp's per-tensor type choice (formats.md §4) -===//
#include "lowbit/Quant/GgufMixes.h"

#include "llvm/ADT/StringExtras.h"

using namespace llvm;
using namespace lowbit;

static const GgufFileType kFileTypes[] = {
    {"f32", 0, DType::F32},     {"f16", 1, DType::F16},
    {"bf16", 32, DType::BF16},  {"q8_0", 7, DType::Q8_0},
    {"q4_0", 2, DType::Q4_0},   {"q4_1", 3, DType::Q4_1},
    {"q5_0", 8, DType::Q5_0},   {"q5_1", 9, DType::Q5_1},
    {"q2_k", 10, DType::Q2_K},  {"q3_k_s", 11, DType::Q3_K},
    {"q3_k_m", 12, DType::Q3_K}, {"q3_k_l", 13, DType::Q3_K},
    {"q4_k_s", 14, DType::Q4_K}, {"q4_k_m", 15, DType::Q4_K},
    {"q5_k_s", 16, DType::Q5_K}, {"q5_k_m", 17, DType::Q5_K},
    {"q6_k", 18, DType::Q6_K},
};

StringRef lowbit::ggufFileTypeNames() {
  return "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_s, q3_k_m, "
         "q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k";
}

Expected<GgufFileType> lowbit::parseGgufFileType(StringRef name) {
  std::string lower = name.lower();
  for (const GgufFileType &f : kFileTypes)
    if (f.name == lower)
      return f;
  return createStringError("unknown GGUF type '" + name.str() +
                           "' (expected one of " + ggufFileTypeNames().str() +
                           ")");
}

/// Layers that get extra bits in the _M mixes: the first and last eighth and
/// every third layer in between.
static bool useMoreBits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static bool isFloat(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

Expected<DType> lowbit::chooseGgufType(const GgufFileType &ftype,
                                       WeightRole role, int64_t layer,
                                       int64_t rowLength,
                                       const ModelShape &shape, bool pure) {
  DType type = ftype.defaultType;
  StringRef f = ftype.name;
  int64_t n = shape.numLayers, i = layer;
  int64_t gqa = shape.numKvHeads > 0 ? shape.numHeads / shape.numKvHeads : 1;

  if (!pure && !isFloat(type)) {
    switch (role) {
    case WeightRole::Output:
      // Q6_K for every quantized file type except Q8_0 (which stays Q8_0);
      // Q8_0 when rows do not fill 256-value super-blocks.
      if (rowLength % 256 != 0)
        type = DType::Q8_0;
      else if (type != DType::Q8_0)
        type = DType::Q6_K;
      break;
    case WeightRole::Value:
      if (f == "q2_k")
        type = gqa >= 4 ? DType::Q4_K : DType::Q3_K;
      else if (f == "q3_k_m")
        type = i < 2 ? DType::Q5_K : DType::Q4_K;
      else if (f == "q3_k_l")
        type = DType::Q5_K;
      else if (f == "q4_k_s" && i < 4)
        type = DType::Q5_K;
      else if ((f == "q4_k_m" || f == "q5_k_m") && useMoreBits(i, n))
        type = DType::Q6_K;
      break;
    case WeightRole::Down:
      if (f == "q2_k")
        type = DType::Q3_K;
      else if (f == "q3_k_m")
        type = i < n / 16 ? DType::Q5_K : DType::Q4_K;
      else if (f == "q3_k_l")
        type = DType::Q5_K;
      else if (f == "q4_k_s" && i < n / 8)
        type = DType::Q5_K;
      else if ((f == "q4_k_m" || f == "q5_k_m") && useMoreBits(i, n))
        type = DType::Q6_K;
      break;
    case WeightRole::AttnOutput:
      if (f == "q2_k")
        type = DType::Q3_K;
      else if (f == "q3_k_m")
        type = DType::Q4_K;
      else if (f == "q3_k_l")
        type = DType::Q5_K;
      break;
    default:
      break;
    }
  }

  // Row-length fallback (formats.md §4.3).
  const DTypeInfo &info = getDTypeInfo(type);
  if (rowLength % info.blockElems != 0) {
    DType fallback;
    switch (type) {
    case DType::Q2_K:
    case DType::Q3_K: fallback = DType::Q4_0; break; // IQ4_NL in llama.cpp
    case DType::Q4_K: fallback = DType::Q5_0; break;
    case DType::Q5_K: fallback = DType::Q5_1; break;
    case DType::Q6_K: fallback = DType::Q8_0; break;
    default: fallback = DType::F16; break;
    }
    if (rowLength % getDTypeInfo(fallback).blockElems != 0)
      fallback = DType::F16;
    type = fallback;
  }
  return type;
}
