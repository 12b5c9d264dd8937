//===- SafetensorsFuzzer.cpp - safetensors header and tensor table --------===//
//
// Input: a .safetensors file. Every tensor the reader accepts must lie inside
// the file (touched byte by byte under ASan) and decode as its dtype says.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Quant/GgmlQuants.h"

using namespace llvm;
using namespace lowbit;

static constexpr StringLiteral kName = "fuzz.safetensors";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Expected<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::open(
      MemoryBuffer::getMemBufferCopy(fuzz::bytesOf(data, size), kName));
  if (!file) {
    fuzz::expectFileError(file.takeError(), kName);
    return 0;
  }
  for (const TensorRef &t : (*file)->tensors()) {
    if ((*file)->find(t.name) != &t)
      __builtin_trap();
    fuzz::touch(t.data, t.bytes);
    if (!canDequantize(t.dtype))
      continue;
    std::vector<float> values;
    if (Error e = dequantize(t, values))
      __builtin_trap(); // the reader checked the size against the shape
  }
  for (const auto &[key, value] : (*file)->metadata())
    fuzz::touch(value.data(), value.size());
  return 0;
}
