//===- llama_quantize.cpp - llama.cpp's llama_model_quantize, dlopen'ed ---===//
//
// What llama-quantize does, through node-llama-cpp's prebuilt libllama.so
// (no llama-quantize binary ships with it), so bench/quantize.sh can time
// llama.cpp and lowbit on the same file in the same run:
//
//   lowbit-llama-quantize IN.gguf OUT.gguf FTYPE_ID NTHREAD
//
// FTYPE_ID is a llama_ftype (Q4_0 = 2, Q8_0 = 7, Q2_K = 10, Q4_K_M = 15,
// Q6_K = 18). The library is LOWBIT_LLAMA_LIB (environment) or the path
// baked in at build time; if it cannot be loaded the tool exits with 77.
//
//   lowbit-llama-quantize --compare A.gguf B.gguf
//
// compares two GGUF files tensor by tensor (by name, so tensor order and
// metadata may differ) and exits 0 if every tensor has the same type, shape
// and bytes.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Formats/Gguf.h"

#include "llvm/Support/raw_ostream.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace lowbit;

#ifndef LOWBIT_LLAMA_LIB
#define LOWBIT_LLAMA_LIB "libllama.so"
#endif

namespace {

/// llama_model_quantize_params begins with `int32_t nthread; enum
/// llama_ftype ftype;`; the rest (types, flags, pointers) keeps llama.cpp's
/// defaults. It is returned by value, so receive it into something at least
/// as large as any version of the real struct.
struct QuantizeParams {
  int32_t nthread;
  int32_t ftype;
  unsigned char rest[1016];
};
static_assert(sizeof(QuantizeParams) == 1024, "oversized on purpose");

using DefaultParamsFn = QuantizeParams (*)();
using QuantizeFn = uint32_t (*)(const char *, const char *,
                                const QuantizeParams *);
using BackendInitFn = void (*)();
using LogCallback = void (*)(int level, const char *text, void *user);
using LogSetFn = void (*)(LogCallback, void *);

void quietLog(int, const char *, void *) {}

int compare(const char *a, const char *b) {
  auto fa = GgufFile::open(a);
  if (!fa) {
    llvm::errs() << llvm::toString(fa.takeError()) << "\n";
    return 2;
  }
  auto fb = GgufFile::open(b);
  if (!fb) {
    llvm::errs() << llvm::toString(fb.takeError()) << "\n";
    return 2;
  }
  size_t same = 0, differ = 0;
  for (const TensorRef &t : (*fa)->tensors()) {
    const TensorRef *u = (*fb)->findTensor(t.name);
    const char *why = nullptr;
    if (!u)
      why = "missing in the second file";
    else if ((*fa)->ggmlType(t.name) != (*fb)->ggmlType(t.name))
      why = "different type";
    else if (t.shape != u->shape)
      why = "different shape";
    else if (t.bytes != u->bytes || std::memcmp(t.data, u->data, t.bytes) != 0)
      why = "different bytes";
    if (why) {
      if (++differ <= 10)
        llvm::outs() << t.name << ": " << why << "\n";
    } else {
      ++same;
    }
  }
  if ((*fb)->tensors().size() != (*fa)->tensors().size()) {
    llvm::outs() << "tensor counts differ: " << (*fa)->tensors().size()
                 << " vs " << (*fb)->tensors().size() << "\n";
    ++differ;
  }
  llvm::outs() << same << " identical, " << differ << " different\n";
  return differ ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 4 && std::strcmp(argv[1], "--compare") == 0)
    return compare(argv[2], argv[3]);
  if (argc != 5) {
    std::fprintf(stderr,
                 "usage: lowbit-llama-quantize IN.gguf OUT.gguf FTYPE_ID NTHREAD\n"
                 "       lowbit-llama-quantize --compare A.gguf B.gguf\n");
    return 2;
  }
  const char *lib = std::getenv("LOWBIT_LLAMA_LIB");
  if (!lib || !*lib)
    lib = LOWBIT_LLAMA_LIB;
  // libllama's RUNPATH finds libggml*.so beside it.
  void *handle = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
  if (!handle) {
    std::fprintf(stderr, "lowbit-llama-quantize: cannot load llama.cpp (%s): "
                         "%s\n", lib, dlerror());
    return 77;
  }
  auto defaults = reinterpret_cast<DefaultParamsFn>(
      dlsym(handle, "llama_model_quantize_default_params"));
  auto quantize =
      reinterpret_cast<QuantizeFn>(dlsym(handle, "llama_model_quantize"));
  auto backendInit =
      reinterpret_cast<BackendInitFn>(dlsym(handle, "llama_backend_init"));
  auto logSet = reinterpret_cast<LogSetFn>(dlsym(handle, "llama_log_set"));
  if (!defaults || !quantize) {
    std::fprintf(stderr, "lowbit-llama-quantize: %s lacks "
                         "llama_model_quantize\n", lib);
    return 77;
  }
  if (logSet && !std::getenv("LOWBIT_LLAMA_VERBOSE"))
    logSet(quietLog, nullptr);
  if (backendInit)
    backendInit();

  QuantizeParams params;
  std::memset(&params, 0, sizeof(params));
  params = defaults();
  params.ftype = std::atoi(argv[3]);
  params.nthread = std::atoi(argv[4]);
  uint32_t rc = quantize(argv[1], argv[2], &params);
  if (rc != 0) {
    std::fprintf(stderr, "lowbit-llama-quantize: llama_model_quantize failed "
                         "(%u)\n", rc);
    return 1;
  }
  return 0;
}
