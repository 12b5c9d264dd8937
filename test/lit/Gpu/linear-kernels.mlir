// The GPU kernels at each lowering step: the gpu dialect as generated, the
// NVVM/llvm dialects after the conversions, and the PTX.
// RUN: lowbit-gpu-kernels --target=sm_90 --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=GPU
// RUN: lowbit-gpu-kernels --target=sm_90 --linear=256x512 --emit=nvvm | FileCheck %s --check-prefix=NVVM
// RUN: lowbit-gpu-kernels --target=sm_80 --linear=256x512 --batch=1,4 --emit=ptx | FileCheck %s --check-prefix=PTX

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
