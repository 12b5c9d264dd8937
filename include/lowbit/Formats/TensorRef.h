//===- TensorRef.h - A named view of stored tensor bytes --------*- C++ -*-===//
#ifndef LOWBIT_FORMATS_TENSORREF_H
#define LOWBIT_FORMATS_TENSORREF_H

#include "lowbit/Formats/DType.h"

#include <string>
#include <vector>

namespace lowbit {

/// A tensor inside a mapped file. `shape` is outermost first (the PyTorch /
/// safetensors order); a GGUF tensor with ne = [in, out] has shape [out, in].
/// The bytes are owned by the file that produced the view.
struct TensorRef {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  uint64_t bytes = 0;

  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

} // namespace lowbit

#endif // LOWBIT_FORMATS_TENSORREF_H
