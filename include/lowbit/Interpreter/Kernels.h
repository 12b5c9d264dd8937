//===- Kernels.h - fp32 reference kernels of the model ops ------*- C++ -*-===//
//
// Plain, readable implementations of each lowbit op on row-major fp32
// activations [tokens, width]. Matrix products go through BLAS. These are the
// correctness oracle for everything else, not a fast path.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_INTERPRETER_KERNELS_H
#define LOWBIT_INTERPRETER_KERNELS_H

#include "lowbit/Formats/DType.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lowbit {

/// Row-major fp32 activations: `rows` tokens of `cols` values.
struct Activation {
  int64_t rows = 0, cols = 0;
  std::vector<float> data;

  Activation() = default;
  Activation(int64_t r, int64_t c) : rows(r), cols(c), data(size_t(r * c)) {}
  float *row(int64_t r) { return data.data() + r * cols; }
  const float *row(int64_t r) const { return data.data() + r * cols; }
};

/// Keys and values of one attention layer for positions 0..capacity-1,
/// laid out [position, kvHeads * headDim].
struct KvLayer {
  std::vector<float> keys, values;
  int64_t width = 0;
  int64_t length = 0; // positions filled so far (max position + 1)
};

class KvCache {
public:
  void reset() { layers.clear(); }
  KvLayer &layer(int64_t index, int64_t width);

private:
  std::vector<KvLayer> layers;
};

void embeddingLookup(const std::vector<float> &table, int64_t dim,
                     const std::vector<int32_t> &tokens, Activation &out);
void rmsNorm(const Activation &x, const std::vector<float> &weight, float eps,
             Activation &out);
/// out = x · wᵀ (+ bias); w is [n, k] row-major.
void linear(const Activation &x, const float *w, int64_t n,
            const std::vector<float> *bias, Activation &out);
void rope(Activation &x, const std::vector<int32_t> &positions,
          int64_t numHeads, int64_t headDim, float theta, bool interleaved);
void causalAttention(const Activation &q, const Activation &k,
                     const Activation &v, const std::vector<int32_t> &positions,
                     int64_t numHeads, int64_t numKvHeads, int64_t headDim,
                     KvLayer &cache, Activation &out);
void swiglu(const Activation &gate, const Activation &up, Activation &out);
void add(const Activation &a, const Activation &b, Activation &out);

/// Rounds activations in place to what llama.cpp's CPU matmul sees for a
/// weight stored as `weightType`: Q8_0 blocks of 32 for the legacy types and
/// Q8_0, Q8_K blocks of 256 for the k-quants, f16/bf16 for half weights.
void roundActivationsLikeGgml(DType weightType, Activation &x);

/// log-softmax of one row of logits at index `target`, in double precision.
double logProbability(const float *logits, int64_t vocab, int64_t target);

} // namespace lowbit

#endif // LOWBIT_INTERPRETER_KERNELS_H
