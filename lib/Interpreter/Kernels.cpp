//===- Kernels.cpp - fp32 reference kernels -------------------------------===//
#include "lowbit/Interpreter/Kernels.h"
#include "lowbit/Support/Float16.h"

#include <cblas.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

using namespace lowbit;

KvLayer &KvCache::layer(int64_t index, int64_t width) {
  if (int64_t(layers.size()) <= index)
    layers.resize(index + 1);
  KvLayer &l = layers[index];
  l.width = width;
  return l;
}

void lowbit::embeddingLookup(const std::vector<float> &table, int64_t dim,
                             const std::vector<int32_t> &tokens,
                             Activation &out) {
  out = Activation(int64_t(tokens.size()), dim);
  for (size_t t = 0; t < tokens.size(); ++t)
    std::copy_n(table.data() + int64_t(tokens[t]) * dim, dim, out.row(t));
}

void lowbit::rmsNorm(const Activation &x, const std::vector<float> &weight,
                     float eps, Activation &out) {
  out = Activation(x.rows, x.cols);
  for (int64_t r = 0; r < x.rows; ++r) {
    const float *in = x.row(r);
    double sum = 0;
    for (int64_t c = 0; c < x.cols; ++c)
      sum += double(in[c]) * in[c];
    float scale = 1.0f / std::sqrt(float(sum / x.cols) + eps);
    float *o = out.row(r);
    for (int64_t c = 0; c < x.cols; ++c)
      o[c] = in[c] * scale * weight[c];
  }
}

void lowbit::linear(const Activation &x, const float *w, int64_t n,
                    const std::vector<float> *bias, Activation &out) {
  out = Activation(x.rows, n);
  if (x.rows == 0)
    return;
  if (x.rows == 1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, int(n), int(x.cols), 1.0f, w,
                int(x.cols), x.data.data(), 1, 0.0f, out.data.data(), 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(x.rows), int(n),
                int(x.cols), 1.0f, x.data.data(), int(x.cols), w, int(x.cols),
                0.0f, out.data.data(), int(n));
  if (bias)
    for (int64_t r = 0; r < x.rows; ++r)
      for (int64_t c = 0; c < n; ++c)
        out.row(r)[c] += (*bias)[c];
}

void lowbit::rope(Activation &x, const std::vector<int32_t> &positions,
                  int64_t numHeads, int64_t headDim, float theta,
                  bool interleaved) {
  int64_t half = headDim / 2;
  // Frequencies in fp32 as transformers computes them:
  // inv_freq[i] = 1 / theta^(2i / d).
  std::vector<float> invFreq(half);
  for (int64_t i = 0; i < half; ++i)
    invFreq[i] = 1.0f / std::pow(theta, float(2 * i) / float(headDim));
  std::vector<float> cosv(half), sinv(half);
  for (int64_t r = 0; r < x.rows; ++r) {
    for (int64_t i = 0; i < half; ++i) {
      float angle = float(positions[r]) * invFreq[i];
      cosv[i] = std::cos(angle);
      sinv[i] = std::sin(angle);
    }
    for (int64_t h = 0; h < numHeads; ++h) {
      float *v = x.row(r) + h * headDim;
      for (int64_t i = 0; i < half; ++i) {
        int64_t a = interleaved ? 2 * i : i;
        int64_t b = interleaved ? 2 * i + 1 : i + half;
        float x0 = v[a], x1 = v[b];
        v[a] = x0 * cosv[i] - x1 * sinv[i];
        v[b] = x1 * cosv[i] + x0 * sinv[i];
      }
    }
  }
}

void lowbit::causalAttention(const Activation &q, const Activation &k,
                             const Activation &v,
                             const std::vector<int32_t> &positions,
                             int64_t numHeads, int64_t numKvHeads,
                             int64_t headDim, KvLayer &cache,
                             Activation &out) {
  int64_t kvWidth = numKvHeads * headDim;
  int64_t maxPos = cache.length;
  for (int32_t p : positions)
    maxPos = std::max<int64_t>(maxPos, int64_t(p) + 1);
  if (int64_t(cache.keys.size()) < maxPos * kvWidth) {
    cache.keys.resize(maxPos * kvWidth);
    cache.values.resize(maxPos * kvWidth);
  }
  for (int64_t r = 0; r < k.rows; ++r) {
    std::copy_n(k.row(r), kvWidth, cache.keys.data() + positions[r] * kvWidth);
    std::copy_n(v.row(r), kvWidth, cache.values.data() + positions[r] * kvWidth);
  }
  cache.length = maxPos;

  out = Activation(q.rows, numHeads * headDim);
  int64_t group = numHeads / numKvHeads;
  float scale = 1.0f / std::sqrt(float(headDim));
  int64_t span = maxPos;
  std::vector<float> scores(size_t(q.rows * span));
  // Per head: S = q_h · K_hᵀ (BLAS), causal mask + softmax, O_h = S · V_h.
  for (int64_t h = 0; h < numHeads; ++h) {
    int64_t kvh = h / group;
    const float *kh = cache.keys.data() + kvh * headDim;
    const float *vh = cache.values.data() + kvh * headDim;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(q.rows), int(span),
                int(headDim), scale, q.data.data() + h * headDim, int(q.cols),
                kh, int(kvWidth), 0.0f, scores.data(), int(span));
    for (int64_t r = 0; r < q.rows; ++r) {
      float *s = scores.data() + r * span;
      int64_t last = positions[r];
      float mx = -INFINITY;
      for (int64_t j = 0; j <= last; ++j)
        mx = std::max(mx, s[j]);
      double sum = 0;
      for (int64_t j = 0; j <= last; ++j) {
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
      }
      float inv = float(1.0 / sum);
      for (int64_t j = 0; j <= last; ++j)
        s[j] *= inv;
      for (int64_t j = last + 1; j < span; ++j)
        s[j] = 0.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(q.rows),
                int(headDim), int(span), 1.0f, scores.data(), int(span), vh,
                int(kvWidth), 0.0f, out.data.data() + h * headDim,
                int(out.cols));
  }
}

void lowbit::swiglu(const Activation &gate, const Activation &up,
                    Activation &out) {
  out = Activation(gate.rows, gate.cols);
  for (size_t i = 0; i < gate.data.size(); ++i) {
    float g = gate.data[i];
    out.data[i] = g / (1.0f + std::exp(-g)) * up.data[i];
  }
}

void lowbit::add(const Activation &a, const Activation &b, Activation &out) {
  out = Activation(a.rows, a.cols);
  for (size_t i = 0; i < a.data.size(); ++i)
    out.data[i] = a.data[i] + b.data[i];
}

double lowbit::logProbability(const float *logits, int64_t vocab,
                              int64_t target) {
  float mx = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    sum += std::exp(double(logits[i]) - mx);
  return double(logits[target]) - mx - std::log(sum);
}

/// ggml's nearest_int: round half to even through the float mantissa.
static int nearestInt(float f) {
  float v = f + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &v, 4);
  return (i & 0x007fffff) - 0x00400000;
}

void lowbit::roundActivationsLikeGgml(DType weightType, Activation &x) {
  const DTypeInfo &info = getDTypeInfo(weightType);
  if (weightType == DType::F16) {
    for (float &v : x.data)
      v = fp16ToFloat(floatToFp16(v));
    return;
  }
  if (weightType == DType::BF16) {
    for (float &v : x.data)
      v = bf16ToFloat(floatToBf16(v));
    return;
  }
  if (info.blockElems == 1)
    return; // f32 weights: f32 activations
  bool kQuant = info.blockElems == 256;
  int64_t block = kQuant ? 256 : 32;
  if (x.cols % block)
    return;
  for (int64_t r = 0; r < x.rows; ++r) {
    float *row = x.row(r);
    for (int64_t b = 0; b < x.cols; b += block) {
      float *v = row + b;
      if (kQuant) {
        // Q8_K: scale from the signed element of largest magnitude.
        float amax = 0, max = 0;
        for (int64_t i = 0; i < block; ++i)
          if (std::fabs(v[i]) > amax) {
            amax = std::fabs(v[i]);
            max = v[i];
          }
        if (amax == 0) {
          std::fill(v, v + block, 0.0f);
          continue;
        }
        float iscale = -127.0f / max;
        float d = 1.0f / iscale;
        for (int64_t i = 0; i < block; ++i)
          v[i] = d * float(std::min(127, nearestInt(iscale * v[i])));
      } else {
        // Q8_0 / Q8_1: d = amax / 127 stored as fp16, codes from the exact d.
        float amax = 0;
        for (int64_t i = 0; i < block; ++i)
          amax = std::max(amax, std::fabs(v[i]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        float dh = fp16ToFloat(floatToFp16(d));
        for (int64_t i = 0; i < block; ++i)
          v[i] = dh * std::nearbyint(v[i] * id);
      }
    }
  }
}
