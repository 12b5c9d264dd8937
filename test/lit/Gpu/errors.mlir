// Shapes and options the GPU kernels do not cover are refused with one line.
// RUN: not lowbit-gpu-kernels --target=sm_70 --linear=256x512 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=100x512 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ROWS
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=256x200 --emit=ptx 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=256x512 --batch=12 --emit=ptx 2>&1 | FileCheck %s --check-prefix=BATCH
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=256x512 --rows-per-warp=3 --emit=ptx 2>&1 | FileCheck %s --check-prefix=RPW
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=4096 --emit=ptx 2>&1 | FileCheck %s --check-prefix=SHAPE
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=256x512 2>&1 | FileCheck %s --check-prefix=DIR

// TARGET: error: unknown --target 'sm_70' (sm_80 or sm_90)
// ROWS: error: no GPU kernel for the linear 100x512 × 1 tokens: the output rows must be a multiple of 8 (4 warps × 2 rows)
// WIDTH: error: no GPU kernel for the {{.*}}: the input width must be a positive multiple of 128
// BATCH: error: no GPU kernel for the {{.*}} × 12 tokens: tensor-core batches are multiples of 8 up to 64 tokens
// RPW: error: no GPU kernel for the linear 256x512 × 1 tokens: rows per warp must be 1, 2 or 4
// SHAPE: error: --linear '4096' is not NxK (e.g. 4096x14336)
// DIR: error: --emit=dir needs -o DIR
