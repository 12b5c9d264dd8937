// One artifact for a CPU and a GPU (either order in --target): the model
// compiled for each, as the two parts of one file, no temporary file left.
// lowbit-run runs the CPU part by default and the GPU part with --device
// (here without a driver: a clear error naming the file).
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-compile %lowbit_models/tiny-5m --target=sm_90,x86-64-v3 -o %t/both.lbx 2>&1 | FileCheck %s
// RUN: ls %t | FileCheck %s --check-prefix=FILES
// RUN: lowbit-run generate -n 4 --prompt "In the beginning" --ignore-eos %t/both.lbx 2>&1 | FileCheck %s --check-prefix=CPU
// RUN: env LOWBIT_CUDA_DRIVER=%t/no-driver.so not lowbit-run generate -n 4 --prompt "In" --device cuda:0 %t/both.lbx 2>&1 | FileCheck %s --check-prefix=GPU
// CHECK: sm_90: {{[0-9]+}} launches per batch
// CHECK: {{[0-9]+}} dispatches
// CHECK: both.lbx holds x86-64-v3,sm_90
// FILES: both.lbx
// FILES-NOT: {{.}}
// CPU: 4 tokens in
// GPU: both.lbx: no CUDA driver
