//===- lbx_probe.cpp - load time, first token and memory of a .lbx -------===//
//
// Loads a compiled artifact through the runtime's C API and prints one JSON
// object: load time, resident memory after load and after the first token,
// time to first token (prefill of a P-token prompt, then one decode step),
// and the weight bytes a decode step streams (every tensor of the manifest
// except the token embedding, of which one row is read).
//
//   lowbit-lbx-probe MODEL.lbx [--threads N] [--prompt P] [--decode N]
//
//===----------------------------------------------------------------------===//
#include "artifact.pb.h"
#include "lowbit/Runtime/ArtifactFormat.h"
#include "lowbit/Runtime/lowbit_runtime.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// A field of /proc/self/status in kB ("VmRSS", "VmHWM"); -1 if absent.
long statusKb(const char *field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::atol(line.c_str() + n + 1);
  return -1;
}

bool readManifest(const char *path, lowbit::artifact::Manifest &manifest) {
  std::ifstream in(path, std::ios::binary);
  lowbit::ArtifactHeader header{};
  if (!in.read(reinterpret_cast<char *>(&header), sizeof(header)))
    return false;
  std::string bytes(header.manifestSize, '\0');
  in.seekg(std::streamoff(header.manifestOffset));
  if (!in.read(bytes.data(), std::streamsize(bytes.size())))
    return false;
  return manifest.ParseFromString(bytes);
}

int fail(const char *what) {
  std::fprintf(stderr, "lowbit-lbx-probe: %s: %s\n", what,
               lowbit_last_error());
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  const char *path = nullptr;
  int threads = 2;
  int64_t prompt = 512, decode = 16;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (a == "--prompt" && i + 1 < argc)
      prompt = std::atoll(argv[++i]);
    else if (a == "--decode" && i + 1 < argc)
      decode = std::atoll(argv[++i]);
    else if (!path && a[0] != '-')
      path = argv[i];
    else {
      std::fprintf(stderr, "usage: lowbit-lbx-probe MODEL.lbx [--threads N] "
                           "[--prompt P] [--decode N]\n");
      return 2;
    }
  }
  if (!path || prompt < 1)
    return 2;

  long rssStart = statusKb("VmRSS");
  double t0 = now();
  lowbit_model *model = nullptr;
  if (lowbit_model_load(path, &model))
    return fail("load");
  double t1 = now();
  long rssLoaded = statusKb("VmRSS");
  lowbit_model_info info{};
  lowbit_model_get_info(model, &info);

  lowbit_session *session = nullptr;
  if (lowbit_session_create(model, prompt + decode + 1, threads, &session))
    return fail("session");
  double t2 = now();
  long rssSession = statusKb("VmRSS");

  std::vector<int32_t> tokens(static_cast<size_t>(prompt));
  for (int64_t i = 0; i < prompt; ++i)
    tokens[size_t(i)] = int32_t((i * 7919 + 3) % (info.vocab_size - 3) + 3);
  if (lowbit_session_prefill(session, tokens.data(), prompt))
    return fail("prefill");
  uint64_t rng = 1;
  int32_t next = lowbit_sample(lowbit_session_logits(session),
                               info.vocab_size, 0.f, 0, 1.f, &rng);
  double t3 = now();
  long rssFirst = statusKb("VmRSS");
  double decodeS = 0;
  for (int64_t i = 0; i < decode; ++i) {
    double s = now();
    if (lowbit_session_decode(session, next))
      return fail("decode");
    next = lowbit_sample(lowbit_session_logits(session), info.vocab_size, 0.f,
                         0, 1.f, &rng);
    decodeS += now() - s;
  }
  long rssEnd = statusKb("VmRSS"), hwm = statusKb("VmHWM");

  // Bytes one decode step streams: every tensor but the embedding table, of
  // which one row is gathered.
  lowbit::artifact::Manifest manifest;
  uint64_t total = 0, embedding = 0;
  if (readManifest(path, manifest))
    for (const auto &t : manifest.tensors()) {
      total += t.size();
      if (t.name().find("token_embd") != std::string::npos ||
          t.name().find("embed_tokens") != std::string::npos)
        embedding += t.size();
    }
  uint64_t perToken =
      total - embedding +
      (info.vocab_size > 0 ? embedding / uint64_t(info.vocab_size) : 0);

  std::printf(
      "{\"model\": \"%s\", \"target\": \"%s\", \"threads\": %d, "
      "\"weight_bytes\": %llu, \"tensor_bytes\": %llu, "
      "\"embedding_bytes\": %llu, \"bytes_per_token\": %llu, "
      "\"load_s\": %.6f, \"session_s\": %.6f, \"prompt\": %lld, "
      "\"first_token_s\": %.6f, \"ttft_from_start_s\": %.6f, "
      "\"decode_steps\": %lld, \"decode_tokens_per_second\": %.3f, "
      "\"rss_start_kb\": %ld, \"rss_after_load_kb\": %ld, "
      "\"rss_after_session_kb\": %ld, \"rss_after_first_token_kb\": %ld, "
      "\"rss_end_kb\": %ld, \"rss_peak_kb\": %ld}\n",
      path, info.target ? info.target : "", threads,
      (unsigned long long)info.weight_bytes, (unsigned long long)total,
      (unsigned long long)embedding, (unsigned long long)perToken, t1 - t0,
      t2 - t1, (long long)prompt, t3 - t2, t3 - t0, (long long)decode,
      decodeS > 0 ? double(decode) / decodeS : 0.0, rssStart, rssLoaded,
      rssSession, rssFirst, rssEnd, hwm);
  lowbit_session_free(session);
  lowbit_model_free(model);
  return 0;
}
