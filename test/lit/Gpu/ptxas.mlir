// Every generated kernel assembles with ptxas for sm_80 and sm_90 within the
// register budget and without spilling: at most 168 registers per thread
// (at least 384 resident threads per SM), no spill stores or loads, no
// stack frame. Shapes: Llama-3-8B's linears, batches 1, 4 and 8, each rows-
// per-warp variant.
// REQUIRES: ptxas
// RUN: rm -rf %t && lowbit-gpu-kernels --target=sm_80 --linear=4096x4096,14336x4096,4096x14336 --batch=1,4,8 --rows-per-warp=1,2,4 -o %t/sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/sm_80/kernels.ptx -o %t/sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 33 | FileCheck %s
// RUN: lowbit-gpu-kernels --target=sm_90 --linear=4096x4096,14336x4096,4096x14336 --batch=1,4,8 --rows-per-warp=1,2,4 -o %t/sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/sm_90/kernels.ptx -o %t/sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 33 | FileCheck %s

// CHECK: 33 kernels within 168 registers, no spills

// The tensor-core linears (batches 16 and 64, blocks of 16, 32 and 64 rows)
// hold more accumulators: up to 255 registers, still no spills.
// RUN: lowbit-gpu-kernels --target=sm_80 --linear=4096x4096,4096x14336 --batch=16,64 --mma-block-rows=16,32,64 -o %t/mma_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/mma_sm_80/kernels.ptx -o %t/mma_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 255 12 | FileCheck %s --check-prefix=MMA
// RUN: lowbit-gpu-kernels --target=sm_90 --linear=4096x4096,4096x14336 --batch=16,64 --mma-block-rows=16,32,64 -o %t/mma_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/mma_sm_90/kernels.ptx -o %t/mma_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 255 12 | FileCheck %s --check-prefix=MMA
// MMA: 12 kernels within 255 registers, no spills

// The int8 tensor-core linears of GPU artifacts' prompt chunks (batches 16
// and 64, blocks of 16 and 32 rows) with their quantize kernels, q4g128 and
// q6k (a scale per half block): within the decode budget.
// RUN: lowbit-gpu-kernels --target=sm_80 --linear=4096x4096,4096x14336 --batch=16,64 --int8-mma --mma-block-rows=16,32 -o %t/imma_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/imma_sm_80/kernels.ptx -o %t/imma_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 12 | FileCheck %s --check-prefix=IMMA
// RUN: lowbit-gpu-kernels --target=sm_90 --linear=4096x4096,4096x14336 --batch=16,64 --int8-mma --mma-block-rows=16,32 -o %t/imma_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/imma_sm_90/kernels.ptx -o %t/imma_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 12 | FileCheck %s --check-prefix=IMMA
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q6k --rounding=q8k --linear=4096x4096,14336x4096 --batch=64 --int8-mma -o %t/imma_q6k 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/imma_q6k/kernels.ptx -o %t/imma_q6k.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 3 | FileCheck %s --check-prefix=IMMA-Q6K
// IMMA: 12 kernels within 168 registers, no spills
// IMMA-Q6K: 3 kernels within 168 registers, no spills

// The row kernels hold little: within 64 registers, so that their largest
// blocks (1024 threads) fit an SM's registers. rms_norm from a ragged row of
// 160 values to 16384 values (1024 threads), batches 1 and 64.
// RUN: lowbit-gpu-kernels --target=sm_80 --rms-norm=160,2048,4096,5120,8192,16384 --rms-norm-eps=1e-5 --batch=1,64 -o %t/rows_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/rows_sm_80/kernels.ptx -o %t/rows_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 64 12 | FileCheck %s --check-prefix=ROWS
// RUN: lowbit-gpu-kernels --target=sm_90 --rms-norm=160,2048,4096,5120,8192,16384 --rms-norm-eps=1e-5 --batch=1,64 -o %t/rows_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/rows_sm_90/kernels.ptx -o %t/rows_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 64 12 | FileCheck %s --check-prefix=ROWS
// ROWS: 12 kernels within 64 registers, no spills

// swiglu, add, the column permutation, rope and the embedding at
// Llama-3-8B's widths and ragged ones, batches 1 and 64.
// RUN: lowbit-gpu-kernels --target=sm_80 --swiglu=96,14336 --add=96,4096 --permute-columns=96,14336 --rope=3x64,32x128,8x128 --rope-theta=500000 --embedding=1000x384,128256x4096 --batch=1,64 -o %t/pointwise_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/pointwise_sm_80/kernels.ptx -o %t/pointwise_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 64 22 | FileCheck %s --check-prefix=POINTWISE
// RUN: lowbit-gpu-kernels --target=sm_90 --swiglu=96,14336 --add=96,4096 --permute-columns=96,14336 --rope=3x64,32x128,8x128 --rope-theta=500000 --embedding=1000x384,128256x4096 --batch=1,64 -o %t/pointwise_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/pointwise_sm_90/kernels.ptx -o %t/pointwise_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 64 22 | FileCheck %s --check-prefix=POINTWISE
// POINTWISE: 22 kernels within 64 registers, no spills

// Attention, split and combine, and its cache writer, for every head size,
// batches 1 and 64.
// RUN: lowbit-gpu-kernels --target=sm_80 --attention=4x2x64,32x8x128,16x16x256 --context=4096 --batch=1,64 -o %t/attention_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/attention_sm_80/kernels.ptx -o %t/attention_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 64 18 | FileCheck %s --check-prefix=ATTENTION
// RUN: lowbit-gpu-kernels --target=sm_90 --attention=4x2x64,32x8x128,16x16x256 --context=4096 --batch=1,64 -o %t/attention_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/attention_sm_90/kernels.ptx -o %t/attention_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 64 18 | FileCheck %s --check-prefix=ATTENTION
// ATTENTION: 18 kernels within 64 registers, no spills

// The f16 linears: Llama-3-8B's shapes and its output matrix, a ragged
// 100-row one, batches 1 to 8, every rows-per-warp variant: within the
// decode kernels' 168 registers.
// RUN: lowbit-gpu-kernels --target=sm_80 --linear-f16=4096x4096,1024x4096,14336x4096,4096x14336,128256x4096,100x96 --batch=1,2,3,4,5,6,7,8 --rows-per-warp=1,2,4 -o %t/f16_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/f16_sm_80/kernels.ptx -o %t/f16_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 144 | FileCheck %s --check-prefix=F16
// RUN: lowbit-gpu-kernels --target=sm_90 --linear-f16=4096x4096,1024x4096,14336x4096,4096x14336,128256x4096,100x96 --batch=1,2,3,4,5,6,7,8 --rows-per-warp=1,2,4 -o %t/f16_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/f16_sm_90/kernels.ptx -o %t/f16_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 144 | FileCheck %s --check-prefix=F16
// F16: 144 kernels within 168 registers, no spills

// The f16 embedding and rope in halves, as their siblings: within 64.
// RUN: lowbit-gpu-kernels --target=sm_80 --embedding-f16=1000x96,128256x4096 --rope-halves=3x64,32x128,8x128 --rope-theta=500000 --batch=1,64 -o %t/f16_rows_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/f16_rows_sm_80/kernels.ptx -o %t/f16_rows_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 64 10 | FileCheck %s --check-prefix=F16-ROWS
// RUN: lowbit-gpu-kernels --target=sm_90 --embedding-f16=1000x96,128256x4096 --rope-halves=3x64,32x128,8x128 --rope-theta=500000 --batch=1,64 -o %t/f16_rows_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/f16_rows_sm_90/kernels.ptx -o %t/f16_rows_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 64 10 | FileCheck %s --check-prefix=F16-ROWS
// F16-ROWS: 10 kernels within 64 registers, no spills

// The ggml formats', affine int8's and lut4's decode linears (Llama-3-8B's
// shapes, batches 1 and 8, each rows-per-warp variant) and embeddings (but
// lut4's, which has none), and the roundings of their
// activations: within the decode kernels' 168 registers.
// RUN: lowbit-gpu-kernels --target=sm_80 --format=q4g32 --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q4g32_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/q4g32_sm_80/kernels.ptx -o %t/q4g32_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q4g32 --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q4g32_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/q4g32_sm_90/kernels.ptx -o %t/q4g32_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_80 --format=q4k --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q4k_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/q4k_sm_80/kernels.ptx -o %t/q4k_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q4k --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q4k_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/q4k_sm_90/kernels.ptx -o %t/q4k_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_80 --format=q8g32 --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q8g32_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/q8g32_sm_80/kernels.ptx -o %t/q8g32_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q8g32 --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q8g32_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/q8g32_sm_90/kernels.ptx -o %t/q8g32_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_80 --format=q8g128 --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q8g128_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/q8g128_sm_80/kernels.ptx -o %t/q8g128_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q8g128 --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q8g128_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/q8g128_sm_90/kernels.ptx -o %t/q8g128_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_80 --format=lut4 --linear=4096x4096,4096x14336 --batch=1,8 --rows-per-warp=1,2,4 -o %t/lut4_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/lut4_sm_80/kernels.ptx -o %t/lut4_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 16 | FileCheck %s --check-prefix=LUT4
// RUN: lowbit-gpu-kernels --target=sm_90 --format=lut4 --linear=4096x4096,4096x14336 --batch=1,8 --rows-per-warp=1,2,4 -o %t/lut4_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/lut4_sm_90/kernels.ptx -o %t/lut4_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 16 | FileCheck %s --check-prefix=LUT4
// RUN: lowbit-gpu-kernels --target=sm_80 --format=q6k --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q6k_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/q6k_sm_80/kernels.ptx -o %t/q6k_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q6k --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q6k_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/q6k_sm_90/kernels.ptx -o %t/q6k_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_80 --format=q5g32 --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q5g32_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/q5g32_sm_80/kernels.ptx -o %t/q5g32_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q5g32 --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q5g32_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/q5g32_sm_90/kernels.ptx -o %t/q5g32_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_80 --format=q5k --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q5k_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/q5k_sm_80/kernels.ptx -o %t/q5k_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q5k --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q5k_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/q5k_sm_90/kernels.ptx -o %t/q5k_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_80 --format=q2k --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q2k_sm_80 2>/dev/null
// RUN: %ptxas -arch=sm_80 -v %t/q2k_sm_80/kernels.ptx -o %t/q2k_sm_80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q2k --linear=4096x4096,4096x14336 --embedding=128256x4096 --batch=1,8 --rows-per-warp=1,2,4 -o %t/q2k_sm_90 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/q2k_sm_90/kernels.ptx -o %t/q2k_sm_90.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 18 | FileCheck %s --check-prefix=GGML
// GGML: 18 kernels within 168 registers, no spills
// LUT4: 16 kernels within 168 registers, no spills
// RUN: lowbit-gpu-kernels --target=sm_90 --rounding=q80 --linear=4096x4096,4096x14336 --batch=1,8 -o %t/rounding_q80 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/rounding_q80/kernels.ptx -o %t/rounding_q80.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 8 | FileCheck %s --check-prefix=ROUNDING
// RUN: lowbit-gpu-kernels --target=sm_90 --rounding=q81 --linear=4096x4096,4096x14336 --batch=1,8 -o %t/rounding_q81 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/rounding_q81/kernels.ptx -o %t/rounding_q81.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 8 | FileCheck %s --check-prefix=ROUNDING
// RUN: lowbit-gpu-kernels --target=sm_90 --rounding=q8k --linear=4096x4096,4096x14336 --batch=1,8 -o %t/rounding_q8k 2>/dev/null
// RUN: %ptxas -arch=sm_90 -v %t/rounding_q8k/kernels.ptx -o %t/rounding_q8k.cubin 2>&1 | %python %S/Inputs/ptxas_budget.py 168 8 | FileCheck %s --check-prefix=ROUNDING
// ROUNDING: 8 kernels within 168 registers, no spills
