//===- DType.cpp ----------------------------------------------------------===//
#include "lowbit/Formats/DType.h"

using namespace lowbit;

static const DTypeInfo kInfos[] = {
    {"f32", 1, 4, true},     {"f16", 1, 2, true},   {"bf16", 1, 2, true},
    {"f64", 1, 8, true},     {"i8", 1, 1, false},   {"u8", 1, 1, false},
    {"i16", 1, 2, false},    {"u16", 1, 2, false},  {"i32", 1, 4, false},
    {"u32", 1, 4, false},    {"i64", 1, 8, false},  {"u64", 1, 8, false},
    {"bool", 1, 1, false},   {"f8e4m3", 1, 1, false}, {"f8e5m2", 1, 1, false},
    {"q4_0", 32, 18, false}, {"q4_1", 32, 20, false}, {"q5_0", 32, 22, false},
    {"q5_1", 32, 24, false}, {"q8_0", 32, 34, false}, {"q2_k", 256, 84, false},
    {"q3_k", 256, 110, false}, {"q4_k", 256, 144, false},
    {"q5_k", 256, 176, false}, {"q6_k", 256, 210, false},
};

const DTypeInfo &lowbit::getDTypeInfo(DType type) {
  return kInfos[static_cast<unsigned>(type)];
}

std::optional<DType> lowbit::parseDTypeName(llvm::StringRef name) {
  for (unsigned i = 0; i < sizeof(kInfos) / sizeof(kInfos[0]); ++i)
    if (kInfos[i].name == name)
      return static_cast<DType>(i);
  return std::nullopt;
}

std::optional<uint64_t> lowbit::tensorBytes(DType type,
                                            llvm::ArrayRef<int64_t> shape) {
  const DTypeInfo &info = getDTypeInfo(type);
  uint64_t rows = 1;
  int64_t inner = shape.empty() ? 1 : shape.back();
  if (inner < 0 || inner % info.blockElems)
    return std::nullopt;
  for (size_t i = 0; i + 1 < shape.size(); ++i) {
    if (shape[i] < 0 || (shape[i] && rows > UINT64_MAX / uint64_t(shape[i])))
      return std::nullopt;
    rows *= uint64_t(shape[i]);
  }
  uint64_t blocks = uint64_t(inner) / info.blockElems;
  if (blocks > UINT64_MAX / info.blockBytes)
    return std::nullopt;
  uint64_t rowBytes = blocks * info.blockBytes;
  if (rowBytes && rows > UINT64_MAX / rowBytes)
    return std::nullopt;
  return rows * rowBytes;
}
