//===- lowbit_gpu_model_bench.cpp - GPU artifacts: perplexity and speed ---===//
//
// Runs GPU artifacts (lowbit-compile --target=sm_90) on a GPU through the
// runtime alone (no MLIR/LLVM), so it builds in a runtime-only build and
// travels to a GPU machine with the artifacts (bench/gpu-models.sh). For
// each artifact:
//   - P2 perplexity (llama.cpp's protocol: a BOS-prefixed stream, windows of
//     --ctx tokens each starting with BOS, the second half scored) on --text,
//     compared with a reference figure (the CPU artifact's, computed by this
//     same program on the CPU: --cpu) within --tolerance;
//   - pp (one forward of --pp tokens) and tg (--tg single-token steps after
//     one token of prompt), best of --reps, and tg's weight bytes per second
//     against a device-to-device copy measured in the same run.
//
//   lowbit-gpu-model-bench --text FILE [--ctx 512] [--chunks N] [--json OUT]
//       [--device N] [--reps 3] [--pp 512] [--tg 128] [--tolerance 0.02]
//       NAME=MODEL.lbx[:REFERENCE_PPL] ...
//   lowbit-gpu-model-bench --cpu --text FILE ... NAME=MODEL.lbx ...
//
// --cpu runs CPU artifacts with the CPU session and prints their P2 figures
// as NAME=PPL, the references of a later GPU run. Exit status: 0 pass, 1 a
// check failed, 77 no GPU (or no driver).
//
//===----------------------------------------------------------------------===//
#include "../../runtime/gpu/CudaDriver.h"
#include "lowbit/Runtime/GpuSession.h"
#include "lowbit/Runtime/Runtime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

using namespace lowbit;
using namespace lowbit::rt;

namespace {

constexpr int kExitFail = 1, kExitSkip = 77;

struct Options {
  std::string text, json;
  int64_t ctx = 512, chunks = -1, pp = 512, tg = 128;
  int device = 0, reps = 3;
  double tolerance = 0.02;
  bool cpu = false;
  std::vector<std::string> models;
};

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// log softmax(logits)[target], in double.
double logProbability(const float *logits, int64_t vocab, int32_t target) {
  double peak = *std::max_element(logits, logits + vocab), sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    sum += std::exp(double(logits[i]) - peak);
  return double(logits[target]) - peak - std::log(sum);
}

/// llama-perplexity's protocol over `text`.
StatusOr<double> perplexityP2(Engine &engine, const Tokenizer &tok, int32_t bos,
                              std::string text, const Options &o) {
  if (!text.empty() && text.back() == '\n')
    text.pop_back(); // llama-perplexity -f drops one trailing newline
  std::vector<int32_t> tokens = {bos};
  std::vector<int32_t> body = tok.encode(text);
  tokens.insert(tokens.end(), body.begin(), body.end());
  int64_t windows = int64_t(tokens.size()) / o.ctx;
  if (o.chunks >= 0)
    windows = std::min(windows, o.chunks);
  if (windows == 0 || o.ctx > engine.contextLength())
    return Status::error("no window of " + std::to_string(o.ctx) + " tokens fits");
  std::vector<int32_t> positions(size_t(o.ctx));
  std::iota(positions.begin(), positions.end(), 0);
  double nll = 0;
  int64_t scored = 0;
  for (int64_t w = 0; w < windows; ++w) {
    std::vector<int32_t> window(tokens.begin() + w * o.ctx, tokens.begin() + (w + 1) * o.ctx);
    window[0] = bos;
    engine.reset();
    if (Status s = engine.forward(window.data(), positions.data(), o.ctx, true); !s)
      return s;
    for (int64_t j = o.ctx / 2; j + 1 < o.ctx; ++j, ++scored)
      nll -= logProbability(engine.logits() + j * engine.vocabSize(), engine.vocabSize(),
                            window[size_t(j + 1)]);
  }
  double ppl = std::exp(nll / double(scored));
  if (!std::isfinite(ppl))
    return Status::error("perplexity is not finite (NaN or infinite logits)");
  return ppl;
}

/// Best tokens/s of `reps` runs of `work`, which runs `tokens` tokens.
StatusOr<double> bestRate(int reps, int64_t tokens, const std::function<Status()> &work) {
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    double start = seconds();
    if (Status s = work(); !s)
      return s;
    best = std::max(best, double(tokens) / (seconds() - start));
  }
  return best;
}

/// Read+written GB/s of a 1 GiB device-to-device copy (0 if unmeasured).
double copyBandwidth(int device) {
  StatusOr<CudaDevice> dev = CudaDevice::open(device);
  if (!dev)
    return 0;
  const size_t bytes = size_t(1) << 30;
  StatusOr<DeviceBuffer> a = dev->alloc(bytes), b = dev->alloc(bytes);
  if (!a || !b)
    return 0;
  StatusOr<CudaEvent> start = dev->createEvent(), end = dev->createEvent();
  if (!start || !end || !dev->copy(*b, *a, bytes))
    return 0;
  float best = 0;
  for (int r = 0; r < 10; ++r) {
    if (!dev->record(*start) || !dev->copy(*b, *a, bytes) || !dev->record(*end))
      return 0;
    StatusOr<float> ms = dev->elapsedMs(*start, *end);
    if (!ms)
      return 0;
    float gbps = float(2.0 * double(bytes) / (double(*ms) * 1e6));
    best = std::max(best, gbps);
  }
  return best;
}

bool parse(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char * { return i + 1 < argc ? argv[++i] : nullptr; };
    const char *v = nullptr;
    if (a == "--cpu") {
      o.cpu = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      o.models.push_back(a);
      continue;
    }
    if (!(v = value())) {
      std::fprintf(stderr, "lowbit-gpu-model-bench: %s needs a value\n", a.c_str());
      return false;
    }
    char *end = nullptr;
    long long n = std::strtoll(v, &end, 10);
    bool number = end && *end == '\0';
    if (a == "--text")
      o.text = v;
    else if (a == "--json")
      o.json = v;
    else if (a == "--tolerance")
      o.tolerance = std::atof(v);
    else if (number && a == "--ctx")
      o.ctx = n;
    else if (number && a == "--chunks")
      o.chunks = n;
    else if (number && a == "--device")
      o.device = int(n);
    else if (number && a == "--reps")
      o.reps = int(n);
    else if (number && a == "--pp")
      o.pp = n;
    else if (number && a == "--tg")
      o.tg = n;
    else {
      std::fprintf(stderr, "lowbit-gpu-model-bench: unknown option or bad value: %s %s\n",
                   a.c_str(), v);
      return false;
    }
  }
  if (o.text.empty() || o.models.empty()) {
    std::fprintf(stderr, "usage: lowbit-gpu-model-bench [--cpu] --text FILE [options] "
                         "NAME=MODEL.lbx[:REFERENCE_PPL] ...\n");
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  if (!parse(argc, argv, o))
    return kExitFail;
  std::ifstream in(o.text, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "lowbit-gpu-model-bench: %s: cannot read\n", o.text.c_str());
    return kExitFail;
  }
  std::stringstream textStream;
  textStream << in.rdbuf();
  const std::string text = textStream.str();

  double copyGbps = 0;
  if (!o.cpu) {
    StatusOr<CudaDevice> dev = CudaDevice::open(o.device);
    if (!dev) {
      std::printf("skipped: %s\n", dev.status().message().c_str());
      return kExitSkip;
    }
    std::printf("GPU: cuda:%d, %s, sm_%d\n", o.device, dev->name().c_str(),
                dev->computeCapability().number());
    copyGbps = copyBandwidth(o.device);
    std::printf("copy: %.0f GB/s read+written\n", copyGbps);
  }

  bool pass = true;
  std::string json = "{\"copy_gbps\": " + std::to_string(copyGbps) + ", \"models\": [";
  for (size_t m = 0; m < o.models.size(); ++m) {
    // NAME=PATH[:REFERENCE]
    std::string spec = o.models[m], name = spec, path = spec;
    double reference = NAN;
    if (size_t eq = spec.find('='); eq != std::string::npos) {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    }
    if (size_t colon = path.rfind(':'); colon != std::string::npos) {
      reference = std::atof(path.c_str() + colon + 1);
      path.resize(colon);
    }
    auto fail = [&](const std::string &why) {
      std::printf("FAIL %s: %s\n", name.c_str(), why.c_str());
      json += std::string(m ? ", " : "") + "{\"name\": \"" + name + "\", \"pass\": false}";
      pass = false;
    };
    StatusOr<std::unique_ptr<Model>> model = Model::load(path);
    if (!model) {
      fail(model.status().message());
      continue;
    }
    const ModelInfo &info = (*model)->info();
    std::unique_ptr<Engine> engine;
    if (o.cpu) {
      StatusOr<std::unique_ptr<Session>> s = Session::create(**model);
      if (!s) {
        fail(s.status().message());
        continue;
      }
      engine = s.take();
    } else {
      GpuSessionOptions options;
      options.device = o.device;
      StatusOr<std::unique_ptr<GpuSession>> s = GpuSession::create(**model, options);
      if (!s) {
        fail(s.status().message());
        continue;
      }
      engine = s.take();
    }
    double start = seconds();
    StatusOr<double> ppl = perplexityP2(*engine, *(*model)->tokenizer(),
                                        int32_t(info.bosTokenId), text, o);
    if (!ppl) {
      fail(ppl.status().message());
      continue;
    }
    double pplSeconds = seconds() - start;
    if (o.cpu) {
      std::printf("%s=%.6f\n", name.c_str(), *ppl);
      continue;
    }
    bool ok = std::isnan(reference) || std::fabs(*ppl - reference) <= o.tolerance;
    pass &= ok;
    // Speed: pp of o.pp tokens, tg of o.tg steps after one token.
    std::vector<int32_t> tokens(size_t(std::max(o.pp, o.tg + 1)), int32_t(info.bosTokenId));
    std::vector<int32_t> positions(tokens.size());
    std::iota(positions.begin(), positions.end(), 0);
    int64_t pp = std::min(o.pp, engine->contextLength());
    int64_t tg = std::min(o.tg, engine->contextLength() - 1);
    StatusOr<double> ppRate = bestRate(o.reps, pp, [&] {
      engine->reset();
      return engine->forward(tokens.data(), positions.data(), pp, false);
    });
    StatusOr<double> tgRate = bestRate(o.reps, tg, [&] {
      engine->reset();
      Status s = engine->forward(tokens.data(), positions.data(), 1, false);
      for (int64_t t = 1; s && t <= tg; ++t)
        s = engine->forward(&tokens[size_t(t)], &positions[size_t(t)], 1, false);
      return s;
    });
    if (!ppRate || !tgRate) {
      fail(!ppRate ? ppRate.status().message() : tgRate.status().message());
      continue;
    }
    // A decode step reads every weight byte once (the embedding's one row
    // aside): the bandwidth bound is copy's read rate over those bytes.
    double weightGB = double(info.weightBytes) / 1e9;
    double bound = copyGbps / 2 / weightGB;
    std::printf("%s %s: P2 %.4f (reference %.4f, |diff| %.4f <= %.2f: %s) in %.1f s; "
                "pp%lld %.1f t/s; tg%lld %.1f t/s, %.1f GB/s of weights, %.1f%% of the "
                "copy-bound %.1f t/s\n",
                ok ? "ok  " : "FAIL", name.c_str(), *ppl, reference,
                std::fabs(*ppl - reference), o.tolerance, ok ? "yes" : "NO", pplSeconds,
                (long long)pp, *ppRate, (long long)tg, *tgRate, *tgRate * weightGB,
                bound > 0 ? 100.0 * *tgRate / bound : 0.0, bound);
    char entry[1024];
    std::snprintf(entry, sizeof entry,
                  "%s{\"name\": \"%s\", \"target\": \"%s\", \"p2\": %.6f, \"reference_p2\": "
                  "%.6f, \"pass\": %s, \"pp_tokens\": %lld, \"pp_tps\": %.2f, \"tg_tokens\": "
                  "%lld, \"tg_tps\": %.2f, \"weight_bytes\": %llu, \"tg_percent_of_copy_bound\": "
                  "%.2f}",
                  m ? ", " : "", name.c_str(), info.target.c_str(), *ppl,
                  std::isnan(reference) ? -1.0 : reference, ok ? "true" : "false",
                  (long long)pp, *ppRate, (long long)tg, *tgRate,
                  (unsigned long long)info.weightBytes,
                  bound > 0 ? 100.0 * *tgRate / bound : 0.0);
    json += entry;
  }
  json += std::string("], \"pass\": ") + (pass ? "true" : "false") + "}\n";
  if (!o.json.empty() && !o.cpu) {
    std::ofstream out(o.json);
    out << json;
  }
  return pass ? 0 : kExitFail;
}
