//===- gpu_kernel_emulation.h - The GPU kernels' ABI, run on the CPU ------===//
//
// emulateGpuKernel runs the kernel a generated name describes on host
// pointers, as docs/gpu.md defines it: the launch plan and weight layouts of
// a GPU artifact can then be checked where there is no GPU (the driver
// stand-in, fake_cuda_driver.cpp). Written from the ABI alone, in plain
// float and double arithmetic.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_TEST_RUNTIME_GPU_KERNEL_EMULATION_H
#define LOWBIT_TEST_RUNTIME_GPU_KERNEL_EMULATION_H

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace gpu_emulation {

inline int64_t rowBytes(int64_t width) { return (width + 31) / 32 * 32 * 4; }

inline float halfBits(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 31, mant = h & 1023;
  float v;
  if (exp == 0)
    v = std::ldexp(float(mant), -24);
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = std::ldexp(float(mant | 1024), int(exp) - 25);
  return sign ? -v : v;
}

/// f16 to f32 through a table: the emulated linears convert every weight.
inline float half(uint16_t h) {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < 65536; ++i)
      t[i] = halfBits(uint16_t(i));
    return t;
  }();
  return table[h];
}

/// Round to nearest even, as the kv_store kernel writes its caches.
inline uint16_t toHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u, absx = x & 0x7fffffffu;
  if (absx > 0x7f800000u)
    return uint16_t(sign | 0x7e00u);
  if (absx >= 0x477ff000u)
    return uint16_t(sign | 0x7c00u);
  // Scale so the f16 quantum is 1 and let the FPU round to nearest even.
  float a;
  std::memcpy(&a, &absx, 4);
  if (absx < 0x38800000u) // subnormal f16: quantum 2^-24
    return uint16_t(sign | uint32_t(std::nearbyint(std::ldexp(a, 24))));
  int e;
  float m = std::frexp(a, &e); // a = m·2^e, m in [0.5, 1)
  uint32_t q = uint32_t(std::nearbyint(std::ldexp(m, 11))); // 1024..2048
  if (q == 2048) {
    q = 1024;
    ++e;
  }
  uint32_t biased = uint32_t(e - 1 + 15);
  if (biased >= 31)
    return uint16_t(sign | 0x7c00u);
  return uint16_t(sign | biased << 10 | (q - 1024));
}

template <typename T> T *at(uint64_t p, int64_t byteOffset = 0) {
  return reinterpret_cast<T *>(p + uint64_t(byteOffset));
}

/// "0_000010" (kernelNameNumber's spelling) as a number.
inline float nameNumber(const std::string &s) {
  std::string t = s;
  std::replace(t.begin(), t.end(), '_', '.');
  return std::strtof(t.c_str(), nullptr);
}

/// Splits "a_b_c" at '_'.
inline std::vector<std::string> parts(const std::string &s) {
  std::vector<std::string> out(1);
  for (char c : s)
    if (c == '_')
      out.emplace_back();
    else
      out.back().push_back(c);
  return out;
}

inline bool isIntegerFormat(const std::string &f) {
  return f == "q4g128" || f == "q4g32" || f == "q4k" || f == "q8g32" || f == "q6k" ||
         f == "q5g32" || f == "q5k" || f == "q2k" || f == "q8g128" || f == "lut4";
}

/// One block of 32 values of an integer-format weight: value i is
/// q[i]·(i < 16 ? s0 : s1) + (i < 16 ? m : m1).
struct IntBlock {
  int q[32];
  float s0, s1, m, m1;
  bool halfOffsets; // m1 is its own (q2k)
};

/// Block `b` of row `r` of an n×k weight in format `f` (docs/gpu.md,
/// "Integer weight formats").
inline void readBlock(const std::string &f, const uint8_t *w, int64_t n, int64_t k, int64_t r,
                      int64_t b, IntBlock &out) {
  const bool wide = f == "q8g32" || f == "q6k" || f == "q5g32" || f == "q5k" || f == "q8g128";
  const bool isSigned = f == "q8g32" || f == "q6k" || f == "q8g128";
  const int64_t codeBytes = wide ? n * k : n * k / 2;
  const int64_t index = r * (k / 32) + b; // the block among all of the weight's
  if (f == "lut4") { // nibble i of the block's 16 bytes indexes the int8 table
    const int8_t *table = reinterpret_cast<const int8_t *>(w + n * k / 2 + n * k / 32 * 4);
    for (int i = 0; i < 32; ++i)
      out.q[i] = table[(w[index * 16 + i / 2] >> (4 * (i % 2))) & 15];
  } else if (wide) {
    for (int i = 0; i < 32; ++i)
      out.q[i] = isSigned ? int(int8_t(w[index * 32 + i])) : int(w[index * 32 + i]);
  } else {
    const uint8_t *codes = w + index * 16;
    for (int j = 0; j < 16; ++j) {
      out.q[j] = codes[j] & 15;
      out.q[16 + j] = codes[j] >> 4;
    }
  }
  const uint8_t *params = w + codeBytes;
  auto halfAt = [](const uint8_t *p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return half(h);
  };
  const int64_t super = r * (k / 256) + b / 8;
  out.m = 0;
  out.m1 = NAN; // set to m below, but for q2k
  if (f == "q4g128" || f == "q4g32" || f == "q5g32") {
    const int64_t group = f == "q4g128" ? r * (k / 128) + b / 4 : index;
    out.s0 = out.s1 = halfAt(params + group * 4);
    out.m = halfAt(params + group * 4 + 2);
  } else if (f == "q4k" || f == "q5k") {
    const uint8_t *dd = params + n * k / 16 + super * 4;
    out.s0 = out.s1 = halfAt(dd) * float(params[index * 2]);
    out.m = -(halfAt(dd + 2) * float(params[index * 2 + 1]));
  } else if (f == "lut4") { // f32 d per block
    std::memcpy(&out.s0, params + index * 4, 4);
    out.s1 = out.s0;
  } else if (f == "q8g128") { // (d, m) f32 per 128 values
    const uint8_t *dm = params + (r * (k / 128) + b / 4) * 8;
    std::memcpy(&out.s0, dm, 4);
    std::memcpy(&out.m, dm + 4, 4);
    out.s1 = out.s0;
  } else if (f == "q8g32") {
    out.s0 = out.s1 = halfAt(params + index * 2);
  } else if (f == "q2k") {
    const uint8_t *dd = params + n * k / 8 + super * 4;
    const uint8_t *sm = params + index * 4; // (scale, min) of each half
    out.s0 = halfAt(dd) * float(sm[0]);
    out.s1 = halfAt(dd) * float(sm[2]);
    out.m = -(halfAt(dd + 2) * float(sm[1]));
    out.m1 = -(halfAt(dd + 2) * float(sm[3]));
  } else { // q6k
    float d = halfAt(params + n * k / 16 + super * 2);
    const int8_t *sc = reinterpret_cast<const int8_t *>(params) + index * 2;
    out.s0 = d * float(sc[0]);
    out.s1 = d * float(sc[1]);
  }
  out.halfOffsets = !std::isnan(out.m1);
  if (!out.halfOffsets)
    out.m1 = out.m;
}

/// One row of k activations to the int8 layout, rounded as `mode` says
/// (b32, q80, q81 or q8k).
inline void quantize(const std::string &mode, const float *x, int64_t k, uint8_t *row) {
  auto *codes = reinterpret_cast<int8_t *>(row);
  float *scales = reinterpret_cast<float *>(row + k);
  float *sums = scales + k / 32;
  const int64_t block = mode == "q8k" ? 256 : 32;
  for (int64_t b = 0; b < k / block; ++b) {
    const float *v = x + b * block;
    float d, inv;
    if (mode == "q8k") { // the value of largest magnitude maps to −127
      float mx = 0;
      for (int i = 0; i < block; ++i)
        if (std::fabs(v[i]) > std::fabs(mx) || (std::fabs(v[i]) == std::fabs(mx) && v[i] > mx))
          mx = v[i];
      inv = mx != 0 ? -127.0f / mx : 0.0f;
      d = mx != 0 ? 1.0f / inv : 0.0f;
    } else {
      float amax = 0;
      for (int i = 0; i < block; ++i)
        amax = std::max(amax, std::fabs(v[i]));
      d = amax / 127.0f;
      inv = d ? 1.0f / d : 0.0f;
      if (mode != "b32") // q80 and q81 keep d as f16
        d = half(toHalf(d));
    }
    for (int64_t s = 0; s < block / 32; ++s) {
      const int64_t blk = b * (block / 32) + s;
      int sum[2] = {0, 0};
      for (int i = 0; i < 32; ++i) {
        float q = std::nearbyint(v[s * 32 + i] * inv);
        int qi = int(std::clamp(q, -128.0f, 127.0f));
        codes[blk * 32 + i] = int8_t(qi);
        sum[i / 16] += qi;
      }
      scales[blk] = d;
      sums[2 * blk] = d * float(sum[0]);
      sums[2 * blk + 1] = d * float(sum[1]);
      if (mode == "q81") { // one block sum, as f16
        sums[2 * blk] = half(toHalf(sums[2 * blk] + sums[2 * blk + 1]));
        sums[2 * blk + 1] = 0;
      }
    }
  }
}

/// Runs kernel `name` on `args`; false with `why` for a name it cannot read.
inline bool emulateGpuKernel(const std::string &name, const uint64_t *args, int argc,
                             std::string &why) {
  std::vector<std::string> p = parts(name);
  // The int8 tensor-core linears (gpu_linear_imma_F_...) compute what the
  // decode linear of F does, over the same arguments: exact integer dot
  // products, then the same scales and offsets.
  if (p.size() > 3 && p[1] == "linear" && p[2] == "imma")
    p.erase(p.begin() + 2);
  auto need = [&](int n) {
    if (argc == n)
      return true;
    why = "takes " + std::to_string(n) + " arguments, got " + std::to_string(argc);
    return false;
  };
  // The batch: the first part "bN" from the end.
  int64_t batch = 0;
  for (size_t i = p.size(); i-- > 0;)
    if (p[i].size() > 1 && p[i][0] == 'b' && std::isdigit(static_cast<unsigned char>(p[i][1]))) {
      batch = std::atoll(p[i].c_str() + 1);
      break;
    }
  long long n = 0, k = 0;
  auto shape = [&](const std::string &s) { return std::sscanf(s.c_str(), "%lldx%lld", &n, &k) == 2; };
  if (p.size() < 3 || p[0] != "gpu" || batch < 1) {
    why = "not a kernel name this driver knows";
    return false;
  }
  const std::string &op = p[1];
  if (op == "quantize" && need(2)) { // gpu_quantize_<rounding>_K_bB
    k = std::atoll(p[3].c_str());
    for (int64_t t = 0; t < batch; ++t)
      quantize(p[2], at<float>(args[0], t * rowBytes(k)), k,
               at<uint8_t>(args[1], t * (k + k / 32 * 4 + k / 16 * 4)));
    return true;
  }
  // Linears: (w, x, out), or (w, x, out, bias) with "_bias" after the shape.
  const bool bias = op == "linear" && p.size() > 4 && p[4] == "bias";
  auto biasOf = [&](int64_t r) { return bias ? double(at<float>(args[3])[r]) : 0.0; };
  if (op == "linear" && isIntegerFormat(p[2]) && need(bias ? 4 : 3) && shape(p[3])) {
    const int64_t xqRow = k + k / 32 * 4 + k / 16 * 4;
    IntBlock blk;
    std::vector<double> acc(static_cast<size_t>(batch));
    for (int64_t r = 0; r < n; ++r) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t b = 0; b < k / 32; ++b) {
        readBlock(p[2], at<uint8_t>(args[0]), n, k, r, b, blk);
        for (int64_t t = 0; t < batch; ++t) {
          const uint8_t *xq = at<uint8_t>(args[1], t * xqRow);
          const int8_t *q = reinterpret_cast<const int8_t *>(xq) + b * 32;
          const float *da = reinterpret_cast<const float *>(xq + k), *sums = da + k / 32;
          int dot[2] = {0, 0};
          for (int i = 0; i < 32; ++i)
            dot[i / 16] += blk.q[i] * q[i];
          // The ABI's m·(sum₀ + sum₁): the half sums added in f32, as the
          // kernel does; q2k's m₀·sum₀ + m₁·sum₁.
          double offset = blk.halfOffsets
                              ? double(blk.m) * sums[2 * b] + double(blk.m1) * sums[2 * b + 1]
                              : double(blk.m) * (sums[2 * b] + sums[2 * b + 1]);
          acc[size_t(t)] +=
              (double(blk.s0) * dot[0] + double(blk.s1) * dot[1]) * double(da[b]) + offset;
        }
      }
      for (int64_t t = 0; t < batch; ++t)
        at<float>(args[2], t * rowBytes(n))[r] = float(acc[size_t(t)] + biasOf(r));
    }
    return true;
  }
  if (op == "linear" && p[2] == "f16" && need(bias ? 4 : 3) && shape(p[3])) {
    for (int64_t t = 0; t < batch; ++t) {
      const float *x = at<float>(args[1], t * rowBytes(k));
      float *out = at<float>(args[2], t * rowBytes(n));
      for (int64_t r = 0; r < n; ++r) {
        const uint16_t *w = at<uint16_t>(args[0], r * k * 2);
        double acc = 0;
        for (int64_t i = 0; i < k; ++i)
          acc += double(half(w[i])) * x[i];
        out[r] = float(acc + biasOf(r));
      }
    }
    return true;
  }
  if (op == "embedding" && need(3) && shape(p[3])) { // (tokens, table, out)
    for (int64_t t = 0; t < batch; ++t) {
      int64_t id = std::clamp<int64_t>(at<int32_t>(args[0])[t], 0, n - 1);
      float *out = at<float>(args[2], t * rowBytes(k));
      if (p[2] == "f16") {
        for (int64_t i = 0; i < k; ++i)
          out[i] = half(at<uint16_t>(args[1], id * k * 2)[i]);
      } else if (isIntegerFormat(p[2])) {
        IntBlock blk;
        for (int64_t i = 0; i < k; ++i) {
          if (i % 32 == 0)
            readBlock(p[2], at<uint8_t>(args[1]), n, k, id, i / 32, blk);
          out[i] = float(blk.q[i % 32]) * (i % 32 < 16 ? blk.s0 : blk.s1) +
                   (i % 32 < 16 ? blk.m : blk.m1);
        }
      } else {
        why = "unknown embedding format " + p[2];
        return false;
      }
    }
    return true;
  }
  if (op == "rms" && need(3)) { // gpu_rms_norm_K_<eps>_bB
    k = std::atoll(p[3].c_str());
    float eps = nameNumber(p[4] + "_" + p[5]);
    for (int64_t t = 0; t < batch; ++t) {
      const float *x = at<float>(args[0], t * rowBytes(k));
      float *out = at<float>(args[2], t * rowBytes(k));
      double ss = 0;
      for (int64_t i = 0; i < k; ++i)
        ss += double(x[i]) * x[i];
      float s = 1.0f / std::sqrt(float(ss / double(k)) + eps);
      for (int64_t i = 0; i < k; ++i)
        out[i] = x[i] * s * at<float>(args[1])[i];
    }
    return true;
  }
  if (op == "permute" && need(3)) { // gpu_permute_columns_K_bB: (x, order, out)
    k = std::atoll(p[3].c_str());
    for (int64_t t = 0; t < batch; ++t)
      for (int64_t j = 0; j < k; ++j)
        at<float>(args[2], t * rowBytes(k))[j] =
            at<float>(args[0], t * rowBytes(k))[at<int32_t>(args[1])[j]];
    return true;
  }
  if ((op == "swiglu" || op == "add") && need(3)) {
    k = std::atoll(p[2].c_str());
    for (int64_t i = 0; i < batch * k; ++i) {
      float a = at<float>(args[0])[i], c = at<float>(args[1])[i];
      at<float>(args[2])[i] = op == "add" ? a + c : a / (1.0f + std::exp(-a)) * c;
    }
    return true;
  }
  if (op == "rope" && need(2) && shape(p[2])) { // gpu_rope_HxD_<theta>_pairs|halves_bB
    float theta = nameNumber(p[3] + "_" + p[4]);
    bool halves = p[5] == "halves";
    for (int64_t t = 0; t < batch; ++t) {
      float *x = at<float>(args[0], t * rowBytes(n * k));
      float pos = float(at<int32_t>(args[1])[t]);
      for (int64_t i = 0; i < k / 2; ++i) {
        float f = std::pow(theta, float(i) * (-2.0f / float(k)));
        double angle = double(pos * f);
        float c = float(std::cos(angle)), s = float(std::sin(angle));
        for (int64_t h = 0; h < n; ++h) {
          float *a = x + h * k + (halves ? i : 2 * i), *b = halves ? a + k / 2 : a + 1;
          float xa = *a, xb = *b;
          *a = xa * c - xb * s;
          *b = xa * s + xb * c;
        }
      }
    }
    return true;
  }
  if (op == "kv" && need(5)) { // gpu_kv_store_W_cC_bB: (k, v, positions, kc, vc)
    int64_t w = std::atoll(p[3].c_str()), c = std::atoll(p[4].c_str() + 1);
    for (int64_t t = 0; t < batch; ++t) {
      int64_t pos = std::min<int64_t>(at<int32_t>(args[2])[t], c - 1);
      for (int cache = 0; cache < 2; ++cache)
        for (int64_t i = 0; i < w; ++i)
          at<uint16_t>(args[3 + cache], pos * w * 2)[i] =
              toHalf(at<float>(args[cache], t * rowBytes(w))[i]);
    }
    return true;
  }
  if (op == "attention" && p.size() >= 8) { // gpu_attention_split|combine_H_KVH_D_cC_bB
    int64_t heads = std::atoll(p[3].c_str()), kvHeads = std::atoll(p[4].c_str());
    int64_t d = std::atoll(p[5].c_str()), c = std::atoll(p[6].c_str() + 1);
    int64_t splits = c / 256, group = heads / kvHeads, w = kvHeads * d;
    if (p[2] == "split" && need(5)) { // (q, positions, keys, values, partials)
      for (int64_t t = 0; t < batch; ++t) {
        int64_t last = at<int32_t>(args[1])[t];
        for (int64_t h = 0; h < heads; ++h) {
          const float *q = at<float>(args[0], t * rowBytes(heads * d)) + h * d;
          for (int64_t s = 0; s < splits && s * 256 <= last; ++s) {
            float *rec = at<float>(args[4], ((t * heads + h) * splits + s) * (d + 2) * 4);
            int64_t end = std::min(last + 1, (s + 1) * 256);
            std::vector<double> scores;
            double m = -INFINITY;
            for (int64_t j = s * 256; j < end; ++j) {
              const uint16_t *key = at<uint16_t>(args[2], (j * w + (h / group) * d) * 2);
              double dot = 0;
              for (int64_t i = 0; i < d; ++i)
                dot += double(q[i]) * half(key[i]);
              scores.push_back(dot / std::sqrt(double(d)));
              m = std::max(m, scores.back());
            }
            double l = 0;
            std::vector<double> acc(size_t(d), 0.0);
            for (int64_t j = s * 256; j < end; ++j) {
              double e = std::exp(scores[size_t(j - s * 256)] - m);
              l += e;
              const uint16_t *v = at<uint16_t>(args[3], (j * w + (h / group) * d) * 2);
              for (int64_t i = 0; i < d; ++i)
                acc[size_t(i)] += e * half(v[i]);
            }
            rec[0] = float(m);
            rec[1] = float(l);
            for (int64_t i = 0; i < d; ++i)
              rec[2 + i] = float(acc[size_t(i)]);
          }
        }
      }
      return true;
    }
    if (p[2] == "combine" && need(3)) { // (positions, partials, out)
      for (int64_t t = 0; t < batch; ++t) {
        int64_t live = std::min<int64_t>((at<int32_t>(args[0])[t] + 1 + 255) / 256, splits);
        for (int64_t h = 0; h < heads; ++h) {
          const float *recs = at<float>(args[1], (t * heads + h) * splits * (d + 2) * 4);
          double m = -INFINITY, l = 0;
          for (int64_t s = 0; s < live; ++s)
            m = std::max(m, double(recs[s * (d + 2)]));
          for (int64_t s = 0; s < live; ++s)
            l += recs[s * (d + 2) + 1] * std::exp(recs[s * (d + 2)] - m);
          float *out = at<float>(args[2], t * rowBytes(heads * d)) + h * d;
          for (int64_t i = 0; i < d; ++i) {
            double acc = 0;
            for (int64_t s = 0; s < live; ++s)
              acc += recs[s * (d + 2) + 2 + i] * std::exp(recs[s * (d + 2)] - m);
            out[i] = float(acc / l);
          }
        }
      }
      return true;
    }
  }
  if (why.empty())
    why = "not a kernel name this driver knows";
  return false;
}

} // namespace gpu_emulation

using gpu_emulation::emulateGpuKernel;

#endif // LOWBIT_TEST_RUNTIME_GPU_KERNEL_EMULATION_H
