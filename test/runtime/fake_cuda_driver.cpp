//===- fake_cuda_driver.cpp - A CUDA driver stand-in for machines without one ===//
//
// Loaded through LOWBIT_CUDA_DRIVER, it lets a GPU artifact run where there
// is no GPU: "device" memory is host memory, and each launch runs a CPU
// rendering of the kernel its name describes, written from the kernel ABI
// of docs/gpu.md (not from the generated code). So the GPU session's host
// side, the compiler's launch plan and the weight layouts it packs are
// checked end to end: a GPU artifact's perplexity on this driver must match
// its CPU artifact's. The PTX itself is not run; ptxas checks it, and
// bench/gpu.sh runs it on a GPU.
//
// It also checks the plumbing: every kernel a launch names is in the loaded
// module's image, every argument of every launch (all are pointers in
// lowbit's kernel ABI) points inside a live allocation, copies stay inside
// their allocations, and graphs replay what was captured. Any violation
// fails the call and is printed on stderr.
//
// FAKE_CUDA_SM: the compute capability it reports (default 90).
// FAKE_CUDA_LOG: a file that gets "launches N" at exit.
//
//===----------------------------------------------------------------------===//
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gpu_kernel_emulation.h"

extern "C" {

typedef int CUresult;
typedef uint64_t CUdeviceptr;
enum { OK = 0, INVALID_VALUE = 1, NOT_FOUND = 500 };

#define MAX_ALLOCS 65536
static struct { char *p; size_t n; } allocs[MAX_ALLOCS];
static long launches;

static void report(void) {
  const char *log = getenv("FAKE_CUDA_LOG");
  FILE *f = log ? fopen(log, "w") : NULL;
  if (f) {
    fprintf(f, "launches %ld\n", launches);
    fclose(f);
  }
}

/* The allocation holding [p, p + n), or -1. */
static int owner(CUdeviceptr p, size_t n) {
  for (int i = 0; i < MAX_ALLOCS; ++i)
    if (allocs[i].p && p >= reinterpret_cast<CUdeviceptr>(allocs[i].p) &&
        p + n <= reinterpret_cast<CUdeviceptr>(allocs[i].p + allocs[i].n))
      return i;
  return -1;
}

static CUresult outside(const char *call, CUdeviceptr p, size_t n) {
  if (owner(p, n) >= 0)
    return OK;
  fprintf(stderr, "fake-cuda: %s: [0x%llx, +%zu) is outside every allocation\n", call,
          (unsigned long long)p, n);
  return INVALID_VALUE;
}

CUresult cuInit(unsigned flags) {
  static int registered;
  if (!registered++)
    atexit(report);
  return OK;
}
CUresult cuDriverGetVersion(int *v) { *v = 12080; return OK; }
CUresult cuGetErrorString(CUresult r, const char **s) { *s = "fake driver error"; return OK; }
CUresult cuGetErrorName(CUresult r, const char **s) { *s = "CUDA_ERROR_FAKE"; return OK; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return OK; }
CUresult cuDeviceGet(int *d, int ordinal) { *d = ordinal; return ordinal == 0 ? OK : INVALID_VALUE; }
CUresult cuDeviceGetName(char *name, int len, int d) {
  snprintf(name, (size_t)len, "fake GPU");
  return OK;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int d) {
  const char *sm = getenv("FAKE_CUDA_SM");
  int cc = sm ? atoi(sm) : 90;
  *v = attr == 75 ? cc / 10 : attr == 76 ? cc % 10 : 0;
  return OK;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int d) { *bytes = (size_t)80 << 30; return OK; }
CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) { *ctx = (void *)1; return OK; }
CUresult cuDevicePrimaryCtxRelease_v2(int d) { return OK; }
CUresult cuCtxSetCurrent(void *ctx) { return OK; }
CUresult cuCtxSynchronize(void) { return OK; }

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
  for (int i = 0; i < MAX_ALLOCS; ++i)
    if (!allocs[i].p) {
      allocs[i].p = static_cast<char *>(malloc(n ? n : 1));
      allocs[i].n = n;
      *p = reinterpret_cast<CUdeviceptr>(allocs[i].p);
      return allocs[i].p ? OK : 2;
    }
  return 2;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
  for (int i = 0; i < MAX_ALLOCS; ++i)
    if (reinterpret_cast<CUdeviceptr>(allocs[i].p) == p) {
      free(allocs[i].p);
      allocs[i].p = NULL;
      return OK;
    }
  fprintf(stderr, "fake-cuda: cuMemFree of 0x%llx, not an allocation\n", (unsigned long long)p);
  return INVALID_VALUE;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
  CUresult r = outside("cuMemcpyHtoD", dst, n);
  if (r == OK)
    memcpy(reinterpret_cast<void *>(dst), src, n);
  return r;
}
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
  CUresult r = outside("cuMemcpyDtoH", src, n);
  if (r == OK)
    memcpy(dst, reinterpret_cast<const void *>(src), n);
  return r;
}
CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  CUresult r = outside("cuMemcpyDtoD", dst, n);
  if (r == OK)
    r = outside("cuMemcpyDtoD", src, n);
  if (r == OK)
    memmove(reinterpret_cast<void *>(dst), reinterpret_cast<const void *>(src), n);
  return r;
}
CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char v, size_t n) {
  CUresult r = outside("cuMemsetD8", dst, n);
  if (r == OK)
    memset(reinterpret_cast<void *>(dst), v, n);
  return r;
}

/* A module keeps a copy of its image's text so function names can be found
 * in it: PTX up to its NUL, a cubin (ELF) up to its section headers' end. */
struct module { char *image; size_t n; };
struct function { char name[256]; };

CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n, int *o, void **v) {
  const unsigned char *p = static_cast<const unsigned char *>(image);
  size_t size;
  if (p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' && p[3] == 'F') {
    uint64_t shoff;
    uint16_t shentsize, shnum;
    memcpy(&shoff, p + 0x28, 8);
    memcpy(&shentsize, p + 0x3a, 2);
    memcpy(&shnum, p + 0x3c, 2);
    size = (size_t)(shoff + (uint64_t)shentsize * shnum);
  } else {
    size = strlen(static_cast<const char *>(image));
    if (!strstr(static_cast<const char *>(image), ".version") ||
        !strstr(static_cast<const char *>(image), ".target")) {
      fprintf(stderr, "fake-cuda: the image is neither PTX nor ELF\n");
      return 218; /* CUDA_ERROR_INVALID_PTX */
    }
  }
  struct module *mod = static_cast<struct module *>(malloc(sizeof *mod));
  mod->image = static_cast<char *>(malloc(size));
  memcpy(mod->image, image, size);
  mod->n = size;
  *m = mod;
  return OK;
}
CUresult cuModuleUnload(void *m) {
  struct module *mod = static_cast<struct module *>(m);
  free(mod->image);
  free(mod);
  return OK;
}
CUresult cuModuleGetFunction(void **fn, void *m, const char *name) {
  struct module *mod = static_cast<struct module *>(m);
  size_t len = strlen(name);
  for (size_t i = 0; i + len <= mod->n; ++i)
    if (memcmp(mod->image + i, name, len) == 0 &&
        (i + len == mod->n || mod->image[i + len] == '\0' || mod->image[i + len] == '(')) {
      struct function *f = static_cast<struct function *>(malloc(sizeof *f));
      snprintf(f->name, sizeof f->name, "%s", name);
      *fn = f;
      return OK;
    }
  fprintf(stderr, "fake-cuda: no kernel '%s' in the module\n", name);
  return NOT_FOUND;
}

/* Launches captured into the graph being recorded, with their arguments. */
#define MAX_ARGS 16
struct launch { struct function *fn; int argc; CUdeviceptr args[MAX_ARGS]; };
struct graph { struct launch *launches; long n, cap; };
static struct graph *capturing;

static CUresult checkLaunch(const struct launch *l) {
  for (int i = 0; i < l->argc; ++i)
    if (owner(l->args[i], 1) < 0) {
      fprintf(stderr, "fake-cuda: %s: argument %d (0x%llx) is outside every allocation\n",
              l->fn->name, i, (unsigned long long)l->args[i]);
      return INVALID_VALUE;
    }
  ++launches;
  std::string why;
  if (!emulateGpuKernel(l->fn->name, l->args, l->argc, why)) {
    fprintf(stderr, "fake-cuda: %s: %s\n", l->fn->name, why.c_str());
    return INVALID_VALUE;
  }
  return OK;
}

CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned shared, void *stream, void **params, void **extra) {
  struct launch l = {static_cast<struct function *>(f), 0, {0}};
  if (!gx || !gy || !gz || !bx || !by || !bz || bx * by * bz > 1024) {
    fprintf(stderr, "fake-cuda: %s: bad launch shape\n", l.fn->name);
    return INVALID_VALUE;
  }
  /* lowbit's kernels take pointers only, and the GPU session ends each
   * parameter list with a null (the driver itself reads only as many as
   * the kernel has). */
  for (int i = 0; i < MAX_ARGS && params[i]; ++i)
    memcpy(&l.args[l.argc++], params[i], 8);
  if (capturing) {
    if (capturing->n == capturing->cap) {
      capturing->cap = capturing->cap ? 2 * capturing->cap : 64;
      capturing->launches = static_cast<struct launch *>(
          realloc(capturing->launches, sizeof(struct launch) * size_t(capturing->cap)));
    }
    capturing->launches[capturing->n++] = l;
    return OK;
  }
  return checkLaunch(&l);
}

CUresult cuEventCreate(void **e, unsigned flags) { *e = malloc(1); return OK; }
CUresult cuEventDestroy_v2(void *e) { free(e); return OK; }
CUresult cuEventRecord(void *e, void *s) { return OK; }
CUresult cuEventSynchronize(void *e) { return OK; }
CUresult cuEventElapsedTime_v2(float *ms, void *a, void *b) { *ms = 1.0f; return OK; }

CUresult cuStreamCreate(void **s, unsigned flags) { *s = malloc(1); return OK; }
CUresult cuStreamDestroy_v2(void *s) { free(s); return OK; }
CUresult cuStreamBeginCapture_v2(void *s, int mode) {
  capturing = static_cast<struct graph *>(calloc(1, sizeof *capturing));
  return OK;
}
CUresult cuStreamEndCapture(void *s, void **g) {
  *g = capturing;
  capturing = NULL;
  return OK;
}
CUresult cuGraphInstantiateWithFlags(void **exec, void *g, unsigned long long flags) {
  *exec = g;
  return OK;
}
CUresult cuGraphLaunch(void *exec, void *s) {
  struct graph *g = static_cast<struct graph *>(exec);
  for (long i = 0; i < g->n; ++i)
    if (checkLaunch(&g->launches[i]) != OK)
      return INVALID_VALUE;
  return OK;
}
CUresult cuGraphExecDestroy(void *exec) { return OK; }
CUresult cuGraphDestroy(void *g) {
  struct graph *graph = static_cast<struct graph *>(g);
  free(graph->launches);
  free(graph);
  return OK;
}

} // extern "C"
