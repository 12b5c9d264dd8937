// A bad target or an unreadable model is a clear error, and no artifact is
// left behind.
// RUN: rm -rf %t && mkdir -p %t
// RUN: not lowbit-compile %lowbit_models/tiny-5m --target=armv9 -o %t/x.lbx 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not test -e %t/x.lbx
// RUN: not lowbit-compile %lowbit_models/tiny-5m --target=sm_90 -o %t/x.lbx 2>&1 | FileCheck %s --check-prefix=GPU
// RUN: not lowbit-compile %lowbit_models/tiny-5m --target=x86-64-v3,sm_80 -o %t/x.lbx 2>&1 | FileCheck %s --check-prefix=GPU
// RUN: not test -e %t/x.lbx
// RUN: not lowbit-compile %t/missing.gguf -o %t/y.lbx 2>&1 | FileCheck %s --check-prefix=MISSING
// TARGET: unknown or unusable --target 'armv9'
// MISSING: missing.gguf
// GPU: error: --target '{{.*}}sm_{{[89]}}0': whole-model GPU artifacts are not generated yet; the GPU decode linear kernels are (lowbit-gpu-kernels, docs/gpu.md)
