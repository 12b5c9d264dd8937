// The GPU kernels at each lowering step: the gpu dialect as generated, the
// NVVM/llvm dialects after the conversions, and the PTX.
// RUN: lowbit-gpu-kernels --target=sm_90 --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=GPU
// RUN: lowbit-gpu-kernels --target=sm_90 --linear=256x512 --emit=nvvm | FileCheck %s --check-prefix=NVVM
// RUN: lowbit-gpu-kernels --target=sm_80 --linear=256x512 --batch=1,4 --emit=ptx | FileCheck %s --check-prefix=PTX
// RUN: lowbit-gpu-kernels --target=sm_90 --linear=256x512 --batch=16 --mma-block-rows=32 --emit=gpu | FileCheck %s --check-prefix=MMA-GPU
// RUN: lowbit-gpu-kernels --target=sm_90 --linear=256x512 --batch=16 --int8-mma --mma-block-rows=32 --bias --emit=gpu | FileCheck %s --check-prefix=IMMA-GPU
// RUN: lowbit-gpu-kernels --target=sm_80 --linear=256x512 --batch=64 --int8-mma --emit=ptx | FileCheck %s --check-prefix=IMMA-PTX
// RUN: lowbit-gpu-kernels --target=sm_90 --linear=256x512 --batch=16 --mma-block-rows=32 --emit=ptx | FileCheck %s --check-prefix=MMA-PTX

// GPU: module attributes {gpu.container_module}
// GPU: gpu.module @gpu_kernels
// GPU: gpu.func @gpu_quantize_b32_512_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// GPU: gpu.shuffle xor
// GPU: llvm.call_intrinsic "llvm.roundeven.f32"
// GPU: gpu.func @gpu_linear_q4g128_256x512_b1_r2(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// 16-byte loads of the codes of each row, 32 activation bytes per token.
// GPU: scf.for
// GPU: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// GPU: llvm.call_intrinsic "llvm.nvvm.idp4a.u.s"
// GPU: llvm.intr.fma
// GPU: gpu.shuffle xor

// NVVM: gpu.module @gpu_kernels [#nvvm.target<O = 3, chip = "sm_90">]
// NVVM: llvm.func @gpu_quantize_b32_512_b1
// NVVM-SAME: gpu.kernel
// NVVM: nvvm.shfl.sync bfly
// NVVM: llvm.func @gpu_linear_q4g128_256x512_b1_r2
// NVVM-NOT: scf.
// NVVM: nvvm.read.ptx.sreg.tid.x

// PTX: .target sm_80
// PTX: .entry gpu_quantize_b32_512_b1(
// PTX: .maxntid 256, 1, 1
// PTX: shfl.sync.bfly.b32
// PTX: cvt.rni.f32.f32
// PTX: .entry gpu_linear_q4g128_256x512_b1_r2(
// PTX: .maxntid 128, 1, 1
// PTX: ld.global.v4.b32
// PTX: dp4a.u32.s32
// PTX: shfl.sync.bfly.b32
// PTX: .entry gpu_quantize_b32_512_b4(
// PTX: .entry gpu_linear_q4g128_256x512_b4_r1(
// PTX: dp4a.u32.s32

// The tensor-core linear: partial tiles in workgroup memory, codes
// dequantized as f16x2 (1024 + u, minus 1024, then d·u + m), mma.sync.
// MMA-GPU: llvm.mlir.global internal @gpu_linear_mma_q4g128_256x512_b16_r32_partials() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<4096 x f32>
// MMA-GPU: gpu.func @gpu_linear_mma_q4g128_256x512_b16_r32(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// MMA-GPU: llvm.load {{.*}} {alignment = 8 : i64} : !llvm.ptr<1> -> vector<2xi32>
// MMA-GPU: llvm.fsub {{.*}} : vector<2xf16>
// MMA-GPU: llvm.intr.fma({{.*}}) : (vector<2xf16>, vector<2xf16>, vector<2xf16>) -> vector<2xf16>
// MMA-GPU: llvm.fptrunc {{.*}} : vector<2xf32> to vector<2xf16>
// MMA-GPU: llvm.call_intrinsic "llvm.nvvm.mma.m16n8k16.row.col.f32.f32"
// MMA-GPU: gpu.barrier

// MMA-PTX: .entry gpu_linear_mma_q4g128_256x512_b16_r32(
// MMA-PTX: .maxntid 256, 1, 1
// MMA-PTX: fma.rn.f16x2
// MMA-PTX: cvt.rn.f16x2.f32
// MMA-PTX: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// MMA-PTX: bar.sync
// MMA-PTX: ld.shared

// The int8 tensor-core linear: the decode layout's code words (4-bit
// formats: one word, masked to the low and high nibbles, per row and block),
// the quantized activations' words, an s8 mma per half block, the scales and
// offsets in f32, the warps' tiles summed in shared memory, then the bias.
// IMMA-GPU: llvm.mlir.global internal @gpu_linear_imma_q4g128_256x512_bias_b16_r32_partials() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<4096 x f32>
// IMMA-GPU: gpu.func @gpu_quantize_b32_512_b16(
// IMMA-GPU: gpu.func @gpu_linear_imma_q4g128_256x512_bias_b16_r32(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// IMMA-GPU: llvm.load {{.*}} : !llvm.ptr<1> -> i32
// IMMA-GPU: arith.andi {{.*}} : i32
// IMMA-GPU: arith.shrui {{.*}} : i32
// IMMA-GPU: llvm.load {{.*}} : !llvm.ptr<1> -> vector<2xf16>
// IMMA-GPU: llvm.call_intrinsic "llvm.nvvm.mma.m16n8k16.row.col.s8"
// IMMA-GPU: arith.sitofp {{.*}} : i32 to f32
// IMMA-GPU: llvm.intr.fma
// IMMA-GPU: gpu.barrier
// IMMA-GPU: llvm.load {{.*}} : !llvm.ptr<1> -> f32
// IMMA-GPU: arith.addf
// IMMA-GPU: gpu.return
// IMMA-PTX: .entry gpu_linear_imma_q4g128_256x512_b64_r32(
// IMMA-PTX: mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32
// IMMA-PTX: bar.sync
// IMMA-PTX: ld.shared
