//===- quantize_bench.cpp - ggml quantizer throughput vs llama.cpp --------===//
//
// Single-threaded throughput of lowbit's quantizeRowGgml against llama.cpp's
// ggml_quantize_chunk (node-llama-cpp's libggml-base.so, dlopen'ed) on the
// same random fp32 matrix, with and without an importance vector. MB/s are
// fp32 input megabytes (10^6 bytes) per second; the best of --reps runs is
// reported. The outputs are also compared byte for byte.
//
//   lowbit-quantize-bench [--rows N] [--cols N] [--reps N] [--lib PATH]
//                         [--types q4_0,q6_k,q4_k]
//
//===----------------------------------------------------------------------===//
#include "lowbit/Quant/GgmlQuantize.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace lowbit;

#ifndef LOWBIT_GGML_BASE_LIB
#define LOWBIT_GGML_BASE_LIB "libggml-base.so"
#endif

namespace {

using ChunkFn = size_t (*)(int type, const float *src, void *dst,
                           int64_t start, int64_t nrows, int64_t nPerRow,
                           const float *imatrix);
using InitFn = void (*)(int type);

int ggmlTypeId(DType t) {
  switch (t) {
  case DType::Q4_0: return 2;
  case DType::Q4_1: return 3;
  case DType::Q5_0: return 6;
  case DType::Q5_1: return 7;
  case DType::Q8_0: return 8;
  case DType::Q2_K: return 10;
  case DType::Q3_K: return 11;
  case DType::Q4_K: return 12;
  case DType::Q5_K: return 13;
  case DType::Q6_K: return 14;
  default: return -1;
  }
}

template <typename Fn> double bestSeconds(int reps, Fn &&fn) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

} // namespace

int main(int argc, char **argv) {
  int64_t rows = 2048, cols = 5632;
  int reps = 1;
  std::string lib = LOWBIT_GGML_BASE_LIB;
  std::string typeList = "q4_0,q6_k,q4_k";
  for (int i = 1; i + 1 < argc; i += 2) {
    llvm::StringRef a = argv[i];
    if (a == "--rows")
      rows = std::atoll(argv[i + 1]);
    else if (a == "--cols")
      cols = std::atoll(argv[i + 1]);
    else if (a == "--reps")
      reps = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--lib")
      lib = argv[i + 1];
    else if (a == "--types")
      typeList = argv[i + 1];
    else {
      llvm::errs() << "unknown option " << a << "\n";
      return 2;
    }
  }

  ChunkFn chunk = nullptr;
  InitFn init = nullptr;
  if (void *h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    chunk = reinterpret_cast<ChunkFn>(dlsym(h, "ggml_quantize_chunk"));
    init = reinterpret_cast<InitFn>(dlsym(h, "ggml_quantize_init"));
  } else {
    llvm::errs() << "note: llama.cpp not available (" << dlerror()
                 << "); timing lowbit only\n";
  }

  std::vector<float> x(static_cast<size_t>(rows * cols));
  std::vector<float> imp(static_cast<size_t>(cols));
  std::mt19937 rng(1234);
  std::normal_distribution<float> g(0.0f, 0.02f);
  for (float &v : x)
    v = g(rng);
  std::lognormal_distribution<float> ln(0.0f, 1.0f);
  for (float &v : imp)
    v = ln(rng);
  double mb = double(x.size()) * 4 / 1e6;

  llvm::outs() << "matrix " << rows << " x " << cols << " fp32 ("
               << llvm::format("%.1f", mb) << " MB), single thread, best of "
               << reps << "\n";
  llvm::outs() << llvm::format("%-6s %-8s %12s %12s %8s %s\n", "type",
                               "imatrix", "lowbit MB/s", "ggml MB/s", "ratio",
                               "bytes");

  llvm::SmallVector<llvm::StringRef> names;
  llvm::StringRef(typeList).split(names, ',');
  int failures = 0;
  for (llvm::StringRef name : names) {
    std::optional<DType> type = parseDTypeName(name.lower());
    if (!type || !canQuantizeGgml(*type)) {
      llvm::errs() << "unsupported type " << name << "\n";
      return 2;
    }
    const DTypeInfo &info = getDTypeInfo(*type);
    if (cols % info.blockElems) {
      llvm::errs() << "--cols must be a multiple of " << info.blockElems
                   << "\n";
      return 2;
    }
    size_t rowBytes = size_t(cols / info.blockElems) * info.blockBytes;
    std::vector<uint8_t> ours(rowBytes * rows), theirs(rowBytes * rows);
    for (bool withImp : {false, true}) {
      if (withImp && !ggmlTypeSupportsImportance(*type))
        continue;
      const float *q = withImp ? imp.data() : nullptr;
      double tOurs = bestSeconds(reps, [&] {
        for (int64_t r = 0; r < rows; ++r)
          llvm::cantFail(quantizeRowGgml(*type, x.data() + r * cols,
                                         ours.data() + r * rowBytes, cols, q));
      });
      double tTheirs = 0;
      const char *same = "-";
      if (chunk) {
        int id = ggmlTypeId(*type);
        if (init)
          init(id);
        tTheirs = bestSeconds(reps, [&] {
          chunk(id, x.data(), theirs.data(), 0, rows, cols, q);
        });
        same = ours == theirs ? "identical" : "DIFFERENT";
        failures += ours != theirs;
      }
      llvm::outs() << llvm::format(
          "%-6s %-8s %12.1f %12.1f %8.2f %s\n", info.name.str().c_str(),
          withImp ? "yes" : "no", mb / tOurs, chunk ? mb / tTheirs : 0.0,
          chunk ? tTheirs / tOurs : 0.0, same);
    }
  }
  return failures ? 1 : 0;
}
