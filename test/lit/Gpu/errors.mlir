// Shapes and options the GPU kernels do not cover are refused with one line.
// RUN: not lowbit-gpu-kernels --target=sm_70 --linear=256x512 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=100x512 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ROWS
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=256x200 --emit=ptx 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=256x512 --batch=12 --emit=ptx 2>&1 | FileCheck %s --check-prefix=BATCH
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=256x512 --rows-per-warp=3 --emit=ptx 2>&1 | FileCheck %s --check-prefix=RPW
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=4096 --emit=ptx 2>&1 | FileCheck %s --check-prefix=SHAPE
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=256x512 2>&1 | FileCheck %s --check-prefix=DIR

// TARGET: error: unknown --target 'sm_70' (sm_80 or sm_90)
// ROWS: error: no GPU kernel for the q4g128 linear 100x512 × 1 tokens: the output rows must be a multiple of 8 (4 warps × 2 rows)
// WIDTH: error: no GPU kernel for the {{.*}}: the input width must be a positive multiple of 128
// BATCH: error: no GPU kernel for the {{.*}} × 12 tokens: tensor-core batches are multiples of 8 up to 64 tokens
// RPW: error: no GPU kernel for the q4g128 linear 256x512 × 1 tokens: rows per warp must be 1, 2 or 4
// SHAPE: error: --linear '4096' is not NxK (e.g. 4096x14336)
// DIR: error: --emit=dir needs -o DIR

// The row kernels.
// RUN: not lowbit-gpu-kernels --target=sm_90 --emit=ptx 2>&1 | FileCheck %s --check-prefix=NONE
// RUN: not lowbit-gpu-kernels --target=sm_90 --rms-norm=4096 --emit=ptx 2>&1 | FileCheck %s --check-prefix=RMS-EPS
// RUN: not lowbit-gpu-kernels --target=sm_90 --rms-norm=100 --rms-norm-eps=1e-5 --emit=ptx 2>&1 | FileCheck %s --check-prefix=RMS-WIDTH
// RUN: not lowbit-gpu-kernels --target=sm_90 --rms-norm=32768 --rms-norm-eps=1e-5 --emit=ptx 2>&1 | FileCheck %s --check-prefix=RMS-WIDE
// RUN: not lowbit-gpu-kernels --target=sm_90 --rms-norm=4096 --rms-norm-eps=1.5e-6 --emit=ptx 2>&1 | FileCheck %s --check-prefix=RMS-INEXACT
// RUN: not lowbit-gpu-kernels --target=sm_90 --rms-norm=4096 --rms-norm-eps=-1e-5 --emit=ptx 2>&1 | FileCheck %s --check-prefix=RMS-NEGATIVE
// RUN: not lowbit-gpu-kernels --target=sm_90 --rms-norm=4096 --rms-norm-eps=1e-5 --batch=65 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ROW-BATCH

// NONE: error: no kernels asked for (--linear, --linear-f16, --rms-norm, --swiglu, --add, --permute-columns, --rope, --rope-halves, --attention, --embedding, --embedding-f16)
// RMS-EPS: error: --rms-norm needs --rms-norm-eps (the model's epsilon, e.g. 1e-5)
// RMS-WIDTH: error: no GPU kernel for the rms_norm of 100 values × 1 tokens: the width must be a positive multiple of 32
// RMS-WIDE: error: no GPU kernel for the rms_norm of 32768 values × 1 tokens: rows of at most 16384 values (a block holds its row in registers)
// RMS-INEXACT: error: no GPU kernel for the rms_norm of 4096 values × 1 tokens: epsilon 1.5e-06 is not exact in the kernel name's six decimals (0.000002)
// RMS-NEGATIVE: error: no GPU kernel for the {{.*}}: epsilon must be at least 0
// ROW-BATCH: error: no GPU kernel for the rms_norm of 4096 values × 65 tokens: batches of 1 to 64 tokens only (as the linears)
// RUN: not lowbit-gpu-kernels --target=sm_90 --swiglu=100 --emit=ptx 2>&1 | FileCheck %s --check-prefix=SWIGLU-WIDTH
// RUN: not lowbit-gpu-kernels --target=sm_90 --rope=32x128 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ROPE-THETA
// RUN: not lowbit-gpu-kernels --target=sm_90 --rope=32 --rope-theta=10000 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ROPE-SHAPE
// RUN: not lowbit-gpu-kernels --target=sm_90 --rope=32x127 --rope-theta=10000 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ROPE-ODD
// RUN: not lowbit-gpu-kernels --target=sm_90 --rope=32x128 --rope-theta=0 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ROPE-ZERO

// SWIGLU-WIDTH: error: no GPU kernel for the swiglu of 100 values × 1 tokens: the width must be a positive multiple of 32
// ROPE-THETA: error: --rope needs --rope-theta (the model's theta, e.g. 10000)
// ROPE-SHAPE: error: --rope '32' is not HxD (e.g. 32x128)
// ROPE-ODD: error: no GPU kernel for the rope of 32x127 × 1 tokens: the head size must be a positive even number (pairs)
// ROPE-ZERO: error: no GPU kernel for the rope of 32x128 × 1 tokens: theta must be positive
// RUN: not lowbit-gpu-kernels --target=sm_90 --attention=32x8x128 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ATT-CONTEXT
// RUN: not lowbit-gpu-kernels --target=sm_90 --attention=32x128 --context=2048 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ATT-SHAPE
// RUN: not lowbit-gpu-kernels --target=sm_90 --attention=32x6x128 --context=2048 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ATT-GROUP
// RUN: not lowbit-gpu-kernels --target=sm_90 --attention=32x8x96 --context=2048 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ATT-DIM
// RUN: not lowbit-gpu-kernels --target=sm_90 --attention=32x8x128 --context=1000 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ATT-CTX

// ATT-CONTEXT: error: --attention needs --context (the positions of the KV cache, e.g. 4096)
// ATT-SHAPE: error: --attention '32x128' is not HxKVHxD (e.g. 32x8x128)
// ATT-GROUP: error: no GPU kernel for the attention of 32 heads over 6 KV heads of 128 values, context 2048, × 1 tokens: the query heads must be a positive multiple of the KV heads
// ATT-DIM: error: no GPU kernel for the attention {{.*}}: head sizes 64, 128 or 256 only
// ATT-CTX: error: no GPU kernel for the attention {{.*}}: the context must be a multiple of 256 up to 1048576
// RUN: not lowbit-gpu-kernels --target=sm_90 --embedding=1000 --emit=ptx 2>&1 | FileCheck %s --check-prefix=EMB-SHAPE
// RUN: not lowbit-gpu-kernels --target=sm_90 --embedding=1000x96 --emit=ptx 2>&1 | FileCheck %s --check-prefix=EMB-WIDTH
// RUN: not lowbit-gpu-kernels --target=sm_90 --add=100 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ADD-WIDTH

// EMB-SHAPE: error: --embedding '1000' is not VxK (e.g. 128256x4096)
// EMB-WIDTH: error: no GPU kernel for the q4g128 embedding of 1000x96 × 1 tokens: the width must be a positive multiple of 128 (q4g128 blocks)
// ADD-WIDTH: error: no GPU kernel for the add of 100 values × 1 tokens: the width must be a positive multiple of 32
// RUN: not lowbit-gpu-kernels --target=sm_90 --format=lut4 --embedding=1000x512 --emit=ptx 2>&1 | FileCheck %s --check-prefix=LUT4-EMBEDDING
// LUT4-EMBEDDING: error: no GPU kernel for the lut4 embedding of 1000x512 × 1 tokens: lut4 tables (NF4, FP4) have no embedding kernel: bitsandbytes keeps embeddings in float
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=4096x4096 --batch=16 --bias --emit=ptx 2>&1 | FileCheck %s --check-prefix=MMA-BIAS
// MMA-BIAS: error: no GPU kernel for the q4g128 linear 4096x4096 with a bias × 16 tokens: f16 tensor-core linears take no bias (the int8 ones do)
// RUN: not lowbit-gpu-kernels --target=sm_90 --format=lut4 --linear=4096x4096 --batch=64 --int8-mma --emit=ptx 2>&1 | FileCheck %s --check-prefix=IMMA-LUT4
// IMMA-LUT4: error: no GPU kernel for the lut4 linear 4096x4096 × 64 tokens (int8 tensor cores): lut4 (NF4, FP4) has no int8 tensor-core kernel
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=4096x4096 --batch=64 --int8-mma --mma-block-rows=64 --emit=ptx 2>&1 | FileCheck %s --check-prefix=IMMA-TILE
// IMMA-TILE: error: no GPU kernel for the q4g128 linear 4096x4096 × 64 tokens (int8 tensor cores): int8 tensor-core blocks hold at most 2048 rows × tokens (64 rows take at most 32 tokens)
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear=4096x4096 --batch=12 --int8-mma --emit=ptx 2>&1 | FileCheck %s --check-prefix=IMMA-BATCH
// IMMA-BATCH: error: no GPU kernel for the q4g128 linear 4096x4096 × 12 tokens (int8 tensor cores): tensor-core batches are multiples of 8 up to 64 tokens
// RUN: not lowbit-gpu-kernels --target=sm_90 --permute-columns=100 --emit=ptx 2>&1 | FileCheck %s --check-prefix=PERMUTE-WIDTH
// PERMUTE-WIDTH: error: no GPU kernel for the column permutation of 100 values × 1 tokens: the width must be a positive multiple of 32

// The f16 linear and embedding, and rope in halves.
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear-f16=256x100 --emit=ptx 2>&1 | FileCheck %s --check-prefix=F16-WIDTH
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear-f16=256x128 --batch=16 --emit=ptx 2>&1 | FileCheck %s --check-prefix=F16-BATCH
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear-f16=256x128 --rows-per-warp=8 --emit=ptx 2>&1 | FileCheck %s --check-prefix=F16-RPW
// RUN: not lowbit-gpu-kernels --target=sm_90 --linear-f16=256 --emit=ptx 2>&1 | FileCheck %s --check-prefix=F16-SHAPE
// RUN: not lowbit-gpu-kernels --target=sm_90 --embedding-f16=1000x100 --emit=ptx 2>&1 | FileCheck %s --check-prefix=EMB-F16-WIDTH
// RUN: not lowbit-gpu-kernels --target=sm_90 --embedding-f16=1000 --emit=ptx 2>&1 | FileCheck %s --check-prefix=EMB-F16-SHAPE
// RUN: not lowbit-gpu-kernels --target=sm_90 --rope-halves=32x128 --emit=ptx 2>&1 | FileCheck %s --check-prefix=HALVES-THETA
// RUN: not lowbit-gpu-kernels --target=sm_90 --rope-halves=32x127 --rope-theta=10000 --emit=ptx 2>&1 | FileCheck %s --check-prefix=HALVES-ODD
// RUN: not lowbit-gpu-kernels --target=sm_90 --rope-halves=32 --rope-theta=10000 --emit=ptx 2>&1 | FileCheck %s --check-prefix=HALVES-SHAPE

// F16-WIDTH: error: no GPU kernel for the f16 linear 256x100 × 1 tokens: the input width must be a positive multiple of 32
// F16-BATCH: error: --linear-f16 needs a --batch of 1 to 8 tokens
// F16-RPW: error: no GPU kernel for the f16 linear 256x128 × 1 tokens: rows per warp must be 1, 2 or 4
// F16-SHAPE: error: --linear-f16 '256' is not NxK (e.g. 128256x4096)
// EMB-F16-WIDTH: error: no GPU kernel for the f16 embedding of 1000x100 × 1 tokens: the width must be a positive multiple of 32
// EMB-F16-SHAPE: error: --embedding-f16 '1000' is not VxK (e.g. 128256x4096)
// HALVES-THETA: error: --rope-halves needs --rope-theta (the model's theta, e.g. 10000)
// HALVES-ODD: error: no GPU kernel for the rope (halves) of 32x127 × 1 tokens: the head size must be a positive even number (pairs)
// HALVES-SHAPE: error: --rope-halves '32' is not HxD (e.g. 32x128)

// The ggml formats and the activation roundings.
// RUN: not lowbit-gpu-kernels --target=sm_90 --format=q3k --linear=256x512 --emit=ptx 2>&1 | FileCheck %s --check-prefix=FORMAT
// RUN: not lowbit-gpu-kernels --target=sm_90 --format=f16 --linear=256x512 --emit=ptx 2>&1 | FileCheck %s --check-prefix=FORMAT-F16
// RUN: not lowbit-gpu-kernels --target=sm_90 --rounding=q8_0 --linear=256x512 --emit=ptx 2>&1 | FileCheck %s --check-prefix=ROUNDING
// RUN: not lowbit-gpu-kernels --target=sm_90 --format=q4k --linear=256x384 --emit=ptx 2>&1 | FileCheck %s --check-prefix=Q4K-WIDTH
// RUN: not lowbit-gpu-kernels --target=sm_90 --format=q6k --embedding=1000x384 --emit=ptx 2>&1 | FileCheck %s --check-prefix=Q6K-EMB
// RUN: not lowbit-gpu-kernels --target=sm_90 --format=q8g32 --linear=256x512 --batch=16 --emit=ptx 2>&1 | FileCheck %s --check-prefix=Q8-BATCH
// RUN: not lowbit-gpu-kernels --target=sm_90 --rounding=q8k --linear=256x384 --emit=ptx 2>&1 | FileCheck %s --check-prefix=Q8K-WIDTH
// FORMAT: error: unknown --format 'q3k' (q4g128, q8g128, q4g32, q4k, q8g32, q6k, q5g32, q5k, q2k or lut4)
// FORMAT-F16: error: unknown --format 'f16' (q4g128, q8g128, q4g32, q4k, q8g32, q6k, q5g32, q5k, q2k or lut4)
// ROUNDING: error: unknown --rounding 'q8_0' (b32, q80, q81 or q8k)
// Q4K-WIDTH: error: no GPU kernel for the q4k linear 256x384 × 1 tokens: the input width must be a multiple of 256 (q4k blocks)
// Q6K-EMB: error: no GPU kernel for the q6k embedding of 1000x384 × 1 tokens: the width must be a positive multiple of 256 (q6k blocks)
// Q8-BATCH: error: no GPU kernel for the q8g32 linear 256x512 × 16 tokens: q8g32 linears take batches of 1 to 8 tokens (tensor cores: q4g128 only)
// Q8K-WIDTH: error: no GPU kernel for the quantize (q8k) of 384 values × 1 tokens: q8k rounds blocks of 256 values: the width must be a multiple of 256
