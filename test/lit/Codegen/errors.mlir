// A bad target or an unreadable model is a clear error, and no artifact is
// left behind.
// RUN: rm -rf %t && mkdir -p %t
// RUN: not lowbit-compile %lowbit_models/tiny-5m --target=armv9 -o %t/x.lbx 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not test -e %t/x.lbx
// RUN: not lowbit-compile %lowbit_models/tiny-5m --target=sm_75 -o %t/x.lbx 2>&1 | FileCheck %s --check-prefix=SM75
// RUN: not lowbit-compile %lowbit_models/tiny-5m --target=sm_80,sm_90 -o %t/x.lbx 2>&1 | FileCheck %s --check-prefix=TWO-GPUS
// RUN: not lowbit-compile %lowbit_models/tiny-5m --target=x86-64-v3,x86-64-v4,sm_90 -o %t/x.lbx 2>&1 | FileCheck %s --check-prefix=THREE
// RUN: not lowbit-compile %lowbit_models/tiny-5m --target=x86-64-v3,sm_75 -o %t/x.lbx 2>&1 | FileCheck %s --check-prefix=TWO-SM75
// RUN: not lowbit-compile %lowbit_models/tiny-5m --target=armv9,sm_90 -o %t/x.lbx 2>&1 | FileCheck %s --check-prefix=TWO-ARM
// RUN: not test -e %t/x.lbx
// RUN: not lowbit-compile %t/missing.gguf -o %t/y.lbx 2>&1 | FileCheck %s --check-prefix=MISSING
// TARGET: unknown or unusable --target 'armv9' (x86-64-v3, x86-64-v4, native on a CPU with AVX2, FMA and F16C, sm_80 or sm_90)
// MISSING: missing.gguf
// SM75: error: unknown GPU --target 'sm_75' (sm_80 or sm_90)
// TWO-GPUS: error: --target 'sm_80,sm_90': an artifact for two targets names one CPU target and one GPU target (x86-64-v3,sm_90)
// TWO-SM75: error: --target 'x86-64-v3,sm_75': unknown GPU --target 'sm_75' (sm_80 or sm_90)
// TWO-ARM: error: --target 'armv9,sm_90': unknown or unusable --target 'armv9'
// THREE: error: --target 'x86-64-v3,x86-64-v4,sm_90': an artifact for two targets names one CPU target and one GPU target
