//===- make_random_gguf.cpp - F16 GGUF of TinyLlama-1.1B shapes ----------===//
//
// Writes a llama-architecture GGUF with TinyLlama-1.1B's shapes (22 layers,
// hidden 2048, ffn 5632, 32/4 heads, vocab 32000, untied output), F16
// matrices filled with normal noise (std 0.02, fixed seed), F32 norms of 1.0
// and a dummy SentencePiece vocabulary (<unk>, <s>, </s>, <0x00>..<0xFF>,
// then "▁tok%d"), so that both llama.cpp and lowbit load it. Meant for
// timing quantizers, not for generating text.
//
//   lowbit-make-random-gguf OUT.gguf
//       [--shape tinyllama-1.1b|llama-3.2-1b|llama-3-8b] [--layers N] [--seed N]
//
// --shape llama-3.2-1b: 16 layers, hidden 2048, ffn 8192, 32/8 heads,
// vocab 128256 (the output head is written untied).
// --shape llama-3-8b: 32 layers, hidden 4096, ffn 14336, 32/8 heads, vocab
// 128256 (about 16 GB).
//
// The file is streamed: one tensor is generated at a time (rows in parallel,
// each row from its own seeded generator, so the bytes do not depend on the
// thread count) and written straight out.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Support/Float16.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace lowbit;

namespace {

constexpr uint32_t kAlignment = 32;
constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1;

// Value type ids (formats.md §2.1).
enum : uint32_t { U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9 };

struct Shape {
  int64_t hidden = 2048, ffn = 5632, heads = 32, kvHeads = 4, vocab = 32000,
          layers = 22, context = 2048;
  int64_t headDim() const { return hidden / heads; }
};

/// A tensor to write: ne is GGUF order (row length first).
struct TensorSpec {
  std::string name;
  uint32_t type;
  std::vector<int64_t> ne;
  uint64_t bytes() const {
    uint64_t n = 1;
    for (int64_t d : ne)
      n *= uint64_t(d);
    return n * (type == kGgmlF32 ? 4 : 2);
  }
};

/// Little-endian byte sink for the header.
struct Buf {
  std::vector<uint8_t> b;
  template <typename T> void pod(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
  }
  void str(const std::string &s) {
    pod<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
};

struct Header {
  Buf buf;
  uint64_t kvCount = 0;
  void key(const std::string &k, uint32_t type) {
    ++kvCount;
    buf.str(k);
    buf.pod<uint32_t>(type);
  }
  void u32(const std::string &k, uint32_t v) { key(k, U32); buf.pod(v); }
  void f32(const std::string &k, float v) { key(k, F32); buf.pod(v); }
  void boolean(const std::string &k, bool v) { key(k, Bool); buf.pod<uint8_t>(v); }
  void string(const std::string &k, const std::string &v) {
    key(k, String);
    buf.str(v);
  }
  void strings(const std::string &k, const std::vector<std::string> &v) {
    key(k, Array);
    buf.pod<uint32_t>(String);
    buf.pod<uint64_t>(v.size());
    for (const std::string &s : v)
      buf.str(s);
  }
  void f32s(const std::string &k, const std::vector<float> &v) {
    key(k, Array);
    buf.pod<uint32_t>(F32);
    buf.pod<uint64_t>(v.size());
    for (float f : v)
      buf.pod(f);
  }
  void i32s(const std::string &k, const std::vector<int32_t> &v) {
    key(k, Array);
    buf.pod<uint32_t>(I32);
    buf.pod<uint64_t>(v.size());
    for (int32_t x : v)
      buf.pod(x);
  }
};

uint64_t splitmix64(uint64_t &s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// xoshiro256+: fast, good enough for 16-bit table indices.
struct Rng {
  uint64_t s[4];
  explicit Rng(uint64_t seed) {
    for (uint64_t &w : s)
      w = splitmix64(seed);
  }
  uint64_t next() {
    uint64_t result = s[0] + s[3], t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
  }
};

/// fp16 values of N(0, std^2) at the 65536 midpoint quantiles: a uniform
/// 16-bit index then gives a (finely discretized) normal sample.
std::vector<uint16_t> normalTable(double stddev) {
  std::vector<uint16_t> table(65536);
  for (int i = 0; i < 65536; ++i) {
    double p = (i + 0.5) / 65536.0;
    // Solve Phi(x) = p by bisection; Phi(x) = erfc(-x / sqrt 2) / 2.
    double lo = -10, hi = 10;
    for (int it = 0; it < 60; ++it) {
      double mid = 0.5 * (lo + hi);
      if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p)
        lo = mid;
      else
        hi = mid;
    }
    table[i] = floatToFp16(float(0.5 * (lo + hi) * stddev));
  }
  return table;
}

bool writeAll(FILE *f, const void *data, size_t n) {
  return std::fwrite(data, 1, n, f) == n;
}

int usage() {
  std::fprintf(stderr, "usage: lowbit-make-random-gguf OUT.gguf "
                       "[--shape tinyllama-1.1b|llama-3.2-1b|llama-3-8b] "
                       "[--layers N] [--seed N]\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  std::string out;
  Shape shape;
  uint64_t seed = 20240601;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--shape" && i + 1 < argc) {
      std::string name = argv[++i];
      if (name == "llama-3.2-1b") {
        shape.ffn = 8192;
        shape.kvHeads = 8;
        shape.vocab = 128256;
        shape.layers = 16;
      } else if (name == "llama-3-8b") {
        shape.hidden = 4096;
        shape.ffn = 14336;
        shape.kvHeads = 8;
        shape.vocab = 128256;
        shape.layers = 32;
      } else if (name != "tinyllama-1.1b") {
        return usage();
      }
    } else if ((a == "--layers" || a == "--seed") && i + 1 < argc) {
      uint64_t v = std::strtoull(argv[++i], nullptr, 10);
      if (a == "--layers")
        shape.layers = int64_t(v);
      else
        seed = v;
    } else if (!a.empty() && a[0] != '-' && out.empty()) {
      out = a;
    } else {
      return usage();
    }
  }
  if (out.empty() || shape.layers <= 0)
    return usage();

  // Tensors in the order lowbit's exporter writes them (embedding, per
  // layer attn_norm q k v o ffn_norm gate up down, output_norm, output).
  std::vector<TensorSpec> tensors;
  int64_t H = shape.hidden, F = shape.ffn, Q = shape.heads * shape.headDim(),
          KV = shape.kvHeads * shape.headDim();
  tensors.push_back({"token_embd.weight", kGgmlF16, {H, shape.vocab}});
  for (int64_t l = 0; l < shape.layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    tensors.push_back({p + "attn_norm.weight", kGgmlF32, {H}});
    tensors.push_back({p + "attn_q.weight", kGgmlF16, {H, Q}});
    tensors.push_back({p + "attn_k.weight", kGgmlF16, {H, KV}});
    tensors.push_back({p + "attn_v.weight", kGgmlF16, {H, KV}});
    tensors.push_back({p + "attn_output.weight", kGgmlF16, {Q, H}});
    tensors.push_back({p + "ffn_norm.weight", kGgmlF32, {H}});
    tensors.push_back({p + "ffn_gate.weight", kGgmlF16, {H, F}});
    tensors.push_back({p + "ffn_up.weight", kGgmlF16, {H, F}});
    tensors.push_back({p + "ffn_down.weight", kGgmlF16, {F, H}});
  }
  tensors.push_back({"output_norm.weight", kGgmlF32, {H}});
  tensors.push_back({"output.weight", kGgmlF16, {H, shape.vocab}});

  // Metadata: the KV set lowbit's exporter writes (formats.md §2.4).
  Header h;
  h.string("general.architecture", "llama");
  h.string("general.name", "random-tinyllama-1.1b");
  h.u32("general.file_type", 1); // MOSTLY_F16
  h.u32("llama.context_length", uint32_t(shape.context));
  h.u32("llama.embedding_length", uint32_t(H));
  h.u32("llama.block_count", uint32_t(shape.layers));
  h.u32("llama.feed_forward_length", uint32_t(F));
  h.u32("llama.attention.head_count", uint32_t(shape.heads));
  h.u32("llama.attention.head_count_kv", uint32_t(shape.kvHeads));
  h.f32("llama.rope.freq_base", 10000.0f);
  h.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  h.u32("llama.attention.key_length", uint32_t(shape.headDim()));
  h.u32("llama.attention.value_length", uint32_t(shape.headDim()));
  h.u32("llama.rope.dimension_count", uint32_t(shape.headDim()));
  h.u32("llama.vocab_size", uint32_t(shape.vocab));

  // Dummy SentencePiece vocabulary; token types per formats.md §8.3.
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;
  auto piece = [&](std::string text, float score, int32_t type) {
    pieces.push_back(std::move(text));
    scores.push_back(score);
    types.push_back(type);
  };
  piece("<unk>", 0.0f, 2);
  piece("<s>", 0.0f, 3);
  piece("</s>", 0.0f, 3);
  for (int b = 0; b < 256; ++b) {
    char text[8];
    std::snprintf(text, sizeof(text), "<0x%02X>", b);
    piece(text, 0.0f, 6);
  }
  for (int i = 0; int64_t(pieces.size()) < shape.vocab; ++i)
    piece("\xE2\x96\x81tok" + std::to_string(i), -float(i), 1);
  h.string("tokenizer.ggml.model", "llama");
  h.string("tokenizer.ggml.pre", "default");
  h.strings("tokenizer.ggml.tokens", pieces);
  h.f32s("tokenizer.ggml.scores", scores);
  h.i32s("tokenizer.ggml.token_type", types);
  h.u32("tokenizer.ggml.bos_token_id", 1);
  h.u32("tokenizer.ggml.eos_token_id", 2);
  h.u32("tokenizer.ggml.unknown_token_id", 0);
  h.boolean("tokenizer.ggml.add_bos_token", true);
  h.boolean("tokenizer.ggml.add_eos_token", false);

  auto padded = [](uint64_t n) {
    return (n + kAlignment - 1) / kAlignment * kAlignment;
  };
  Buf file;
  file.b.insert(file.b.end(), {'G', 'G', 'U', 'F'});
  file.pod<uint32_t>(3);
  file.pod<uint64_t>(tensors.size());
  file.pod<uint64_t>(h.kvCount);
  file.b.insert(file.b.end(), h.buf.b.begin(), h.buf.b.end());
  uint64_t offset = 0, largest = 0;
  for (const TensorSpec &t : tensors) {
    file.str(t.name);
    file.pod<uint32_t>(uint32_t(t.ne.size()));
    for (int64_t d : t.ne)
      file.pod<uint64_t>(uint64_t(d));
    file.pod<uint32_t>(t.type);
    file.pod<uint64_t>(offset);
    offset += padded(t.bytes());
    largest = std::max(largest, t.bytes());
  }
  file.b.resize(padded(file.b.size()), 0);

  std::string tmp = out + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    std::fprintf(stderr, "lowbit-make-random-gguf: %s: %s\n", tmp.c_str(),
                 std::strerror(errno));
    return 1;
  }
  bool ok = writeAll(f, file.b.data(), file.b.size());

  std::vector<uint16_t> table = normalTable(0.02);
  std::vector<uint8_t> data(padded(largest));
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  for (size_t ti = 0; ok && ti < tensors.size(); ++ti) {
    const TensorSpec &t = tensors[ti];
    uint64_t bytes = t.bytes();
    if (t.type == kGgmlF32) {
      float one = 1.0f;
      for (uint64_t i = 0; i < bytes; i += 4)
        std::memcpy(data.data() + i, &one, 4);
    } else {
      int64_t cols = t.ne[0], rows = int64_t(bytes / 2) / cols;
      auto fill = [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          uint64_t rowSeed = seed ^ (uint64_t(ti) << 40) ^ uint64_t(r);
          Rng rng(splitmix64(rowSeed));
          uint16_t *row = reinterpret_cast<uint16_t *>(data.data()) + r * cols;
          int64_t c = 0;
          for (; c + 4 <= cols; c += 4) {
            uint64_t x = rng.next();
            row[c] = table[x & 0xffff];
            row[c + 1] = table[(x >> 16) & 0xffff];
            row[c + 2] = table[(x >> 32) & 0xffff];
            row[c + 3] = table[x >> 48];
          }
          for (; c < cols; ++c)
            row[c] = table[rng.next() >> 48];
        }
      };
      std::vector<std::thread> pool;
      int64_t per = (rows + threads - 1) / threads;
      for (unsigned i = 1; i < threads; ++i)
        pool.emplace_back(fill, std::min(rows, i * per),
                          std::min(rows, (i + 1) * per));
      fill(0, std::min(rows, per));
      for (std::thread &th : pool)
        th.join();
    }
    std::memset(data.data() + bytes, 0, padded(bytes) - bytes);
    ok = writeAll(f, data.data(), padded(bytes));
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::fprintf(stderr, "lowbit-make-random-gguf: writing %s failed: %s\n",
                 out.c_str(), std::strerror(errno));
    std::remove(tmp.c_str());
    return 1;
  }
  std::printf("%s: %zu tensors, %llu bytes\n", out.c_str(), tensors.size(),
              (unsigned long long)(file.b.size() + offset));
  return 0;
}
