//===- GgmlDequantizeFuzzer.cpp - Every ggml block type's dequantizer -----===//
//
// Input: one byte choosing the type, then blocks of that type (a row of
// arbitrary bytes, as a hostile GGUF or safetensors file holds them). The
// decoded values are quantized back, as re-quantizing an imported model
// does.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "lowbit/Quant/GgmlQuants.h"

#include <cmath>

using namespace llvm;
using namespace lowbit;

static const DType kTypes[] = {
    DType::F32,  DType::F16,  DType::BF16, DType::F64,  DType::Q4_0,
    DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K,
    DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  DType type = kTypes[data[0] % std::size(kTypes)];
  const DTypeInfo &info = getDTypeInfo(type);
  int64_t blocks = int64_t((size - 1) / info.blockBytes);
  int64_t n = blocks * info.blockElems;
  if (n == 0)
    return 0;
  // A copy of exactly the blocks, so ASan catches a read past the last one.
  std::vector<uint8_t> src(data + 1, data + 1 + blocks * info.blockBytes);
  std::vector<float> values(static_cast<size_t>(n));
  dequantizeRow(type, src.data(), values.data(), n);

  for (float &v : values)
    if (!std::isfinite(v))
      v = 0;
  std::optional<uint64_t> bytes = tensorBytes(type, {n});
  if (!bytes)
    __builtin_trap();
  std::vector<uint8_t> requantized(*bytes);
  if (Error e = quantizeRow(type, values.data(), requantized.data(), n))
    fuzz::ignore(std::move(e));
  return 0;
}
