//===- lowbit_gpu_bench.cpp - Generated GPU kernels: checks and timing ----===//
//
// Runs the generated PTX kernels (docs/gpu.md) on a GPU, checks them against
// a CPU reference written from the ABI's definitions, and times them against
// a device-to-device copy and cuBLAS fp16 at the same shape.
//
//   lowbit-gpu-bench DIR [--device N] [--reps R] [--json OUT.json]
//
// DIR holds kernels.ptx and kernels.tsv. For every linear kernel: random
// packed int4 weights and f32 activations (with a block of zeros and a block
// of exact ties planted). A decode linear (q4g128) runs after the quantize
// kernel of the same K and batch: the int8 activations must match the CPU
// rounding (a code may be off by one at a rounding tie, or in at most 0.1% of
// the values), and the outputs the CPU dot product on those activations
// within 1e-3 of the token's largest output. A tensor-core linear
// (q4g128_mma) reads the f32 activations and the weights repacked for it: its
// outputs must match the product of the f16 values it multiplies within 2e-3
// of the token's largest output, and its distance from the exact product is
// reported. An f16 linear reads f32 activations and f16 weights (random
// bits, with zeros and subnormals planted): its outputs must match the
// product of those values, in double, within 1e-5 of the token's largest
// output. Then R back-to-back launches of the linear kernel alone are timed
// with events, after 3 untimed ones; GB/s count every byte a call reads or
// writes. cuBLAS (GemmEx, fp16 in and out, f32 compute) runs at each shape
// once, on the same values. --json writes every figure.
//
// Exit status: 0 all checks pass; 1 a check fails or a kernel does not load
// or run; 2 bad arguments or input files; 77 no CUDA driver or no GPU.
//
//===----------------------------------------------------------------------===//
#include "gpu/CudaDriver.h"
#include "lowbit/Runtime/GpuLayouts.h"
#include "lowbit/Support/Float16.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <dlfcn.h>

using namespace lowbit;
using namespace lowbit::rt;
using cuda::CUdeviceptr;
using cuda::CUfunction;
using cuda::CUstream;

namespace {

constexpr int kExitFail = 1, kExitUsage = 2, kExitSkip = 77;
constexpr int kWarmup = 3;
// The scale of the planted block of exact ties (a power of two).
constexpr float kTieScale = 1.0f / 64;
constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36;
constexpr int CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37;
constexpr int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;

int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

std::string fmt(const char *format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

//===----------------------------------------------------------------------===//
// JSON, written by hand
//===----------------------------------------------------------------------===//

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

/// An object whose fields keep the order they were added in.
class JsonObject {
public:
  JsonObject &raw(const std::string &key, std::string value) {
    fields.emplace_back(key, std::move(value));
    return *this;
  }
  JsonObject &str(const std::string &key, const std::string &v) { return raw(key, jsonString(v)); }
  JsonObject &num(const std::string &key, double v) {
    return raw(key, std::isfinite(v) ? fmt("%.6g", v) : "null");
  }
  JsonObject &integer(const std::string &key, int64_t v) { return raw(key, std::to_string(v)); }
  JsonObject &boolean(const std::string &key, bool v) { return raw(key, v ? "true" : "false"); }
  JsonObject &object(const std::string &key, const JsonObject &v) { return raw(key, v.render()); }
  JsonObject &array(const std::string &key, const std::vector<JsonObject> &items) {
    std::string s = "[";
    for (size_t i = 0; i < items.size(); ++i)
      s += (i ? ",\n" : "\n") + items[i].render();
    return raw(key, s + (items.empty() ? "]" : "\n]"));
  }
  std::string render() const {
    std::string s = "{";
    for (size_t i = 0; i < fields.size(); ++i)
      s += (i ? ", " : "") + jsonString(fields[i].first) + ": " + fields[i].second;
    return s + "}";
  }

private:
  std::vector<std::pair<std::string, std::string>> fields;
};

//===----------------------------------------------------------------------===//
// kernels.tsv
//===----------------------------------------------------------------------===//

struct KernelLine {
  std::string name, op, format;
  int64_t n = 0, k = 0, batch = 0;
  unsigned grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
  unsigned shared = 0;
  float param = 0; // rms_norm's epsilon, rope's theta
  int64_t kvHeads = 0, context = 0; // attention's
};

struct Manifest {
  std::string target; // "sm_90"
  std::vector<KernelLine> kernels;
};

bool parseInt(const std::string &s, int64_t &out) {
  if (s.empty())
    return false;
  char *end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end != '\0')
    return false;
  out = v;
  return true;
}

std::vector<std::string> split(const std::string &line, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = line.find(sep, start);
    parts.push_back(line.substr(start, end - start));
    if (end == std::string::npos)
      return parts;
    start = end + 1;
  }
}

StatusOr<Manifest> parseManifest(const std::string &path, const std::string &text) {
  Manifest m;
  std::vector<std::string> lines = split(text, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = lines[i];
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    auto fail = [&](const std::string &why) {
      return Status::error(path + ":" + std::to_string(i + 1) + ": " + why);
    };
    if (i == 0) {
      const std::string prefix = "# target ";
      if (line.compare(0, prefix.size(), prefix) != 0)
        return fail("the first line must be '# target sm_XX'");
      m.target = line.substr(prefix.size());
      continue;
    }
    if (line.empty() || line[0] == '#')
      continue;
    std::vector<std::string> f = split(line, '\t');
    if (f.size() != 16)
      return fail("expected 16 tab-separated fields (name op format n k batch grid_x grid_y "
                  "grid_z block_x block_y block_z shared_bytes param kv_heads context), got " +
                  std::to_string(f.size()));
    KernelLine k;
    k.name = f[0];
    k.op = f[1];
    k.format = f[2];
    int64_t v[10];
    for (int j = 0; j < 10; ++j)
      if (!parseInt(f[3 + j], v[j]) || v[j] < 0 || v[j] > INT32_MAX)
        return fail("field " + std::to_string(4 + j) + " is not a count: '" + f[3 + j] + "'");
    k.n = v[0];
    k.k = v[1];
    k.batch = v[2];
    for (int j = 0; j < 3; ++j) {
      k.grid[j] = unsigned(v[3 + j]);
      k.block[j] = unsigned(v[6 + j]);
      if (!k.grid[j] || !k.block[j])
        return fail(k.name + ": grid and block sizes must be at least 1");
    }
    k.shared = unsigned(v[9]);
    char *end = nullptr;
    k.param = std::strtof(f[13].c_str(), &end);
    if (f[13].empty() || *end != '\0' || !std::isfinite(k.param))
      return fail("field 14 is not a number: '" + f[13] + "'");
    if (!parseInt(f[14], k.kvHeads) || k.kvHeads < 0 || !parseInt(f[15], k.context) ||
        k.context < 0 || k.context > INT32_MAX)
      return fail("fields 15 and 16 are not counts: '" + f[14] + "', '" + f[15] + "'");
    if (k.batch < 1)
      return fail(k.name + ": batch must be at least 1");
    if (k.op == "linear_imma" && (k.n % 16 || k.batch % 8 || k.batch > 64))
      return fail(k.name + ": int8 tensor-core linears need n a multiple of 16 and a batch of "
                           "8 to 64, a multiple of 8");
    if (k.op == "linear" || k.op == "linear_imma") {
      // A format this tool does not know fails that kernel alone (runLinear).
      if (k.format == "q4g128" && (k.n < 1 || k.k < 128 || k.k % 128))
        return fail(k.name + ": q4g128 needs n >= 1 and k a multiple of 128");
      // The tensor-core layout is built of tiles of 16 rows, and each mma
      // covers 8 tokens.
      if (k.format == "q4g128_mma" &&
          (k.n < 16 || k.n % 16 || k.k < 128 || k.k % 128 || k.batch % 8))
        return fail(k.name + ": q4g128_mma needs n a multiple of 16, k of 128 and batch of 8");
      if (k.format == "f16" && (k.n < 1 || k.k < 32 || k.k % 32 || k.batch > 8))
        return fail(k.name + ": f16 needs n >= 1, k a multiple of 32 and at most 8 tokens");
    } else if (k.op == "quantize") {
      if (k.format != "b32")
        return fail(k.name + ": unknown quantize format '" + k.format + "' (expected b32)");
      if (k.k < 32 || k.k % 32)
        return fail(k.name + ": b32 needs k a multiple of 32");
    } else if (k.op == "kv_store") {
      if (k.format != "f16kv")
        return fail(k.name + ": unknown kv_store format '" + k.format + "' (expected f16kv)");
      if (k.k < 32 || k.k % 32 || k.context < 1)
        return fail(k.name + ": kv_store needs k a multiple of 32 and a context");
    } else if (k.op == "embedding") {
      if (k.format != "q4g128" && k.format != "f16")
        return fail(k.name + ": unknown embedding format '" + k.format +
                    "' (expected q4g128 or f16)");
      const int64_t multiple = k.format == "f16" ? 32 : 128;
      if (k.n < 1 || k.k < multiple || k.k % multiple)
        return fail(k.name + ": embedding needs n >= 1 rows and k a multiple of " +
                    std::to_string(multiple));
    } else if (k.op == "rms_norm" || k.op == "swiglu" || k.op == "add") {
      if (k.format != "f32")
        return fail(k.name + ": unknown " + k.op + " format '" + k.format + "' (expected f32)");
      if (k.k < 32 || k.k % 32)
        return fail(k.name + ": " + k.op + " needs k a multiple of 32");
    } else if (k.op == "attention_split" || k.op == "attention_combine") {
      if (k.format != "f16kv")
        return fail(k.name + ": unknown attention format '" + k.format + "' (expected f16kv)");
      if (k.n < 1 || k.kvHeads < 1 || k.n % k.kvHeads || k.k < 32 || k.k % 32 ||
          k.context < 1 || k.context % 256)
        return fail(k.name + ": attention needs heads a multiple of kv_heads, k a multiple of "
                             "32 and the context a multiple of 256");
    } else if (k.op == "rope") {
      if (k.format != "pairs" && k.format != "halves")
        return fail(k.name + ": unknown rope format '" + k.format +
                    "' (expected pairs or halves)");
      if (k.n < 1 || k.k < 2 || k.k % 2)
        return fail(k.name + ": rope needs n >= 1 heads and an even head size k");
    } else {
      return fail(k.name + ": unknown op '" + k.op +
                  "' (expected linear, quantize, rms_norm, swiglu, add, rope, embedding, "
                  "kv_store, attention_split or attention_combine)");
    }
    m.kernels.push_back(k);
  }
  return std::move(m);
}

StatusOr<std::string> readFile(const std::string &path) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return Status::error(path + ": " + std::strerror(errno));
  std::string data;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    data.append(buf, n);
  bool bad = std::ferror(f);
  std::fclose(f);
  if (bad)
    return Status::error(path + ": read error");
  return std::move(data);
}

/// "sm_90" -> 90 and whether it is arch-specific ("sm_90a"); -1 if malformed.
int targetNumber(const std::string &target, bool &archSpecific) {
  archSpecific = false;
  if (target.compare(0, 3, "sm_") != 0)
    return -1;
  std::string digits = target.substr(3);
  if (!digits.empty() && digits.back() == 'a') {
    archSpecific = true;
    digits.pop_back();
  }
  int64_t v;
  if (!parseInt(digits, v) || v < 10 || v > 1000)
    return -1;
  return int(v);
}

//===----------------------------------------------------------------------===//
// Layouts and the CPU reference (docs/gpu.md)
//===----------------------------------------------------------------------===//

/// The int8 activation row: K codes, K/32 f32 scales, K/16 f32 half sums.
struct XqLayout {
  int64_t k;
  int64_t rowBytes() const { return k + k / 32 * 4 + k / 16 * 4; }
  const int8_t *codes(const uint8_t *row) const { return reinterpret_cast<const int8_t *>(row); }
  float scale(const uint8_t *row, int64_t block) const { return load(row + k + block * 4); }
  float sum(const uint8_t *row, int64_t half) const {
    return load(row + k + k / 32 * 4 + half * 4);
  }
  static float load(const uint8_t *p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
};

/// Packed q4g128: N rows of K/2 code bytes, then (d, m) f16 pairs per group.
struct Q4Layout {
  int64_t n, k;
  int64_t codeBytes() const { return n * k / 2; }
  int64_t bytes() const { return codeBytes() + n * (k / 128) * 4; }
  /// Row r's values in [0, 15], in order.
  void decodeRow(const uint8_t *w, int64_t r, uint8_t *u) const {
    const uint8_t *row = w + r * k / 2;
    for (int64_t j = 0; j < k / 32; ++j)
      for (int b = 0; b < 16; ++b) {
        uint8_t byte = row[j * 16 + b];
        u[j * 32 + b] = byte & 15;
        u[j * 32 + 16 + b] = byte >> 4;
      }
  }
  const uint8_t *params(const uint8_t *w, int64_t r, int64_t g) const {
    return w + codeBytes() + (r * (k / 128) + g) * 4;
  }
  static float half(const uint8_t *p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16ToFloat(h);
  }
};

/// The CPU rounding of one row: d = absmax/127, q = roundEven(x·(1/d))
/// clamped to [-128, 127]; the product with the reciprocal is the CPU
/// kernels' arithmetic, which can differ from x/d by one ulp near a tie.
void quantizeRow(const float *x, int64_t k, uint8_t *row) {
  int8_t *codes = reinterpret_cast<int8_t *>(row);
  for (int64_t j = 0; j < k / 32; ++j) {
    const float *xb = x + j * 32;
    float absMax = 0;
    for (int i = 0; i < 32; ++i)
      absMax = std::max(absMax, std::fabs(xb[i]));
    float d = absMax / 127.0f;
    float inv = d == 0 ? 0.0f : 1.0f / d;
    int sums[2] = {0, 0};
    for (int i = 0; i < 32; ++i) {
      float q = std::clamp(std::nearbyint(xb[i] * inv), -128.0f, 127.0f);
      codes[j * 32 + i] = int8_t(q);
      sums[i / 16] += int(q);
    }
    std::memcpy(row + k + j * 4, &d, 4);
    for (int h = 0; h < 2; ++h) {
      float s = d * float(sums[h]);
      std::memcpy(row + k + k / 32 * 4 + (j * 2 + h) * 4, &s, 4);
    }
  }
}

struct QuantizeCheck {
  int64_t values = 0;
  int64_t ties = 0;      // off by one at a rounding tie: tolerated
  int64_t offByOne = 0;  // off by one elsewhere: tolerated up to 0.1%
  int64_t worse = 0;     // off by more, or a planted tie rounded the wrong way
  int64_t badScales = 0; // d not absmax/127 (within 1e-6)
  int64_t badSums = 0;   // a half sum not d·Σq
  std::string firstProblem;
  bool pass() const {
    return worse == 0 && badScales == 0 && badSums == 0 && offByOne * 1000 <= values;
  }
};

/// The GPU's int8 activations against the CPU's. `exactBlock` (token, block)
/// holds exact ties with d = 1/64 that any division gets right, so there the
/// rounding itself must be half-to-even.
QuantizeCheck checkQuantize(const std::vector<float> &x, int64_t xStride,
                            const std::vector<uint8_t> &gpu, const std::vector<uint8_t> &cpu,
                            const XqLayout &l, int64_t batch,
                            std::pair<int64_t, int64_t> exactBlock) {
  QuantizeCheck c;
  auto note = [&](const std::string &what) {
    if (c.firstProblem.empty())
      c.firstProblem = what;
  };
  for (int64_t t = 0; t < batch; ++t) {
    const uint8_t *g = gpu.data() + t * l.rowBytes();
    const uint8_t *r = cpu.data() + t * l.rowBytes();
    const float *xt = x.data() + t * xStride;
    for (int64_t j = 0; j < l.k / 32; ++j) {
      std::string where = "token " + std::to_string(t) + " block " + std::to_string(j);
      float dG = l.scale(g, j), dC = l.scale(r, j);
      if (!(std::fabs(dG - dC) <= 1e-6f * dC)) {
        ++c.badScales;
        note(where + ": scale " + fmt("%.9g", dG) + ", expected " + fmt("%.9g", dC));
      }
      bool exact = t == exactBlock.first && j == exactBlock.second && dG == kTieScale;
      int64_t sumAbs[2] = {0, 0}, sumQ[2] = {0, 0};
      for (int i = 0; i < 32; ++i) {
        int64_t idx = j * 32 + i;
        int qG = l.codes(g)[idx], qC = l.codes(r)[idx];
        sumQ[i / 16] += qG;
        sumAbs[i / 16] += std::abs(qG);
        ++c.values;
        if (qG == qC)
          continue;
        std::string what = where + " value " + std::to_string(i) + ": code " + std::to_string(qG) +
                           ", expected " + std::to_string(qC);
        if (dC == 0) {
          ++c.worse;
          note(what + " (a block of zeros)");
          continue;
        }
        float ratio = std::fabs(xt[idx] * (1.0f / dC));
        bool nearTie = std::fabs(ratio - std::floor(ratio) - 0.5f) <= 1e-6f * std::max(1.0f, ratio);
        what += " (x/d = " + fmt("%.9g", xt[idx] * (1.0f / dC)) + ")";
        if (exact) {
          ++c.worse;
          note(what + " in a block of exact ties with d = 1/64: rounding must be half to even");
        } else if (std::abs(qG - qC) > 1) {
          ++c.worse;
          note(what);
        } else if (nearTie) {
          ++c.ties;
        } else {
          ++c.offByOne;
          note(what);
        }
      }
      for (int h = 0; h < 2; ++h) {
        float sG = l.sum(g, j * 2 + h);
        double want = double(dG) * double(sumQ[h]);
        double tol = 1e-5 * std::fabs(double(dG)) * double(sumAbs[h]) + 1e-30;
        if (!(std::fabs(double(sG) - want) <= tol)) {
          ++c.badSums;
          note(where + " half " + std::to_string(h) + ": sum " + fmt("%.9g", sG) +
               ", expected d*sum(q) = " + fmt("%.9g", want));
        }
      }
    }
  }
  return c;
}

struct LinearCheck {
  int64_t mismatches = 0;
  double maxAbsError = 0, maxRelError = 0; // relative to the token's largest output
  std::string firstProblem;
  bool pass() const { return mismatches == 0; }
};

/// The kernel's outputs against `ref` ([t·n + r]): mismatches beyond
/// `tolFraction` of the token's largest |reference|, and the largest errors.
LinearCheck compareOutputs(const std::vector<double> &ref, int64_t n, int64_t batch,
                           const std::vector<float> &out, int64_t outStride, double tolFraction) {
  LinearCheck c;
  for (int64_t t = 0; t < batch; ++t) {
    double maxRef = 0;
    for (int64_t r = 0; r < n; ++r)
      maxRef = std::max(maxRef, std::fabs(ref[size_t(t * n + r)]));
    double tol = tolFraction * maxRef;
    for (int64_t r = 0; r < n; ++r) {
      double want = ref[size_t(t * n + r)], got = out[size_t(t * outStride + r)];
      double err = std::fabs(got - want);
      if (!(err <= tol)) {
        ++c.mismatches;
        if (c.firstProblem.empty())
          c.firstProblem = "token " + std::to_string(t) + " row " + std::to_string(r) + ": " +
                           fmt("%.9g", got) + ", expected " + fmt("%.9g", want);
      }
      if (!std::isfinite(err)) {
        c.maxAbsError = c.maxRelError = INFINITY;
        continue;
      }
      c.maxAbsError = std::max(c.maxAbsError, err);
      c.maxRelError = std::max(c.maxRelError, maxRef > 0 ? err / maxRef : err);
    }
  }
  return c;
}

/// The linear kernel against its definition, on the activations the GPU
/// quantized: out[t][r] = Σ_g d·Σ_blocks (Σ u·q)·da + m·Σ_blocks sums.
LinearCheck checkLinear(const std::vector<uint8_t> &w, const Q4Layout &wl,
                        const std::vector<uint8_t> &xq, const XqLayout &xl, int64_t batch,
                        const std::vector<float> &out, int64_t outStride) {
  int64_t n = wl.n, k = wl.k;
  std::vector<double> ref(size_t(batch * n));
  std::vector<uint8_t> u(static_cast<size_t>(k));
  for (int64_t r = 0; r < n; ++r) {
    wl.decodeRow(w.data(), r, u.data());
    for (int64_t t = 0; t < batch; ++t) {
      const uint8_t *row = xq.data() + t * xl.rowBytes();
      const int8_t *q = xl.codes(row);
      double acc = 0;
      for (int64_t g = 0; g < k / 128; ++g) {
        const uint8_t *p = wl.params(w.data(), r, g);
        double d = Q4Layout::half(p), m = Q4Layout::half(p + 2);
        double dot = 0, sums = 0;
        for (int64_t j = g * 4; j < g * 4 + 4; ++j) {
          int32_t isum = 0;
          for (int i = 0; i < 32; ++i)
            isum += int32_t(u[size_t(j * 32 + i)]) * int32_t(q[j * 32 + i]);
          dot += double(isum) * double(xl.scale(row, j));
          sums += double(xl.sum(row, 2 * j)) + double(xl.sum(row, 2 * j + 1));
        }
        acc += d * dot + m * sums;
      }
      ref[size_t(t * n + r)] = acc;
    }
  }
  return compareOutputs(ref, n, batch, out, outStride, 1e-3);
}

/// Rounds to the nearest f16 value, ties to even, from a double: the f16
/// fma rounds d·u + m once, and rounding it to f32 first could round twice.
double roundToHalf(double v) {
  if (v == 0 || !std::isfinite(v))
    return v;
  int e;
  std::frexp(v, &e); // |v| = f·2^e, f in [0.5, 1)
  // 11 significant bits; below 2^-14 the subnormals' fixed step 2^-24.
  int step = std::max(e - 11, -24);
  double r = std::ldexp(std::nearbyint(std::ldexp(v, -step)), step);
  return std::fabs(r) > 65504 ? std::copysign(INFINITY, v) : r;
}

/// The two references of a tensor-core linear, out[t][r] = Σ_k w·x with
/// w = d·u + m, [t·n + r]: `exact` in double from that definition, and `f16`
/// on the values the kernel multiplies, w rounded once to f16 (its f16 fma)
/// and x rounded to f16, their products summed in double.
struct MmaReference {
  std::vector<double> exact, f16;
};

MmaReference mmaReference(const std::vector<uint8_t> &w, const Q4Layout &wl,
                          const std::vector<float> &x, int64_t xStride, int64_t batch) {
  int64_t n = wl.n, k = wl.k;
  MmaReference ref;
  ref.exact.resize(size_t(batch * n));
  ref.f16.resize(size_t(batch * n));
  std::vector<double> xh(size_t(batch * k));
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t i = 0; i < k; ++i)
      xh[size_t(t * k + i)] = fp16ToFloat(floatToFp16(x[size_t(t * xStride + i)]));
  std::vector<uint8_t> u(static_cast<size_t>(k));
  std::vector<double> wExact(static_cast<size_t>(k)), wHalf(static_cast<size_t>(k));
  for (int64_t r = 0; r < n; ++r) {
    wl.decodeRow(w.data(), r, u.data());
    for (int64_t i = 0; i < k; ++i) {
      const uint8_t *p = wl.params(w.data(), r, i / 128);
      // Exact in double: f16 values are multiples of 2^-24 below 2^16.
      double v = double(Q4Layout::half(p)) * u[size_t(i)] + double(Q4Layout::half(p + 2));
      wExact[size_t(i)] = v;
      wHalf[size_t(i)] = roundToHalf(v);
    }
    for (int64_t t = 0; t < batch; ++t) {
      const float *xt = x.data() + t * xStride;
      const double *xht = xh.data() + t * k;
      double exact = 0, half = 0;
      for (int64_t i = 0; i < k; ++i) {
        exact += wExact[size_t(i)] * double(xt[i]);
        half += wHalf[size_t(i)] * xht[i];
      }
      ref.exact[size_t(t * n + r)] = exact;
      ref.f16[size_t(t * n + r)] = half;
    }
  }
  return ref;
}

//===----------------------------------------------------------------------===//
// cuBLAS, dlopen'ed
//===----------------------------------------------------------------------===//

// cuBLAS's enums, as cublas_api.h and library_types.h number them.
constexpr int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;
constexpr int CUDA_R_16F = 2;
constexpr int CUBLAS_COMPUTE_32F = 68;
constexpr int CUBLAS_GEMM_DEFAULT = -1;

struct Cublas {
  using Handle = void *;
  int (*create)(Handle *) = nullptr;
  int (*destroy)(Handle) = nullptr;
  int (*getVersion)(Handle, int *) = nullptr;
  const char *(*statusString)(int) = nullptr; // optional (cuBLAS >= 11.4)
  int (*gemmEx)(Handle, int transa, int transb, int m, int n, int k, const void *alpha,
                const void *a, int aType, int lda, const void *b, int bType, int ldb,
                const void *beta, void *c, int cType, int ldc, int computeType, int algo) = nullptr;
  Handle handle = nullptr;
  std::string library;
  int version = 0;
  std::string absent; // why there is no cuBLAS, when there is none

  bool available() const { return handle != nullptr; }
  std::string error(const char *call, int status) const {
    std::string s = std::string(call) + " failed (status " + std::to_string(status);
    if (statusString)
      if (const char *text = statusString(status))
        s += std::string(", ") + text;
    return s + ")";
  }

  /// Loads cuBLAS: $LOWBIT_CUBLAS, else the first of libcublas.so.13, .so.12
  /// and .so that loads and creates a handle (a cuBLAS newer than the driver
  /// loads but fails there). It runs in the CUDA runtime's primary context,
  /// the one CudaDevice made current.
  void open() {
    std::vector<std::string> names = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
    if (const char *env = std::getenv("LOWBIT_CUBLAS"); env && *env)
      names = {env};
    for (const std::string &name : names) {
      std::string why = tryOpen(name);
      if (why.empty())
        return;
      absent += (absent.empty() ? "" : "; ") + why;
    }
  }
  /// Empty on success, else why `name` is no usable cuBLAS. A library that
  /// loaded stays loaded: unloading it after its runtime started is unsafe.
  std::string tryOpen(const std::string &name) {
    void *lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *e = dlerror();
      return e ? e : name + ": cannot be loaded";
    }
    create = reinterpret_cast<decltype(create)>(dlsym(lib, "cublasCreate_v2"));
    destroy = reinterpret_cast<decltype(destroy)>(dlsym(lib, "cublasDestroy_v2"));
    getVersion = reinterpret_cast<decltype(getVersion)>(dlsym(lib, "cublasGetVersion_v2"));
    statusString = reinterpret_cast<decltype(statusString)>(dlsym(lib, "cublasGetStatusString"));
    gemmEx = reinterpret_cast<decltype(gemmEx)>(dlsym(lib, "cublasGemmEx"));
    if (!create || !destroy || !gemmEx)
      return name + " lacks cublasCreate_v2, cublasDestroy_v2 or cublasGemmEx";
    Handle h = nullptr;
    if (int st = create(&h); st != 0)
      return name + ": " + error("cublasCreate_v2", st);
    handle = h;
    library = name;
    absent.clear();
    if (getVersion)
      (void)getVersion(handle, &version);
    return "";
  }
  void close() {
    if (handle)
      (void)destroy(handle);
    handle = nullptr;
  }
};

//===----------------------------------------------------------------------===//
// Timing
//===----------------------------------------------------------------------===//

/// Microseconds per call of `call` over `reps` back-to-back calls, after
/// kWarmup untimed ones. `call` returns a Status.
template <typename Fn> StatusOr<double> timeCalls(const CudaDevice &dev, int reps, Fn &&call) {
  for (int i = 0; i < kWarmup; ++i)
    if (Status s = call(); !s)
      return s;
  StatusOr<CudaEvent> start = dev.createEvent();
  if (!start)
    return start.status();
  StatusOr<CudaEvent> end = dev.createEvent();
  if (!end)
    return end.status();
  if (Status s = dev.record(*start); !s)
    return s;
  for (int i = 0; i < reps; ++i)
    if (Status s = call(); !s)
      return s;
  if (Status s = dev.record(*end); !s)
    return s;
  StatusOr<float> ms = dev.elapsedMs(*start, *end);
  if (!ms)
    return ms.status();
  if (Status s = dev.synchronize(); !s)
    return s;
  return double(*ms) * 1000.0 / reps;
}

double gbps(double bytes, double us) { return us > 0 ? bytes / (us * 1e3) : NAN; }

/// cuMemcpyDtoD of one large buffer (1 GiB, less if that does not fit).
JsonObject measureCopy(const CudaDevice &dev, int reps, double &readWriteGbps) {
  readWriteGbps = NAN;
  JsonObject j;
  for (size_t bytes = size_t(1) << 30; bytes >= (size_t(64) << 20); bytes /= 4) {
    StatusOr<DeviceBuffer> src = dev.alloc(bytes);
    if (!src)
      continue;
    StatusOr<DeviceBuffer> dst = dev.alloc(bytes);
    if (!dst)
      continue;
    if (Status s = dev.memset(*src, 1, bytes); !s) {
      std::printf("copy: %s\n", s.message().c_str());
      return j.str("error", s.message());
    }
    StatusOr<double> us =
        timeCalls(dev, std::max(5, reps / 5), [&] { return dev.copy(*dst, *src, bytes); });
    if (!us) {
      std::printf("copy: %s\n", us.status().message().c_str());
      return j.str("error", us.status().message());
    }
    double rw = gbps(2.0 * double(bytes), *us), read = gbps(double(bytes), *us);
    readWriteGbps = rw;
    std::printf("copy: cuMemcpyDtoD of %.0f MiB: %.1f us, %.0f GB/s read+written "
                "(%.0f GB/s copied)\n",
                double(bytes) / (1 << 20), *us, rw, read);
    return j.integer("bytes", int64_t(bytes))
        .num("us", *us)
        .num("gbps_read_write", rw)
        .num("gbps_copied", read);
  }
  std::printf("copy: could not allocate two buffers of 64 MiB\n");
  return j.str("error", "could not allocate the copy buffers");
}

//===----------------------------------------------------------------------===//
// One linear kernel
//===----------------------------------------------------------------------===//

/// cuBLAS at one shape: its figures, and its time (NaN when it failed).
struct CublasResult {
  JsonObject json;
  double us = NAN;
};

struct Kernels {
  const CudaDevice &dev;
  const CudaModule &module;
  Cublas &cublas;
  // Variants of one shape (rows per warp) share one cuBLAS measurement and
  // the tensor-core and f16 linears' references.
  std::map<std::array<int64_t, 3>, CublasResult> &cublasByShape;
  std::map<std::array<int64_t, 3>, MmaReference> &mmaReferences;
  std::map<std::array<int64_t, 3>, std::vector<double>> &f16References;
  int reps;
};

/// The q4g128 weights dequantized, d·u + m, rounded to f16: cuBLAS's input.
std::vector<uint16_t> dequantizeToHalf(const Q4Layout &wl, const std::vector<uint8_t> &w) {
  std::vector<uint16_t> wh(size_t(wl.n * wl.k));
  std::vector<uint8_t> u(static_cast<size_t>(wl.k));
  for (int64_t r = 0; r < wl.n; ++r) {
    wl.decodeRow(w.data(), r, u.data());
    for (int64_t i = 0; i < wl.k; ++i) {
      const uint8_t *p = wl.params(w.data(), r, i / 128);
      wh[size_t(r * wl.k + i)] =
          floatToFp16(Q4Layout::half(p) * float(u[size_t(i)]) + Q4Layout::half(p + 2));
    }
  }
  return wh;
}

/// cuBLAS fp16 at the shape of a linear kernel, on its f16 weights `wh`
/// (N rows of K) and its activations rounded to f16:
/// out[B, N] = x[B, K] · W[N, K]ᵀ.
/// Column-major cuBLAS sees the row-major W as A = Wᵀ, K×N with leading
/// dimension K, and computes C[N, B] = Aᵀ·X[K, B] (op T, op N).
/// Its output is checked too, so a wrong call cannot pass for a fast one; a
/// failure is a note, not a failure of lowbit's kernels.
CublasResult runCublas(const Kernels &ctx, const std::vector<uint16_t> &wh, int64_t n, int64_t k,
                       const std::vector<float> &x, int64_t xStride, int64_t batch) {
  const CudaDevice &dev = ctx.dev;
  Cublas &cl = ctx.cublas;
  CublasResult result;
  JsonObject &cb = result.json;
  auto note = [&](const std::string &why) {
    std::printf("  cuBLAS fp16: %s\n", why.c_str());
    cb.str("error", why);
    return result;
  };
  std::vector<uint16_t> xh(size_t(k * batch));
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t i = 0; i < k; ++i)
      xh[size_t(t * k + i)] = floatToFp16(x[size_t(t * xStride + i)]);
  size_t cBytes = size_t(n * batch * 2);
  StatusOr<DeviceBuffer> a = dev.alloc(wh.size() * 2), b = dev.alloc(xh.size() * 2),
                         c = dev.alloc(cBytes);
  for (StatusOr<DeviceBuffer> *buf : {&a, &b, &c})
    if (!*buf)
      return note(buf->status().message());
  Status s = dev.upload(*a, wh.data(), wh.size() * 2);
  if (s)
    s = dev.upload(*b, xh.data(), xh.size() * 2);
  if (s)
    s = dev.memset(*c, 0xff, cBytes);
  if (!s)
    return note(s.message());

  float alpha = 1.0f, beta = 0.0f;
  void *pa = reinterpret_cast<void *>(a->ptr()), *pb = reinterpret_cast<void *>(b->ptr()),
       *pc = reinterpret_cast<void *>(c->ptr());
  auto gemm = [&]() -> Status {
    int st = cl.gemmEx(cl.handle, CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(batch), int(k), &alpha, pa,
                       CUDA_R_16F, int(k), pb, CUDA_R_16F, int(k), &beta, pc, CUDA_R_16F, int(n),
                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    return st == 0 ? Status::success() : Status::error(cl.error("cublasGemmEx", st));
  };
  StatusOr<double> us = timeCalls(dev, ctx.reps, gemm);
  if (!us)
    return note(us.status().message());
  double bytes = double(n * k * 2 + k * batch * 2 + n * batch * 2);
  result.us = *us;
  cb.num("us", *us).integer("bytes", int64_t(bytes)).num("gbps", gbps(bytes, *us));
  std::printf("  cuBLAS fp16: %.2f us, %.0f GB/s (%.1f MB)\n", *us, gbps(bytes, *us), bytes / 1e6);

  // C[r + t·N] against the f16 inputs' product, within 1% of the token's
  // largest output (f16 output).
  std::vector<uint16_t> out(size_t(n * batch));
  if (Status d = dev.download(out.data(), *c, cBytes); !d)
    return note(d.message());
  std::vector<float> xf(xh.size()), wf(static_cast<size_t>(k));
  for (size_t i = 0; i < xh.size(); ++i)
    xf[i] = fp16ToFloat(xh[i]);
  std::vector<double> ref(size_t(batch * n));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < k; ++i)
      wf[size_t(i)] = fp16ToFloat(wh[size_t(r * k + i)]);
    for (int64_t t = 0; t < batch; ++t) {
      double acc = 0;
      for (int64_t i = 0; i < k; ++i)
        acc += double(wf[size_t(i)]) * xf[size_t(t * k + i)];
      ref[size_t(t * n + r)] = acc;
    }
  }
  int64_t wrong = 0;
  std::string first;
  for (int64_t t = 0; t < batch; ++t) {
    double maxRef = 0;
    for (int64_t r = 0; r < n; ++r)
      maxRef = std::max(maxRef, std::fabs(ref[size_t(t * n + r)]));
    for (int64_t r = 0; r < n; ++r) {
      double got = fp16ToFloat(out[size_t(r + t * n)]), want = ref[size_t(t * n + r)];
      if (!(std::fabs(got - want) <= 1e-2 * maxRef) && !wrong++)
        first = "token " + std::to_string(t) + " row " + std::to_string(r) + ": " +
                fmt("%.6g", got) + ", expected " + fmt("%.6g", want);
    }
  }
  cb.boolean("output_ok", wrong == 0);
  if (wrong)
    note(std::to_string(wrong) + " outputs differ from the f16 reference, first " + first);
  return result;
}

/// Random weights in the decode layout: uniform codes, and per group a d in
/// [0.005, 0.015) and an m near −8·d (weights centred on code 8).
std::vector<uint8_t> makeWeights(std::mt19937 &rng, const Q4Layout &wl) {
  std::vector<uint8_t> w(size_t(wl.bytes()));
  // Codes: every nibble of a uniform 64-bit draw is uniform in [0, 15].
  std::mt19937_64 bits(rng());
  for (int64_t i = 0; i < wl.codeBytes(); i += 8) {
    uint64_t r = bits();
    std::memcpy(w.data() + i, &r, size_t(std::min<int64_t>(8, wl.codeBytes() - i)));
  }
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (int64_t i = 0; i < wl.n * (wl.k / 128); ++i) {
    float d = 0.01f * (0.5f + unit(rng));
    float m = -8.0f * d * (0.9f + 0.2f * unit(rng));
    uint16_t pair[2] = {floatToFp16(d), floatToFp16(m)};
    std::memcpy(w.data() + wl.codeBytes() + i * 4, pair, 4);
  }
  return w;
}

/// `batch` rows of N(0, 1) activations at row stride `xStride`. The last
/// token gets an all-zero block (d = 0, q = 0) and a block of exact ties
/// (k + 1/2)/64 with absmax 127/64, so d = 1/64 and x/d = k + 1/2 exactly:
/// only half-to-even rounding is right there (for the quantize kernels).
std::vector<float> makeActivations(std::mt19937 &rng, int64_t k, int64_t batch, int64_t xStride) {
  std::vector<float> x(size_t(batch * xStride), 0.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t i = 0; i < k; ++i)
      x[size_t(t * xStride + i)] = normal(rng);
  float *last = x.data() + (batch - 1) * xStride;
  std::fill(last, last + 32, 0.0f);
  float *ties = last + 32;
  std::uniform_int_distribution<int> whole(0, 125);
  ties[0] = 127.0f * kTieScale;
  for (int i = 1; i < 32; ++i)
    ties[i] = (i % 2 ? -1.0f : 1.0f) * (float(whole(rng)) + 0.5f) * kTieScale;
  return x;
}

/// The inputs of a linear depend on its shape alone, so that kernels of one
/// shape (rows-per-warp variants) see the same values and share the cuBLAS
/// measurement and the references.
uint32_t inputSeed(int64_t n, int64_t k, int64_t batch) {
  return uint32_t(n * 7919 + k * 31 + batch);
}

bool failKernel(const KernelLine &lin, JsonObject &j, const std::string &why) {
  std::printf("FAIL %s: %s\n", lin.name.c_str(), why.c_str());
  j.boolean("pass", false).str("error", why);
  return false;
}

/// cuBLAS at the shape of a linear into j's "cublas", with its time over
/// ours, `us`: `measure` runs it, once per shape (n, k, batch) whatever the
/// weight format.
void addCublas(const Kernels &ctx, int64_t n, int64_t k, int64_t batch, double us, JsonObject &j,
               const std::function<CublasResult()> &measure) {
  if (!ctx.cublas.available())
    return;
  std::array<int64_t, 3> shape = {n, k, batch};
  auto it = ctx.cublasByShape.find(shape);
  if (it == ctx.cublasByShape.end())
    it = ctx.cublasByShape.emplace(shape, measure()).first;
  JsonObject cb = it->second.json;
  if (std::isfinite(it->second.us)) {
    double ratio = it->second.us / us;
    cb.num("ratio", ratio);
    std::printf("  time cuBLAS/ours: %.2f (cuBLAS %.2f us)\n", ratio, it->second.us);
  }
  j.object("cublas", cb);
}

/// Checks and times a tensor-core linear: f32 activations (no quantize
/// kernel) and the weight's codes in the mma order (GpuLayouts.h).
bool runMmaLinear(const Kernels &ctx, const KernelLine &lin, JsonObject &j) {
  const CudaDevice &dev = ctx.dev;
  int64_t n = lin.n, k = lin.k, batch = lin.batch;
  auto fail = [&](const std::string &why) { return failKernel(lin, j, why); };
  StatusOr<CUfunction> fn = ctx.module.function(lin.name);
  if (!fn)
    return fail(fn.status().message());

  std::mt19937 rng(inputSeed(n, k, batch));
  Q4Layout wl{n, k};
  int64_t xStride = roundUp(k, 32), outStride = roundUp(n, 32);
  std::vector<uint8_t> w = makeWeights(rng, wl);
  std::vector<float> x = makeActivations(rng, k, batch, xStride);
  // The same codes reordered, then the same (d, m) pairs.
  std::vector<uint8_t> wMma(w.size());
  packQ4G128ForMma(w.data(), n, k, wMma.data());
  std::copy(w.begin() + wl.codeBytes(), w.end(), wMma.begin() + wl.codeBytes());

  // out starts as NaN bytes so unwritten values show.
  size_t xBytes = x.size() * 4, outBytes = size_t(batch * outStride * 4);
  StatusOr<DeviceBuffer> wBuf = dev.alloc(wMma.size()), xBuf = dev.alloc(xBytes),
                         outBuf = dev.alloc(outBytes);
  for (StatusOr<DeviceBuffer> *b : {&wBuf, &xBuf, &outBuf})
    if (!*b)
      return fail(b->status().message());
  Status s = dev.upload(*wBuf, wMma.data(), wMma.size());
  if (s)
    s = dev.upload(*xBuf, x.data(), xBytes);
  if (s)
    s = dev.memset(*outBuf, 0xff, outBytes);
  if (!s)
    return fail(s.message());

  CUdeviceptr wPtr = wBuf->ptr(), xPtr = xBuf->ptr(), outPtr = outBuf->ptr();
  void *args[] = {&wPtr, &xPtr, &outPtr};
  auto run = [&] { return dev.launch(*fn, lin.grid, lin.block, lin.shared, args); };
  if (s = run(); !s)
    return fail(s.message());
  if (s = dev.synchronize(); !s)
    return fail("running " + lin.name + ": " + s.message());
  std::vector<float> out(size_t(batch * outStride));
  if (s = dev.download(out.data(), *outBuf, outBytes); !s)
    return fail(s.message());

  std::array<int64_t, 3> shape = {n, k, batch};
  auto ref = ctx.mmaReferences.find(shape);
  if (ref == ctx.mmaReferences.end())
    ref = ctx.mmaReferences.emplace(shape, mmaReference(w, wl, x, xStride, batch)).first;
  // The kernel sums the same f16 products as `f16` in f32, in another order.
  LinearCheck lc = compareOutputs(ref->second.f16, n, batch, out, outStride, 2e-3);
  // From the exact product only the distance is reported: f16 rounding is
  // the kernel's definition, not an error.
  LinearCheck exact = compareOutputs(ref->second.exact, n, batch, out, outStride, 0);
  j.boolean("linear_pass", lc.pass())
      .integer("linear_mismatches", lc.mismatches)
      .num("max_abs_error", lc.maxAbsError)
      .num("max_rel_error", lc.maxRelError)
      .num("max_abs_error_exact", exact.maxAbsError)
      .num("max_rel_error_exact", exact.maxRelError);
  if (!lc.firstProblem.empty())
    j.str("linear_first_problem", lc.firstProblem);
  bool pass = lc.pass();
  std::printf("%s %s: linear %s, max error %.3g (%.3g of the largest output) from the f16 "
              "product, %.3g (%.3g) from the exact one\n",
              pass ? "PASS" : "FAIL", lin.name.c_str(), pass ? "ok" : "WRONG", lc.maxAbsError,
              lc.maxRelError, exact.maxAbsError, exact.maxRelError);
  if (!lc.firstProblem.empty())
    std::printf("  linear: %s (%lld outputs off)\n", lc.firstProblem.c_str(),
                (long long)lc.mismatches);

  double bytes = double(wl.bytes()) + double(batch * k * 4) + double(batch * n * 4);
  StatusOr<double> us = timeCalls(dev, ctx.reps, run);
  if (!us)
    return fail("timing: " + us.status().message());
  int l2 = dev.attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
  j.num("us", *us)
      .integer("bytes", int64_t(bytes))
      .num("gbps", gbps(bytes, *us))
      .boolean("weights_fit_l2", l2 > 0 && wl.bytes() <= l2);
  std::printf("  %s: %.2f us, %.0f GB/s (%.1f MB)\n", lin.name.c_str(), *us, gbps(bytes, *us),
              bytes / 1e6);
  addCublas(ctx, n, k, batch, *us, j, [&] {
    return runCublas(ctx, dequantizeToHalf(wl, w), n, k, x, xStride, batch);
  });
  j.boolean("pass", pass);
  return pass;
}

/// N rows of K random f16 weights: sign, 10 mantissa bits and an exponent
/// drawn uniformly, |w| in [2^-6, 4), straight from random bits (the output
/// matrix has half a billion); row 0 starts with ±0, subnormals and 1, which
/// the kernel must widen exactly too.
std::vector<uint16_t> makeHalfWeights(std::mt19937 &rng, int64_t n, int64_t k) {
  std::vector<uint16_t> w(size_t(n * k));
  std::mt19937_64 bits(rng());
  for (size_t i = 0; i < w.size(); i += 4) {
    uint64_t r = bits();
    for (size_t j = 0; j < 4 && i + j < w.size(); ++j) {
      uint16_t h = uint16_t(r >> (16 * j));
      // Sign and mantissa as drawn; three bits pick the exponent field 9-16.
      w[i + j] = uint16_t((h & 0x83ff) | ((9 + ((h >> 10) & 7)) << 10));
    }
  }
  const uint16_t planted[] = {0x0000, 0x8000, 0x0001, 0x83ff, 0x0200, 0x3c00};
  std::copy(std::begin(planted), std::end(planted), w.begin());
  return w;
}

/// The f16 linear from its definition, in double: out[t][r] = Σ_k w·x at
/// [t·n + r] (four partial sums, far below the check's tolerance).
std::vector<double> f16LinearReference(const std::vector<uint16_t> &w, int64_t n, int64_t k,
                                       const std::vector<float> &x, int64_t xStride,
                                       int64_t batch) {
  std::vector<float> widen(65536);
  for (uint32_t h = 0; h < 65536; ++h)
    widen[h] = fp16ToFloat(uint16_t(h));
  std::vector<double> ref(size_t(batch * n)), row(static_cast<size_t>(k));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < k; ++i)
      row[size_t(i)] = widen[w[size_t(r * k + i)]];
    for (int64_t t = 0; t < batch; ++t) {
      const float *xt = x.data() + t * xStride;
      double acc[4] = {0, 0, 0, 0};
      for (int64_t i = 0; i < k; i += 4)
        for (int64_t j = 0; j < 4; ++j)
          acc[j] += row[size_t(i + j)] * double(xt[i + j]);
      ref[size_t(t * n + r)] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
  }
  return ref;
}

/// Checks and times an f16 linear: f32 activations (no quantize kernel),
/// outputs within 1e-5 of the token's largest |output| of the double
/// reference (the kernel's f32 fma sums differ from it by their rounding),
/// the padding columns [N, roundUp(N, 32)) untouched; beside cuBLAS on the
/// same f16 weights.
bool runF16Linear(const Kernels &ctx, const KernelLine &lin, JsonObject &j) {
  const CudaDevice &dev = ctx.dev;
  int64_t n = lin.n, k = lin.k, batch = lin.batch;
  auto fail = [&](const std::string &why) { return failKernel(lin, j, why); };
  StatusOr<CUfunction> fn = ctx.module.function(lin.name);
  if (!fn)
    return fail(fn.status().message());

  std::mt19937 rng(inputSeed(n, k, batch));
  int64_t xStride = roundUp(k, 32), outStride = roundUp(n, 32);
  std::vector<uint16_t> w = makeHalfWeights(rng, n, k);
  std::vector<float> x = makeActivations(rng, k, batch, xStride);

  // out starts as NaN bytes so unwritten values show (and written padding).
  size_t wBytes = w.size() * 2, xBytes = x.size() * 4, outBytes = size_t(batch * outStride * 4);
  StatusOr<DeviceBuffer> wBuf = dev.alloc(wBytes), xBuf = dev.alloc(xBytes),
                         outBuf = dev.alloc(outBytes);
  for (StatusOr<DeviceBuffer> *b : {&wBuf, &xBuf, &outBuf})
    if (!*b)
      return fail(b->status().message());
  Status s = dev.upload(*wBuf, w.data(), wBytes);
  if (s)
    s = dev.upload(*xBuf, x.data(), xBytes);
  if (s)
    s = dev.memset(*outBuf, 0xff, outBytes);
  if (!s)
    return fail(s.message());

  CUdeviceptr wPtr = wBuf->ptr(), xPtr = xBuf->ptr(), outPtr = outBuf->ptr();
  void *args[] = {&wPtr, &xPtr, &outPtr};
  auto run = [&] { return dev.launch(*fn, lin.grid, lin.block, lin.shared, args); };
  if (s = run(); !s)
    return fail(s.message());
  if (s = dev.synchronize(); !s)
    return fail("running " + lin.name + ": " + s.message());
  std::vector<float> out(size_t(batch * outStride));
  if (s = dev.download(out.data(), *outBuf, outBytes); !s)
    return fail(s.message());

  std::array<int64_t, 3> shape = {n, k, batch};
  auto ref = ctx.f16References.find(shape);
  if (ref == ctx.f16References.end())
    ref = ctx.f16References.emplace(shape, f16LinearReference(w, n, k, x, xStride, batch)).first;
  LinearCheck lc = compareOutputs(ref->second, n, batch, out, outStride, 1e-5);
  int64_t paddingWritten = 0;
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t r = n; r < outStride; ++r) {
      uint32_t bits;
      std::memcpy(&bits, &out[size_t(t * outStride + r)], 4);
      paddingWritten += bits != 0xffffffffu;
    }
  bool pass = lc.pass() && paddingWritten == 0;
  j.boolean("linear_pass", lc.pass())
      .integer("linear_mismatches", lc.mismatches)
      .integer("padding_written", paddingWritten)
      .num("max_abs_error", lc.maxAbsError)
      .num("max_rel_error", lc.maxRelError);
  if (!lc.firstProblem.empty())
    j.str("linear_first_problem", lc.firstProblem);
  std::printf("%s %s: linear %s, max error %.3g (%.3g of the largest output)%s\n",
              pass ? "PASS" : "FAIL", lin.name.c_str(), lc.pass() ? "ok" : "WRONG",
              lc.maxAbsError, lc.maxRelError,
              paddingWritten ? ", padding columns written" : "");
  if (!lc.firstProblem.empty())
    std::printf("  linear: %s (%lld outputs off)\n", lc.firstProblem.c_str(),
                (long long)lc.mismatches);

  double bytes = double(wBytes) + double(batch * k * 4) + double(batch * n * 4);
  StatusOr<double> us = timeCalls(dev, ctx.reps, run);
  if (!us)
    return fail("timing: " + us.status().message());
  int l2 = dev.attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
  j.num("us", *us)
      .integer("bytes", int64_t(bytes))
      .num("gbps", gbps(bytes, *us))
      .boolean("weights_fit_l2", l2 > 0 && double(wBytes) <= l2);
  std::printf("  %s: %.2f us, %.0f GB/s (%.1f MB)\n", lin.name.c_str(), *us, gbps(bytes, *us),
              bytes / 1e6);
  addCublas(ctx, n, k, batch, *us, j,
            [&] { return runCublas(ctx, w, n, k, x, xStride, batch); });
  j.boolean("pass", pass);
  return pass;
}

/// Checks and times `lin` (with its quantize kernel `quant` for a decode
/// linear); fills `j`. Returns whether everything passed.
bool runLinear(const Kernels &ctx, const KernelLine &lin, const KernelLine *quant, JsonObject &j) {
  const CudaDevice &dev = ctx.dev;
  int64_t n = lin.n, k = lin.k, batch = lin.batch;
  j.str("name", lin.name)
      .str("op", lin.op)
      .str("format", lin.format)
      .integer("n", n)
      .integer("k", k)
      .integer("batch", batch);
  auto fail = [&](const std::string &why) { return failKernel(lin, j, why); };
  if (lin.format == "q4g128_mma")
    return runMmaLinear(ctx, lin, j);
  if (lin.format == "f16")
    return runF16Linear(ctx, lin, j);
  if (lin.format != "q4g128")
    return fail("linear format '" + lin.format +
                "' is unknown to lowbit-gpu-bench (q4g128, q4g128_mma, f16)");
  if (!quant)
    return fail("kernels.tsv has no quantize kernel with k " + std::to_string(k) + " and batch " +
                std::to_string(batch));
  j.str("quantize", quant->name);
  StatusOr<CUfunction> linFn = ctx.module.function(lin.name);
  if (!linFn)
    return fail(linFn.status().message());
  StatusOr<CUfunction> quantFn = ctx.module.function(quant->name);
  if (!quantFn)
    return fail(quantFn.status().message());

  std::mt19937 rng(inputSeed(n, k, batch));
  Q4Layout wl{n, k};
  XqLayout xl{k};
  int64_t xStride = roundUp(k, 32), outStride = roundUp(n, 32);
  std::vector<uint8_t> w = makeWeights(rng, wl);
  std::vector<float> x = makeActivations(rng, k, batch, xStride);

  std::vector<uint8_t> xqCpu(size_t(batch * xl.rowBytes()));
  for (int64_t t = 0; t < batch; ++t)
    quantizeRow(x.data() + t * xStride, k, xqCpu.data() + t * xl.rowBytes());

  // Device buffers; xq and out start as NaN bytes so unwritten values show.
  size_t xBytes = x.size() * 4, xqBytes = xqCpu.size(), outBytes = size_t(batch * outStride * 4);
  StatusOr<DeviceBuffer> wBuf = dev.alloc(w.size()), xBuf = dev.alloc(xBytes),
                         xqBuf = dev.alloc(xqBytes), outBuf = dev.alloc(outBytes);
  for (StatusOr<DeviceBuffer> *b : {&wBuf, &xBuf, &xqBuf, &outBuf})
    if (!*b)
      return fail(b->status().message());
  Status s = dev.upload(*wBuf, w.data(), w.size());
  if (s)
    s = dev.upload(*xBuf, x.data(), xBytes);
  if (s)
    s = dev.memset(*xqBuf, 0xff, xqBytes);
  if (s)
    s = dev.memset(*outBuf, 0xff, outBytes);
  if (!s)
    return fail(s.message());

  CUdeviceptr xPtr = xBuf->ptr(), xqPtr = xqBuf->ptr(), wPtr = wBuf->ptr(), outPtr = outBuf->ptr();
  void *quantArgs[] = {&xPtr, &xqPtr};
  void *linArgs[] = {&wPtr, &xqPtr, &outPtr};
  auto runQuant = [&] {
    return dev.launch(*quantFn, quant->grid, quant->block, quant->shared, quantArgs);
  };
  auto runLin = [&] { return dev.launch(*linFn, lin.grid, lin.block, lin.shared, linArgs); };

  s = runQuant();
  if (!s)
    return fail(quant->name + ": " + s.message());
  s = runLin();
  if (!s)
    return fail(s.message());
  if (s = dev.synchronize(); !s)
    return fail("running " + quant->name + " and " + lin.name + ": " + s.message());
  std::vector<uint8_t> xqGpu(xqBytes);
  std::vector<float> out(size_t(batch * outStride));
  s = dev.download(xqGpu.data(), *xqBuf, xqBytes);
  if (s)
    s = dev.download(out.data(), *outBuf, outBytes);
  if (!s)
    return fail(s.message());

  QuantizeCheck qc = checkQuantize(x, xStride, xqGpu, xqCpu, xl, batch, {batch - 1, 1});
  LinearCheck lc = checkLinear(w, wl, xqGpu, xl, batch, out, outStride);
  j.boolean("quantize_pass", qc.pass())
      .integer("quantize_values", qc.values)
      .integer("quantize_tie_differences", qc.ties)
      .integer("quantize_off_by_one", qc.offByOne)
      .integer("quantize_worse", qc.worse)
      .integer("quantize_bad_scales", qc.badScales)
      .integer("quantize_bad_sums", qc.badSums)
      .boolean("linear_pass", lc.pass())
      .integer("linear_mismatches", lc.mismatches)
      .num("max_abs_error", lc.maxAbsError)
      .num("max_rel_error", lc.maxRelError);
  if (!qc.firstProblem.empty())
    j.str("quantize_first_problem", qc.firstProblem);
  if (!lc.firstProblem.empty())
    j.str("linear_first_problem", lc.firstProblem);
  bool pass = qc.pass() && lc.pass();
  std::printf("%s %s: quantize %s (%lld of %lld codes off by one, %lld at ties, %lld worse, "
              "%lld bad scales, %lld bad sums); linear %s, max error %.3g (%.3g of the "
              "largest output)\n",
              pass ? "PASS" : "FAIL", lin.name.c_str(), qc.pass() ? "ok" : "WRONG",
              (long long)qc.offByOne, (long long)qc.values, (long long)qc.ties, (long long)qc.worse,
              (long long)qc.badScales, (long long)qc.badSums, lc.pass() ? "ok" : "WRONG",
              lc.maxAbsError, lc.maxRelError);
  if (!qc.firstProblem.empty())
    std::printf("  quantize: %s\n", qc.firstProblem.c_str());
  if (!lc.firstProblem.empty())
    std::printf("  linear: %s (%lld outputs off)\n", lc.firstProblem.c_str(),
                (long long)lc.mismatches);

  // Timing: the linear kernel alone, on the activations already quantized.
  double bytes = double(wl.bytes()) + double(batch * xl.rowBytes()) + double(batch * n * 4);
  StatusOr<double> us = timeCalls(dev, ctx.reps, runLin);
  if (!us)
    return fail("timing: " + us.status().message());
  StatusOr<double> quantUs = timeCalls(dev, ctx.reps, runQuant);
  if (!quantUs)
    return fail("timing " + quant->name + ": " + quantUs.status().message());
  int l2 = dev.attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
  j.num("us", *us)
      .integer("bytes", int64_t(bytes))
      .num("gbps", gbps(bytes, *us))
      .boolean("weights_fit_l2", l2 > 0 && wl.bytes() <= l2)
      .num("quantize_us", *quantUs);
  std::printf("  %s: %.2f us, %.0f GB/s (%.1f MB); quantize %.2f us\n", lin.name.c_str(), *us,
              gbps(bytes, *us), bytes / 1e6, *quantUs);

  addCublas(ctx, n, k, batch, *us, j, [&] {
    return runCublas(ctx, dequantizeToHalf(wl, w), n, k, x, xStride, batch);
  });
  j.boolean("pass", pass);
  return pass;
}

//===----------------------------------------------------------------------===//
// The row kernels: rms_norm, swiglu, rope
//===----------------------------------------------------------------------===//

/// rms_norm from its definition, in double: x·weight / sqrt(Σx²/K + ε).
std::vector<double> rmsNormReference(const std::vector<float> &x, int64_t stride,
                                     const std::vector<float> &weight, int64_t batch,
                                     float eps) {
  int64_t k = int64_t(weight.size());
  std::vector<double> ref(size_t(batch * k));
  for (int64_t t = 0; t < batch; ++t) {
    const float *xt = x.data() + t * stride;
    double squares = 0;
    for (int64_t i = 0; i < k; ++i)
      squares += double(xt[i]) * double(xt[i]);
    double s = 1 / std::sqrt(squares / double(k) + double(eps));
    for (int64_t i = 0; i < k; ++i)
      ref[size_t(t * k + i)] = double(xt[i]) * s * double(weight[size_t(i)]);
  }
  return ref;
}

/// swiglu from its definition, in double: gate / (1 + exp(−gate)) · up.
std::vector<double> swigluReference(const std::vector<float> &gate, const std::vector<float> &up,
                                    int64_t stride, int64_t k, int64_t batch) {
  std::vector<double> ref(size_t(batch * k));
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t i = 0; i < k; ++i) {
      double g = gate[size_t(t * stride + i)], u = up[size_t(t * stride + i)];
      ref[size_t(t * k + i)] = g / (1 + std::exp(-g)) * u;
    }
  return ref;
}

/// rope from its definition: the pair (2i, 2i+1) of each head, or with
/// `halves` (i, i + D/2), rotated by the f32 angle position·freq_i,
/// freq_i = powf(θ, i·(−2/D)) (both in f32), whose sine and cosine are
/// rounded to f32; the rotation in double.
std::vector<double> ropeReference(const std::vector<float> &x, int64_t stride,
                                  const std::vector<int32_t> &positions, int64_t heads,
                                  int64_t headDim, float theta, bool halves) {
  int64_t width = heads * headDim, batch = int64_t(positions.size());
  std::vector<double> ref(size_t(batch * width));
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t i = 0; i < headDim / 2; ++i) {
      float freq = std::pow(theta, float(i) * (-2.0f / float(headDim)));
      float angle = float(positions[size_t(t)]) * freq;
      double c = float(std::cos(double(angle))), s = float(std::sin(double(angle)));
      for (int64_t h = 0; h < heads; ++h) {
        int64_t a = h * headDim + (halves ? i : 2 * i);
        int64_t bIndex = a + (halves ? headDim / 2 : 1);
        double xa = x[size_t(t * stride + a)], xb = x[size_t(t * stride + bIndex)];
        ref[size_t(t * width + a)] = xa * c - xb * s;
        ref[size_t(t * width + bIndex)] = xa * s + xb * c;
      }
    }
  return ref;
}

/// `batch` rows of `width` N(0, sigma) values at row stride `stride`,
/// padding zero.
std::vector<float> randomRows(std::mt19937 &rng, int64_t width, int64_t batch, int64_t stride,
                              float sigma) {
  std::vector<float> x(size_t(batch * stride), 0.0f);
  std::normal_distribution<float> normal(0.0f, sigma);
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t i = 0; i < width; ++i)
      x[size_t(t * stride + i)] = normal(rng);
  return x;
}

/// Checks and times a row kernel (rms_norm, swiglu, rope) against its
/// reference, within `tolerance` of the token's largest |output| (the
/// kernels round in f32 what the references compute in double); fills `j`.
bool runRowKernel(const Kernels &ctx, const KernelLine &kl, JsonObject &j) {
  const CudaDevice &dev = ctx.dev;
  const bool rope = kl.op == "rope", rms = kl.op == "rms_norm";
  const int64_t batch = kl.batch, width = rope ? kl.n * kl.k : kl.k;
  const int64_t stride = roundUp(width, 32);
  j.str("name", kl.name)
      .str("op", kl.op)
      .integer("n", kl.n)
      .integer("k", kl.k)
      .integer("batch", batch)
      .num("param", kl.param);
  auto fail = [&](const std::string &why) { return failKernel(kl, j, why); };
  StatusOr<CUfunction> fn = ctx.module.function(kl.name);
  if (!fn)
    return fail(fn.status().message());

  // Inputs: `first` (x, gate) and `second` (weight, up; rope: positions).
  std::mt19937 rng(inputSeed(kl.n, kl.k, batch));
  std::vector<float> first = randomRows(rng, width, batch, stride, rope || rms ? 1.0f : 3.0f);
  std::vector<float> second;
  std::vector<int32_t> positions;
  std::vector<double> ref;
  double tolerance = 1e-5;
  if (rms) {
    std::uniform_real_distribution<float> weight(0.5f, 1.5f);
    for (int64_t i = 0; i < width; ++i)
      second.push_back(weight(rng));
    ref = rmsNormReference(first, stride, second, batch, kl.param);
  } else if (rope) {
    // Positions up to 2^17 (the first token's, so a single token is
    // rotated too), position 0 (no rotation) and one near 2^31 (angles whose
    // reduction by π/2 needs every bit).
    std::uniform_int_distribution<int32_t> position(1, (1 << 17) - 1);
    for (int64_t t = 0; t < batch; ++t)
      positions.push_back(t == 1 ? 0 : t > 1 && t == batch - 1 ? 2147480000 : position(rng));
    ref = ropeReference(first, stride, positions, kl.n, kl.k, kl.param, kl.format == "halves");
    tolerance = 1e-6;
  } else if (kl.op == "add") {
    second = randomRows(rng, width, batch, stride, 1.0f);
    ref.resize(size_t(batch * width));
    for (int64_t t = 0; t < batch; ++t)
      for (int64_t i = 0; i < width; ++i)
        ref[size_t(t * width + i)] =
            double(first[size_t(t * stride + i)] + second[size_t(t * stride + i)]);
    tolerance = 0; // one f32 sum, exactly the reference's
  } else {
    second = randomRows(rng, width, batch, stride, 1.0f);
    // Gates whose exp(−g) overflows in f32 or nearly, 0, and larger ones.
    const float gates[] = {-100.0f, -88.0f, 0.0f, 20.0f, -20.0f};
    std::copy(std::begin(gates), std::end(gates), first.begin());
    ref = swigluReference(first, second, stride, width, batch);
  }

  size_t rowsBytes = first.size() * 4;
  size_t secondBytes = rope ? positions.size() * 4 : second.size() * 4;
  StatusOr<DeviceBuffer> aBuf = dev.alloc(rowsBytes), bBuf = dev.alloc(secondBytes),
                         outBuf = dev.alloc(rope ? 4 : rowsBytes);
  for (StatusOr<DeviceBuffer> *b : {&aBuf, &bBuf, &outBuf})
    if (!*b)
      return fail(b->status().message());
  Status s = dev.upload(*aBuf, first.data(), rowsBytes);
  if (s)
    s = dev.upload(*bBuf, rope ? static_cast<const void *>(positions.data()) : second.data(),
                   secondBytes);
  // out starts as NaN bytes so unwritten values show.
  if (s && !rope)
    s = dev.memset(*outBuf, 0xff, rowsBytes);
  if (!s)
    return fail(s.message());
  // rope rotates x in place.
  CUdeviceptr aPtr = aBuf->ptr(), bPtr = bBuf->ptr(), outPtr = outBuf->ptr();
  void *args[] = {&aPtr, &bPtr, &outPtr};
  const DeviceBuffer &result = rope ? *aBuf : *outBuf;
  auto run = [&] { return dev.launch(*fn, kl.grid, kl.block, kl.shared, args); };
  if (s = run(); !s)
    return fail(s.message());
  if (s = dev.synchronize(); !s)
    return fail("running " + kl.name + ": " + s.message());
  std::vector<float> out(first.size());
  if (s = dev.download(out.data(), result, rowsBytes); !s)
    return fail(s.message());

  LinearCheck c = compareOutputs(ref, width, batch, out, stride, tolerance);
  j.integer("mismatches", c.mismatches)
      .num("max_abs_error", c.maxAbsError)
      .num("max_rel_error", c.maxRelError);
  if (!c.firstProblem.empty())
    j.str("first_problem", c.firstProblem);
  std::printf("%s %s: %s, max error %.3g (%.3g of the token's largest output)\n",
              c.pass() ? "PASS" : "FAIL", kl.name.c_str(), c.pass() ? "ok" : "WRONG",
              c.maxAbsError, c.maxRelError);
  if (!c.firstProblem.empty())
    std::printf("  %s: %s (%lld values off)\n", kl.op.c_str(), c.firstProblem.c_str(),
                (long long)c.mismatches);

  // Every byte read or written: the rows in and out, and the weight or the
  // positions (rope's rows are read and written in place).
  double bytes = 2.0 * double(batch * width * 4) +
                 (rms ? double(width * 4) : rope ? double(batch * 4) : double(batch * width * 4));
  StatusOr<double> us = timeCalls(dev, ctx.reps, run);
  if (!us)
    return fail("timing: " + us.status().message());
  j.num("us", *us).integer("bytes", int64_t(bytes)).num("gbps", gbps(bytes, *us));
  std::printf("  %s: %.2f us, %.0f GB/s (%.2f MB)\n", kl.name.c_str(), *us, gbps(bytes, *us),
              bytes / 1e6);
  j.boolean("pass", c.pass());
  return c.pass();
}

/// Decode attention from its definition, in double, over the f16 cache
/// values: out = Σ_j softmax_j(q·k_j / sqrt(D)) v_j over j <= position.
std::vector<double> attentionReference(const std::vector<float> &q, int64_t qStride,
                                       const std::vector<uint16_t> &keys,
                                       const std::vector<uint16_t> &values,
                                       const std::vector<int32_t> &positions, int64_t heads,
                                       int64_t kvHeads, int64_t headDim) {
  const int64_t batch = int64_t(positions.size()), width = heads * headDim;
  const int64_t kvWidth = kvHeads * headDim, group = heads / kvHeads;
  std::vector<double> ref(size_t(batch * width));
  std::vector<double> scores;
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      const float *qh = q.data() + t * qStride + h * headDim;
      const int64_t kvOff = h / group * headDim, end = positions[size_t(t)] + 1;
      scores.assign(size_t(end), 0);
      double top = -INFINITY;
      for (int64_t j = 0; j < end; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < headDim; ++d)
          dot += double(qh[d]) * fp16ToFloat(keys[size_t(j * kvWidth + kvOff + d)]);
        scores[size_t(j)] = dot / std::sqrt(double(headDim));
        top = std::max(top, scores[size_t(j)]);
      }
      double sum = 0;
      for (double &sc : scores)
        sum += (sc = std::exp(sc - top));
      for (int64_t d = 0; d < headDim; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < end; ++j)
          acc += scores[size_t(j)] * fp16ToFloat(values[size_t(j * kvWidth + kvOff + d)]);
        ref[size_t(t * width + h * headDim + d)] = acc / sum;
      }
    }
  return ref;
}

/// Checks and times decode attention, its split and combine kernels run one
/// after the other, against the reference within 1e-4 of the token's
/// largest output (f32 sums over thousands of positions); fills `j`.
bool runAttention(const Kernels &ctx, const KernelLine &split, const KernelLine &combine,
                  JsonObject &j) {
  const CudaDevice &dev = ctx.dev;
  const int64_t heads = split.n, kvHeads = split.kvHeads, headDim = split.k;
  const int64_t batch = split.batch, context = split.context;
  const int64_t width = heads * headDim, stride = roundUp(width, 32);
  const int64_t kvWidth = kvHeads * headDim;
  j.str("name", split.name)
      .str("combine", combine.name)
      .str("op", "attention")
      .integer("heads", heads)
      .integer("kv_heads", kvHeads)
      .integer("head_dim", headDim)
      .integer("context", context)
      .integer("batch", batch);
  auto fail = [&](const std::string &why) { return failKernel(split, j, why); };
  StatusOr<CUfunction> splitFn = ctx.module.function(split.name);
  if (!splitFn)
    return fail(splitFn.status().message());
  StatusOr<CUfunction> combineFn = ctx.module.function(combine.name);
  if (!combineFn)
    return fail(combineFn.status().message());

  // The cache full of N(0, 1) f16 values; token 0 sees all of it, the last
  // token one position (a single live split), the others random lengths.
  std::mt19937 rng(inputSeed(heads, headDim, batch));
  std::vector<float> q = randomRows(rng, width, batch, stride, 1.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<uint16_t> keys(size_t(context * kvWidth)), values(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    keys[i] = floatToFp16(normal(rng));
    values[i] = floatToFp16(normal(rng));
  }
  std::uniform_int_distribution<int32_t> position(0, int32_t(context - 1));
  std::vector<int32_t> positions;
  for (int64_t t = 0; t < batch; ++t)
    positions.push_back(t == 0 ? int32_t(context - 1) : t == batch - 1 ? 0 : position(rng));
  std::vector<double> ref =
      attentionReference(q, stride, keys, values, positions, heads, kvHeads, headDim);

  const size_t qBytes = q.size() * 4, cacheBytes = keys.size() * 2;
  const size_t partialBytes = size_t(batch * heads * (context / 256) * (headDim + 2) * 4);
  StatusOr<DeviceBuffer> qBuf = dev.alloc(qBytes), posBuf = dev.alloc(size_t(batch) * 4),
                         kBuf = dev.alloc(cacheBytes), vBuf = dev.alloc(cacheBytes),
                         partBuf = dev.alloc(partialBytes), outBuf = dev.alloc(qBytes);
  for (StatusOr<DeviceBuffer> *b : {&qBuf, &posBuf, &kBuf, &vBuf, &partBuf, &outBuf})
    if (!*b)
      return fail(b->status().message());
  Status s = dev.upload(*qBuf, q.data(), qBytes);
  if (s)
    s = dev.upload(*posBuf, positions.data(), size_t(batch) * 4);
  if (s)
    s = dev.upload(*kBuf, keys.data(), cacheBytes);
  if (s)
    s = dev.upload(*vBuf, values.data(), cacheBytes);
  // NaN bytes: an output or a live split's record left unwritten shows.
  if (s)
    s = dev.memset(*partBuf, 0xff, partialBytes);
  if (s)
    s = dev.memset(*outBuf, 0xff, qBytes);
  if (!s)
    return fail(s.message());
  CUdeviceptr qPtr = qBuf->ptr(), posPtr = posBuf->ptr(), kPtr = kBuf->ptr(),
              vPtr = vBuf->ptr(), partPtr = partBuf->ptr(), outPtr = outBuf->ptr();
  void *splitArgs[] = {&qPtr, &posPtr, &kPtr, &vPtr, &partPtr};
  void *combineArgs[] = {&posPtr, &partPtr, &outPtr};
  auto run = [&]() -> Status {
    Status r = dev.launch(*splitFn, split.grid, split.block, split.shared, splitArgs);
    return r ? dev.launch(*combineFn, combine.grid, combine.block, combine.shared, combineArgs)
             : r;
  };
  if (s = run(); !s)
    return fail(s.message());
  if (s = dev.synchronize(); !s)
    return fail("running " + split.name + ": " + s.message());
  std::vector<float> out(q.size());
  if (s = dev.download(out.data(), *outBuf, qBytes); !s)
    return fail(s.message());

  LinearCheck c = compareOutputs(ref, width, batch, out, stride, 1e-4);
  j.integer("mismatches", c.mismatches)
      .num("max_abs_error", c.maxAbsError)
      .num("max_rel_error", c.maxRelError);
  if (!c.firstProblem.empty())
    j.str("first_problem", c.firstProblem);
  std::printf("%s %s + combine: %s, max error %.3g (%.3g of the token's largest output)\n",
              c.pass() ? "PASS" : "FAIL", split.name.c_str(), c.pass() ? "ok" : "WRONG",
              c.maxAbsError, c.maxRelError);
  if (!c.firstProblem.empty())
    std::printf("  attention: %s (%lld values off)\n", c.firstProblem.c_str(),
                (long long)c.mismatches);

  // The bytes that bound it: each token's live key and value rows of every
  // KV head (heads sharing one read it again, from L2).
  double cacheRead = 0;
  for (int32_t p : positions)
    cacheRead += 2.0 * double(p + 1) * double(kvWidth * 2);
  StatusOr<double> us = timeCalls(dev, ctx.reps, run);
  if (!us)
    return fail("timing: " + us.status().message());
  j.num("us", *us).integer("bytes", int64_t(cacheRead)).num("gbps", gbps(cacheRead, *us));
  std::printf("  %s: %.2f us, %.0f GB/s of KV cache (%.2f MB)\n", split.name.c_str(), *us,
              gbps(cacheRead, *us), cacheRead / 1e6);
  j.boolean("pass", c.pass());
  return c.pass();
}

/// Checks and times the KV cache writer: every stored value must be the f16
/// rounding of the row's (to nearest, ties to even), at the token's
/// position, and the other positions untouched.
bool runKvStore(const Kernels &ctx, const KernelLine &kl, JsonObject &j) {
  const CudaDevice &dev = ctx.dev;
  const int64_t width = kl.k, batch = kl.batch, context = kl.context;
  const int64_t stride = roundUp(width, 32);
  j.str("name", kl.name)
      .str("op", kl.op)
      .integer("k", width)
      .integer("context", context)
      .integer("batch", batch);
  auto fail = [&](const std::string &why) { return failKernel(kl, j, why); };
  StatusOr<CUfunction> fn = ctx.module.function(kl.name);
  if (!fn)
    return fail(fn.status().message());
  std::mt19937 rng(inputSeed(0, width, batch));
  std::vector<float> keys = randomRows(rng, width, batch, stride, 2.0f);
  std::vector<float> values = randomRows(rng, width, batch, stride, 2.0f);
  // Distinct positions: the first and last of the cache among them.
  std::vector<int32_t> positions;
  for (int64_t t = 0; t < batch; ++t)
    positions.push_back(int32_t(t == 0 ? context - 1 : (t * 7919) % context));
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  const int64_t tokens = int64_t(positions.size());
  if (tokens != batch)
    return fail("the context is too short for " + std::to_string(batch) + " distinct positions");

  const size_t rowBytes = keys.size() * 4, cacheBytes = size_t(context * width * 2);
  StatusOr<DeviceBuffer> kBuf = dev.alloc(rowBytes), vBuf = dev.alloc(rowBytes),
                         posBuf = dev.alloc(size_t(batch) * 4), kcBuf = dev.alloc(cacheBytes),
                         vcBuf = dev.alloc(cacheBytes);
  for (StatusOr<DeviceBuffer> *b : {&kBuf, &vBuf, &posBuf, &kcBuf, &vcBuf})
    if (!*b)
      return fail(b->status().message());
  Status s = dev.upload(*kBuf, keys.data(), rowBytes);
  if (s)
    s = dev.upload(*vBuf, values.data(), rowBytes);
  if (s)
    s = dev.upload(*posBuf, positions.data(), size_t(batch) * 4);
  if (s)
    s = dev.memset(*kcBuf, 0xff, cacheBytes);
  if (s)
    s = dev.memset(*vcBuf, 0xff, cacheBytes);
  if (!s)
    return fail(s.message());
  CUdeviceptr kPtr = kBuf->ptr(), vPtr = vBuf->ptr(), posPtr = posBuf->ptr(),
              kcPtr = kcBuf->ptr(), vcPtr = vcBuf->ptr();
  void *args[] = {&kPtr, &vPtr, &posPtr, &kcPtr, &vcPtr};
  auto run = [&] { return dev.launch(*fn, kl.grid, kl.block, kl.shared, args); };
  if (s = run(); !s)
    return fail(s.message());
  if (s = dev.synchronize(); !s)
    return fail("running " + kl.name + ": " + s.message());
  std::vector<uint16_t> kc(size_t(context * width)), vc(kc.size());
  if (s = dev.download(kc.data(), *kcBuf, cacheBytes); s)
    s = dev.download(vc.data(), *vcBuf, cacheBytes);
  if (!s)
    return fail(s.message());
  int64_t mismatches = 0;
  std::string firstProblem;
  std::vector<int64_t> tokenAt(size_t(context), -1);
  for (int64_t t = 0; t < batch; ++t)
    tokenAt[size_t(positions[size_t(t)])] = t;
  for (int64_t p = 0; p < context; ++p)
    for (int64_t i = 0; i < width; ++i) {
      int64_t t = tokenAt[size_t(p)];
      for (int side = 0; side < 2; ++side) {
        uint16_t got = (side ? vc : kc)[size_t(p * width + i)];
        uint16_t want = t < 0 ? uint16_t(0xffff)
                              : floatToFp16((side ? values : keys)[size_t(t * stride + i)]);
        if (got != want && mismatches++ == 0)
          firstProblem = std::string(side ? "value" : "key") + " position " + std::to_string(p) +
                         " value " + std::to_string(i) + ": f16 bits " + std::to_string(got) +
                         ", expected " + std::to_string(want);
      }
    }
  j.integer("mismatches", mismatches);
  if (!firstProblem.empty())
    j.str("first_problem", firstProblem);
  std::printf("%s %s: %s\n", mismatches ? "FAIL" : "PASS", kl.name.c_str(),
              mismatches ? "WRONG" : "ok");
  if (mismatches)
    std::printf("  kv_store: %s (%lld values off)\n", firstProblem.c_str(), (long long)mismatches);
  StatusOr<double> us = timeCalls(dev, ctx.reps, run);
  if (!us)
    return fail("timing: " + us.status().message());
  j.num("us", *us);
  std::printf("  %s: %.2f us\n", kl.name.c_str(), *us);
  j.boolean("pass", mismatches == 0);
  return mismatches == 0;
}

/// Checks and times an embedding: each token's row decoded from its
/// definition (q4g128: w = d·u + m, the product rounded to f32 then the
/// sum, as the kernel; f16: the value widened), so the rows must match
/// exactly; ids include the first and last rows.
bool runEmbedding(const Kernels &ctx, const KernelLine &kl, JsonObject &j) {
  const CudaDevice &dev = ctx.dev;
  const int64_t rows = kl.n, k = kl.k, batch = kl.batch, stride = roundUp(k, 32);
  j.str("name", kl.name)
      .str("op", kl.op)
      .integer("n", rows)
      .integer("k", k)
      .integer("batch", batch);
  auto fail = [&](const std::string &why) { return failKernel(kl, j, why); };
  StatusOr<CUfunction> fn = ctx.module.function(kl.name);
  if (!fn)
    return fail(fn.status().message());

  std::mt19937 rng(inputSeed(rows, k, batch));
  const bool f16 = kl.format == "f16";
  std::vector<uint8_t> table;
  Q4Layout layout{rows, k};
  std::vector<uint16_t> halves;
  if (f16) {
    halves = makeHalfWeights(rng, rows, k);
  } else {
    table.resize(size_t(layout.bytes()));
    std::uniform_int_distribution<int> byte(0, 255);
    for (int64_t i = 0; i < layout.codeBytes(); ++i)
      table[size_t(i)] = uint8_t(byte(rng));
    std::uniform_real_distribution<float> scale(0.001f, 0.02f), offset(-0.1f, 0.1f);
    for (int64_t i = layout.codeBytes(); i < layout.bytes(); i += 4) {
      uint16_t dm[2] = {floatToFp16(scale(rng)), floatToFp16(offset(rng))};
      std::memcpy(&table[size_t(i)], dm, 4);
    }
  }
  std::uniform_int_distribution<int32_t> id(0, int32_t(rows - 1));
  std::vector<int32_t> ids;
  for (int64_t t = 0; t < batch; ++t)
    ids.push_back(t == 0 ? int32_t(rows - 1) : t == 1 ? 0 : id(rng));
  std::vector<double> ref(size_t(batch * k));
  std::vector<uint8_t> u(static_cast<size_t>(k));
  for (int64_t t = 0; t < batch; ++t) {
    const int64_t row = ids[size_t(t)];
    if (f16) {
      for (int64_t i = 0; i < k; ++i)
        ref[size_t(t * k + i)] = fp16ToFloat(halves[size_t(row * k + i)]);
      continue;
    }
    layout.decodeRow(table.data(), row, u.data());
    for (int64_t i = 0; i < k; ++i) {
      const uint8_t *p = layout.params(table.data(), row, i / 128);
      float w = float(u[size_t(i)]) * Q4Layout::half(p);
      ref[size_t(t * k + i)] = double(w + Q4Layout::half(p + 2));
    }
  }

  const size_t outBytes = size_t(batch * stride * 4);
  const void *tableData = f16 ? static_cast<const void *>(halves.data()) : table.data();
  const size_t tableBytes = f16 ? halves.size() * 2 : table.size();
  StatusOr<DeviceBuffer> idBuf = dev.alloc(size_t(batch) * 4), tableBuf = dev.alloc(tableBytes),
                         outBuf = dev.alloc(outBytes);
  for (StatusOr<DeviceBuffer> *b : {&idBuf, &tableBuf, &outBuf})
    if (!*b)
      return fail(b->status().message());
  Status s = dev.upload(*idBuf, ids.data(), size_t(batch) * 4);
  if (s)
    s = dev.upload(*tableBuf, tableData, tableBytes);
  if (s)
    s = dev.memset(*outBuf, 0xff, outBytes);
  if (!s)
    return fail(s.message());
  CUdeviceptr idPtr = idBuf->ptr(), tablePtr = tableBuf->ptr(), outPtr = outBuf->ptr();
  void *args[] = {&idPtr, &tablePtr, &outPtr};
  auto run = [&] { return dev.launch(*fn, kl.grid, kl.block, kl.shared, args); };
  if (s = run(); !s)
    return fail(s.message());
  if (s = dev.synchronize(); !s)
    return fail("running " + kl.name + ": " + s.message());
  std::vector<float> out(size_t(batch * stride));
  if (s = dev.download(out.data(), *outBuf, outBytes); !s)
    return fail(s.message());
  LinearCheck c = compareOutputs(ref, k, batch, out, stride, 0);
  j.integer("mismatches", c.mismatches).num("max_abs_error", c.maxAbsError);
  if (!c.firstProblem.empty())
    j.str("first_problem", c.firstProblem);
  std::printf("%s %s: %s, max error %.3g\n", c.pass() ? "PASS" : "FAIL", kl.name.c_str(),
              c.pass() ? "ok" : "WRONG", c.maxAbsError);
  if (!c.firstProblem.empty())
    std::printf("  embedding: %s (%lld values off)\n", c.firstProblem.c_str(),
                (long long)c.mismatches);
  // The rows read and written.
  double rowRead = f16 ? double(k) * 2 : double(k) / 2 + double(k / 128) * 4;
  double bytes = double(batch) * (rowRead + double(k) * 4);
  StatusOr<double> us = timeCalls(dev, ctx.reps, run);
  if (!us)
    return fail("timing: " + us.status().message());
  j.num("us", *us).integer("bytes", int64_t(bytes)).num("gbps", gbps(bytes, *us));
  std::printf("  %s: %.2f us\n", kl.name.c_str(), *us);
  j.boolean("pass", c.pass());
  return c.pass();
}

//===----------------------------------------------------------------------===//
// A whole decode step
//===----------------------------------------------------------------------===//

/// The model the decode step runs: Llama-3-8B's shapes (bench/gpu-kernels.sh
/// generates its kernels into decode-step/), random q4g128 weights.
struct DecodeModel {
  int64_t dim = 4096, ff = 14336, heads = 32, kvHeads = 8, headDim = 128, vocab = 128256;
  int64_t layers = 32, context = 4096, position = 1024;
  int64_t kvWidth() const { return kvHeads * headDim; }
};

/// One token through every layer and the output head, as the generated
/// kernels would run a GPTQ/AWQ w4g128 Llama-3-8B: captured once as a CUDA
/// graph and replayed, timed beside the same launches issued one by one,
/// and set against the bytes a token must read (every weight once, the KV
/// cache up to the position) at the copy's rate. Where the manifest lacks a
/// kernel it needs, it says which and is skipped (not a failure).
bool runDecodeStep(const CudaDevice &dev, const CudaModule &module, const Manifest &manifest,
                   double copyGbps, int reps, JsonObject &j) {
  const DecodeModel m;
  // The batch-1 kernel of `op` at n × k (attention and its cache writer:
  // for the model's KV heads and context).
  auto find = [&](const std::string &op, int64_t n, int64_t k) -> const KernelLine * {
    const bool attention = op.rfind("attention", 0) == 0, store = op == "kv_store";
    for (const KernelLine &kl : manifest.kernels)
      if (kl.op == op && kl.n == n && kl.k == k && kl.batch == 1 &&
          (op != "linear" || kl.format == "q4g128") &&
          (op != "embedding" || kl.format == "q4g128") && (op != "rope" || kl.format == "pairs") &&
          (!(attention || store) || kl.context == m.context) &&
          (!attention || kl.kvHeads == m.kvHeads))
        return &kl;
    return nullptr;
  };
  struct Need {
    const char *what;
    const KernelLine *line;
  };
  const int64_t kvw = m.kvWidth();
  Need needs[] = {
      {"embedding 128256x4096", find("embedding", m.vocab, m.dim)},
      {"rms_norm 4096", find("rms_norm", 0, m.dim)},
      {"quantize 4096", find("quantize", 0, m.dim)},
      {"quantize 14336", find("quantize", 0, m.ff)},
      {"linear 4096x4096", find("linear", m.dim, m.dim)},
      {"linear 1024x4096", find("linear", kvw, m.dim)},
      {"linear 14336x4096", find("linear", m.ff, m.dim)},
      {"linear 4096x14336", find("linear", m.dim, m.ff)},
      {"linear 128256x4096", find("linear", m.vocab, m.dim)},
      {"rope 32x128", find("rope", m.heads, m.headDim)},
      {"rope 8x128", find("rope", m.kvHeads, m.headDim)},
      {"kv_store 1024", find("kv_store", 0, kvw)},
      {"attention_split 32x8x128", find("attention_split", m.heads, m.headDim)},
      {"attention_combine 32x8x128", find("attention_combine", m.heads, m.headDim)},
      {"add 4096", find("add", 0, m.dim)},
      {"swiglu 14336", find("swiglu", 0, m.ff)},
  };
  std::string missing;
  for (const Need &n : needs)
    if (!n.line)
      missing += std::string(missing.empty() ? "" : ", ") + n.what;
  if (!missing.empty()) {
    j.str("skipped", "kernels.tsv lacks " + missing);
    std::printf("decode step: skipped (kernels.tsv lacks %s)\n", missing.c_str());
    return true;
  }
  auto [emb, norm, quantDim, quantFf, linDim, linKv, linUp, linDown, linHead, ropeQ, ropeK,
        kvStore, split, combine, add, swiglu] = needs;
  auto fail = [&](const std::string &why) {
    std::printf("FAIL decode step: %s\n", why.c_str());
    j.boolean("pass", false).str("error", why);
    return false;
  };
  std::map<const KernelLine *, CUfunction> functions;
  for (const Need &n : needs) {
    StatusOr<CUfunction> fn = module.function(n.line->name);
    if (!fn)
      return fail(fn.status().message());
    functions[n.line] = *fn;
  }

  // Weights: random codes, (d, m) small enough that activations stay finite.
  auto q4Bytes = [](int64_t n, int64_t k) { return size_t(n * k / 2 + n * (k / 128) * 4); };
  std::mt19937 rng(20261203);
  std::vector<uint8_t> blob(q4Bytes(m.vocab, m.dim));
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t &b : blob)
    b = uint8_t(byte(rng));
  std::uniform_real_distribution<float> scale(0.001f, 0.004f);
  auto weight = [&](int64_t n, int64_t k) -> StatusOr<DeviceBuffer> {
    // The codes of the blob, then fresh parameters.
    for (int64_t i = n * k / 2; i < int64_t(q4Bytes(n, k)); i += 4) {
      float d = scale(rng);
      uint16_t dm[2] = {floatToFp16(d), floatToFp16(-7.5f * d)};
      std::memcpy(&blob[size_t(i)], dm, 4);
    }
    StatusOr<DeviceBuffer> buf = dev.alloc(q4Bytes(n, k));
    if (buf)
      if (Status s = dev.upload(*buf, blob.data(), q4Bytes(n, k)); !s)
        return s;
    return buf;
  };
  struct Layer {
    DeviceBuffer wq, wk, wv, wo, wg, wu, wd, kc, vc;
  };
  std::vector<Layer> layers(size_t(m.layers));
  double weightBytes = 0;
  const size_t cacheBytes = size_t(m.context * kvw * 2);
  for (Layer &l : layers) {
    std::pair<DeviceBuffer *, std::pair<int64_t, int64_t>> mats[] = {
        {&l.wq, {m.dim, m.dim}}, {&l.wk, {kvw, m.dim}},  {&l.wv, {kvw, m.dim}},
        {&l.wo, {m.dim, m.dim}}, {&l.wg, {m.ff, m.dim}}, {&l.wu, {m.ff, m.dim}},
        {&l.wd, {m.dim, m.ff}}};
    for (auto &[buf, shape] : mats) {
      StatusOr<DeviceBuffer> w = weight(shape.first, shape.second);
      if (!w)
        return fail(w.status().message());
      *buf = w.take();
      weightBytes += double(q4Bytes(shape.first, shape.second));
    }
    for (DeviceBuffer *cache : {&l.kc, &l.vc}) {
      StatusOr<DeviceBuffer> c = dev.alloc(cacheBytes);
      if (!c)
        return fail(c.status().message());
      // Zero bytes: f16 zeros, finite keys and values.
      if (Status s = dev.memset(*c, 0, cacheBytes); !s)
        return fail(s.message());
      *cache = c.take();
    }
  }
  StatusOr<DeviceBuffer> head = weight(m.vocab, m.dim);
  if (!head)
    return fail(head.status().message());
  weightBytes += double(q4Bytes(m.vocab, m.dim));

  // Activations, rows padded as the kernels expect.
  auto rowBytes = [](int64_t width) { return size_t(roundUp(width, 32) * 4); };
  auto quantBytes = [](int64_t width) { return size_t(XqLayout{width}.rowBytes()); };
  const size_t partialBytes = size_t(m.heads * (m.context / 256) * (m.headDim + 2) * 4);
  std::vector<float> ones(size_t(m.dim), 1.0f);
  std::vector<DeviceBuffer> buffers;
  std::vector<CUdeviceptr> ptrs;
  for (size_t bytes :
       {rowBytes(m.dim), rowBytes(m.dim), quantBytes(m.dim), rowBytes(m.dim), rowBytes(kvw),
        rowBytes(kvw), rowBytes(m.dim), rowBytes(m.dim), rowBytes(m.ff), rowBytes(m.ff),
        rowBytes(m.ff), quantBytes(m.ff), rowBytes(m.dim), rowBytes(m.vocab), partialBytes,
        size_t(m.dim * 4), size_t(4), size_t(4)}) {
    StatusOr<DeviceBuffer> b = dev.alloc(bytes);
    if (!b)
      return fail(b.status().message());
    if (Status s = dev.memset(*b, 0, bytes); !s)
      return fail(s.message());
    ptrs.push_back(b->ptr());
    buffers.push_back(b.take());
  }
  const CUdeviceptr x = ptrs[0], h = ptrs[1], hq = ptrs[2], q = ptrs[3], k = ptrs[4],
                    v = ptrs[5], attn = ptrs[6], o = ptrs[7], g = ptrs[8], u = ptrs[9],
                    sw = ptrs[10], swq = ptrs[11], down = ptrs[12], logits = ptrs[13],
                    partials = ptrs[14], normWeight = ptrs[15], token = ptrs[16],
                    position = ptrs[17];
  int32_t tokenId = 9906, pos = int32_t(m.position);
  Status s = dev.upload(buffers[15], ones.data(), ones.size() * 4);
  if (s)
    s = dev.upload(buffers[16], &tokenId, 4);
  if (s)
    s = dev.upload(buffers[17], &pos, 4);
  if (!s)
    return fail(s.message());

  // The step, on `stream` (null: the default stream).
  int launches = 0;
  auto enqueue = [&](CUstream stream) -> Status {
    launches = 0;
    auto run = [&](const KernelLine *kl, std::initializer_list<CUdeviceptr> args) {
      CUdeviceptr values[8];
      void *params[8];
      size_t i = 0;
      for (CUdeviceptr a : args) {
        values[i] = a;
        params[i] = &values[i];
        ++i;
      }
      ++launches;
      return dev.launch(functions[kl], kl->grid, kl->block, kl->shared, params, stream);
    };
    Status r = run(emb.line, {token, head->ptr(), x});
    for (const Layer &l : layers) {
      for (auto step : std::initializer_list<std::function<Status()>>{
               [&] { return run(norm.line, {x, normWeight, h}); },
               [&] { return run(quantDim.line, {h, hq}); },
               [&] { return run(linDim.line, {l.wq.ptr(), hq, q}); },
               [&] { return run(linKv.line, {l.wk.ptr(), hq, k}); },
               [&] { return run(linKv.line, {l.wv.ptr(), hq, v}); },
               [&] { return run(ropeQ.line, {q, position}); },
               [&] { return run(ropeK.line, {k, position}); },
               [&] { return run(kvStore.line, {k, v, position, l.kc.ptr(), l.vc.ptr()}); },
               [&] { return run(split.line, {q, position, l.kc.ptr(), l.vc.ptr(), partials}); },
               [&] { return run(combine.line, {position, partials, attn}); },
               [&] { return run(quantDim.line, {attn, hq}); },
               [&] { return run(linDim.line, {l.wo.ptr(), hq, o}); },
               [&] { return run(add.line, {x, o, x}); },
               [&] { return run(norm.line, {x, normWeight, h}); },
               [&] { return run(quantDim.line, {h, hq}); },
               [&] { return run(linUp.line, {l.wg.ptr(), hq, g}); },
               [&] { return run(linUp.line, {l.wu.ptr(), hq, u}); },
               [&] { return run(swiglu.line, {g, u, sw}); },
               [&] { return run(quantFf.line, {sw, swq}); },
               [&] { return run(linDown.line, {l.wd.ptr(), swq, down}); },
               [&] { return run(add.line, {x, down, x}); }})
        if (r)
          r = step();
    }
    if (r)
      r = run(norm.line, {x, normWeight, h});
    if (r)
      r = run(quantDim.line, {h, hq});
    if (r)
      r = run(linHead.line, {head->ptr(), hq, logits});
    return r;
  };

  // Bytes a token reads: the weights, the KV cache to the position and the
  // embedding row; the activations (a few hundred KiB) are left out.
  const double bytes = weightBytes + double(m.layers) * 2.0 * double(m.position + 1) *
                                         double(kvw * 2) +
                       double(m.dim / 2 + m.dim / 128 * 4);
  j.integer("layers", m.layers)
      .integer("position", m.position)
      .integer("bytes_per_token", int64_t(bytes))
      .num("copy_gbps_read_write", copyGbps);
  std::printf("decode step: Llama-3-8B shapes, q4g128, %lld layers, position %lld: %.2f GB a "
              "token\n",
              (long long)m.layers, (long long)m.position, bytes / 1e9);

  StatusOr<double> eager = timeCalls(dev, std::max(3, reps / 10), [&] { return enqueue(nullptr); });
  if (!eager)
    return fail("launching the step: " + eager.status().message());
  std::vector<float> out(size_t(m.vocab));
  if (Status d = dev.download(out.data(), buffers[13], out.size() * 4); !d)
    return fail(d.message());
  int64_t nonFinite = 0;
  for (float f : out)
    nonFinite += !std::isfinite(f);
  j.integer("launches", launches).num("us_launched", *eager).integer("non_finite_logits", nonFinite);
  std::printf("  launched one by one: %.1f us a token (%.1f tokens/s)\n", *eager, 1e6 / *eager);

  StatusOr<CudaStream> stream = dev.createStream();
  if (!stream)
    return fail(stream.status().message());
  StatusOr<CudaGraph> graph = dev.capture(*stream, [&] { return enqueue(stream->get()); });
  if (!graph)
    return fail("capturing the step: " + graph.status().message());
  StatusOr<double> replayed =
      timeCalls(dev, reps, [&] { return dev.launch(*graph, *stream); });
  if (!replayed)
    return fail("replaying the step: " + replayed.status().message());
  double rate = gbps(bytes, *replayed);
  j.num("us", *replayed)
      .num("tokens_per_s", 1e6 / *replayed)
      .num("gbps", rate)
      .num("fraction_of_copy", rate / copyGbps);
  std::printf("  as a CUDA graph: %.1f us a token, %.1f tokens/s, %.0f GB/s = %.1f%% of the "
              "copy's %.0f GB/s%s\n",
              *replayed, 1e6 / *replayed, rate, 100.0 * rate / copyGbps, copyGbps,
              nonFinite ? " (some logits not finite: random weights)" : "");
  j.boolean("pass", true);
  return true;
}

int usage() {
  std::fprintf(stderr, "usage: lowbit-gpu-bench DIR [--device N] [--reps R] [--json OUT.json]\n"
                       "  DIR holds kernels.ptx and kernels.tsv (docs/gpu.md)\n");
  return kExitUsage;
}

/// Writes `top` to `path` (if any); false with a message when it cannot.
bool writeJson(const std::string &path, const JsonObject &top) {
  if (path.empty())
    return true;
  FILE *f = std::fopen(path.c_str(), "w");
  std::string text = top.render() + "\n";
  if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0) {
    std::fprintf(stderr, "lowbit-gpu-bench: cannot write %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  // Line-buffered even into a pipe (gpu.sh tees it): a crash keeps the log.
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string dir, jsonPath;
  int64_t ordinal = 0, reps = 50;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](int64_t &out) {
      if (i + 1 >= argc || !parseInt(argv[i + 1], out))
        return false;
      ++i;
      return true;
    };
    if (a == "--device") {
      if (!value(ordinal) || ordinal < 0) {
        std::fprintf(stderr, "lowbit-gpu-bench: --device needs a device number\n");
        return usage();
      }
    } else if (a == "--reps") {
      if (!value(reps) || reps < 1 || reps > 1000000) {
        std::fprintf(stderr, "lowbit-gpu-bench: --reps needs a count of at least 1\n");
        return usage();
      }
    } else if (a == "--json") {
      if (i + 1 >= argc)
        return usage();
      jsonPath = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "lowbit-gpu-bench: unknown option %s\n", a.c_str());
      return usage();
    } else if (dir.empty()) {
      dir = a;
    } else {
      std::fprintf(stderr, "lowbit-gpu-bench: more than one DIR (%s, %s)\n", dir.c_str(),
                   a.c_str());
      return usage();
    }
  }
  if (dir.empty())
    return usage();
  // A JSON path that cannot be written fails now, not after the run.
  if (!jsonPath.empty() && !writeJson(jsonPath, JsonObject()))
    return kExitUsage;

  JsonObject top;
  top.str("kernels_dir", dir).integer("reps", reps);
  // Input problems are reported before the GPU is looked for.
  auto inputError = [&](const std::string &why) {
    std::fprintf(stderr, "lowbit-gpu-bench: %s\n", why.c_str());
    writeJson(jsonPath, top.boolean("pass", false).str("error", why));
    return kExitUsage;
  };
  StatusOr<std::string> ptx = readFile(dir + "/kernels.ptx");
  if (!ptx)
    return inputError(ptx.status().message());
  StatusOr<std::string> tsv = readFile(dir + "/kernels.tsv");
  if (!tsv)
    return inputError(tsv.status().message());
  StatusOr<Manifest> manifest = parseManifest(dir + "/kernels.tsv", *tsv);
  if (!manifest)
    return inputError(manifest.status().message());
  bool archSpecific = false;
  int target = targetNumber(manifest->target, archSpecific);
  if (target < 0)
    return inputError(dir + "/kernels.tsv: unknown target '" + manifest->target +
                      "' (expected sm_80, sm_90, ...)");
  top.str("target", manifest->target);
  std::vector<const KernelLine *> linears, rowKernels;
  for (const KernelLine &k : manifest->kernels)
    if (k.op == "linear" || k.op == "linear_imma") // imma: the decode linear's ABI
      linears.push_back(&k);
    else if (k.op != "quantize" && k.op != "attention_combine")
      rowKernels.push_back(&k);
  if (linears.empty() && rowKernels.empty())
    return inputError(dir + "/kernels.tsv: no kernel to run (quantize kernels run with a linear)");

  // The GPU.
  auto fatal = [&](const std::string &why, int code) {
    std::printf("%s\n", why.c_str());
    if (code == kExitSkip)
      top.str("skipped", why);
    else
      top.boolean("pass", false).str("error", why);
    writeJson(jsonPath, top);
    return code;
  };
  StatusOr<CudaDriver *> driver = CudaDriver::open();
  if (!driver)
    return fatal(driver.status().message(), kExitSkip);
  StatusOr<int> count = CudaDevice::count(**driver);
  if (!count)
    return fatal(count.status().message(), kExitFail);
  if (*count == 0)
    return fatal("no CUDA device: the driver (" + (*driver)->path() + ") sees no GPU", kExitSkip);
  StatusOr<CudaDevice> opened = CudaDevice::open(int(ordinal));
  if (!opened)
    return fatal(opened.status().message(), kExitFail);
  CudaDevice dev = opened.take();
  CudaDevice::Capability cc = dev.computeCapability();
  int driverVersion = 0;
  (void)dev.driver().cuDriverGetVersion(&driverVersion);
  int sms = dev.attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  int memClockKHz = dev.attribute(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE);
  int busBits = dev.attribute(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH);
  int l2 = dev.attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
  JsonObject devJson;
  devJson.integer("ordinal", ordinal)
      .str("name", dev.name())
      .str("compute_capability", std::to_string(cc.major) + "." + std::to_string(cc.minor))
      .integer("sms", sms)
      .integer("memory_bytes", int64_t(dev.totalMemory()))
      .integer("l2_bytes", l2)
      .integer("driver_version", driverVersion);
  // Double data rate: two transfers per memory clock.
  if (memClockKHz > 0 && busBits > 0)
    devJson.num("nominal_gbps", 2.0 * memClockKHz * 1e3 * (busBits / 8) / 1e9);
  top.object("device", devJson);
  std::printf("cuda:%lld: %s, sm_%d%d, %d SMs, %.1f GiB, L2 %.0f MiB, driver %d.%d; kernels for "
              "%s\n",
              (long long)ordinal, dev.name().c_str(), cc.major, cc.minor, sms,
              double(dev.totalMemory()) / (1 << 30), double(l2) / (1 << 20), driverVersion / 1000,
              driverVersion % 1000 / 10, manifest->target.c_str());
  if (cc.number() < target || (archSpecific && cc.number() != target))
    return fatal("cuda:" + std::to_string(ordinal) + " (" + dev.name() + ") is sm_" +
                     std::to_string(cc.number()) + ": it cannot run PTX for " + manifest->target +
                     " (kernels.tsv's target)",
                 kExitFail);

  StatusOr<CudaModule> module = dev.loadPtx(*ptx);
  if (!module)
    return fatal(dir + "/kernels.ptx: " + module.status().message(), kExitFail);

  // The peers first: a kernel that faults leaves the context unusable.
  double copyGbps = NAN;
  top.object("copy", measureCopy(dev, int(reps), copyGbps));
  Cublas cublas;
  cublas.open();
  JsonObject cbJson;
  cbJson.boolean("available", cublas.available());
  if (cublas.available()) {
    cbJson.str("library", cublas.library).integer("version", cublas.version);
    std::printf("cuBLAS: %s, version %d\n", cublas.library.c_str(), cublas.version);
  } else {
    cbJson.str("absent", cublas.absent);
    std::printf("cuBLAS: absent (%s)\n", cublas.absent.c_str());
  }
  top.object("cublas", cbJson);

  std::map<std::array<int64_t, 3>, CublasResult> cublasByShape;
  std::map<std::array<int64_t, 3>, MmaReference> mmaReferences;
  std::map<std::array<int64_t, 3>, std::vector<double>> f16References;
  Kernels ctx{dev, *module, cublas, cublasByShape, mmaReferences, f16References, int(reps)};
  bool allPass = true;
  std::vector<JsonObject> results;
  for (const KernelLine *lin : linears) {
    const KernelLine *quant = nullptr;
    for (const KernelLine &q : manifest->kernels)
      if (q.op == "quantize" && q.k == lin->k && q.batch == lin->batch)
        quant = &q;
    JsonObject j;
    allPass &= runLinear(ctx, *lin, quant, j);
    results.push_back(j);
  }
  for (const KernelLine *row : rowKernels) {
    JsonObject j;
    if (row->op == "attention_split") {
      // Its combine kernel: the same shape and batch.
      const KernelLine *combine = nullptr;
      for (const KernelLine &c : manifest->kernels)
        if (c.op == "attention_combine" && c.n == row->n && c.kvHeads == row->kvHeads &&
            c.k == row->k && c.context == row->context && c.batch == row->batch)
          combine = &c;
      if (!combine)
        allPass &= failKernel(*row, j, "kernels.tsv has no attention_combine kernel for it");
      else
        allPass &= runAttention(ctx, *row, *combine, j);
    } else if (row->op == "kv_store") {
      allPass &= runKvStore(ctx, *row, j);
    } else if (row->op == "embedding") {
      allPass &= runEmbedding(ctx, *row, j);
    } else {
      allPass &= runRowKernel(ctx, *row, j);
    }
    results.push_back(j);
  }
  cublas.close();
  JsonObject step;
  allPass &= runDecodeStep(dev, *module, *manifest, copyGbps, int(reps), step);
  top.object("decode_step", step);
  top.array("kernels", results).boolean("pass", allPass);
  std::printf("%s: %zu linear kernel(s), %zu row kernel(s)\n", allPass ? "PASS" : "FAIL",
              linears.size(), rowKernels.size());
  if (!writeJson(jsonPath, top))
    return kExitFail;
  return allPass ? 0 : kExitFail;
}
