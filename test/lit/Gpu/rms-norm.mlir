// rms_norm on the GPU at each lowering step: one block per row, 16-byte
// loads held in registers, Σx² by fma, warp shuffles then the warps' sums in
// shared memory, 1/sqrt(mean + ε) correctly rounded, one 16-byte store per
// chunk. ε enters the name as the CPU kernel's (rms_norm_4096_0_000010).
// RUN: lowbit-gpu-kernels --target=sm_90 --rms-norm=4096 --rms-norm-eps=1e-5 --emit=gpu | FileCheck %s --check-prefix=GPU
// RUN: lowbit-gpu-kernels --target=sm_90 --rms-norm=4096 --rms-norm-eps=1e-5 --emit=nvvm | FileCheck %s --check-prefix=NVVM
// RUN: lowbit-gpu-kernels --target=sm_80 --rms-norm=160 --rms-norm-eps=1e-6 --batch=1,4 --emit=ptx | FileCheck %s --check-prefix=PTX

// GPU: llvm.mlir.global internal @gpu_rms_norm_4096_0_000010_b1_partials() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<8 x f32>
// GPU: gpu.func @gpu_rms_norm_4096_0_000010_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// GPU-COUNT-8: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// GPU: llvm.intr.fma
// GPU: gpu.shuffle xor
// GPU: gpu.barrier
// GPU: %[[MEAN:.*]] = arith.divf %{{.*}}, %{{.*}} : f32
// GPU-NEXT: %[[EPS:.*]] = arith.constant 9.99999974E-6 : f32
// GPU-NEXT: %[[SHIFTED:.*]] = arith.addf %[[MEAN]], %[[EPS]] : f32
// GPU-NEXT: %[[ROOT:.*]] = llvm.call_intrinsic "llvm.sqrt.f32"(%[[SHIFTED]])
// GPU-NEXT: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// GPU-NEXT: %[[SCALE:.*]] = arith.divf %[[ONE]], %[[ROOT]] : f32
// GPU: %[[X:.*]] = arith.mulf %{{.*}}, %[[SCALE]] : f32
// GPU: arith.mulf %[[X]], %{{.*}} : f32
// GPU: llvm.store {{.*}} {alignment = 16 : i64} : vector<4xf32>, !llvm.ptr<1>

// NVVM: gpu.module @gpu_kernels [#nvvm.target<O = 3, chip = "sm_90">]
// NVVM: llvm.func @gpu_rms_norm_4096_0_000010_b1
// NVVM-SAME: gpu.kernel
// NVVM-NOT: scf.
// NVVM: nvvm.shfl.sync bfly
// NVVM: nvvm.barrier

// A row of 160 values: 64 threads (two warps), the last 24 of them past the
// row's end.
// PTX: .target sm_80
// PTX: .entry gpu_rms_norm_160_0_000001_b1(
// PTX: .maxntid 64, 1, 1
// PTX: .shared .align 16 .b8 gpu_rms_norm_160_0_000001_b1_partials[8];
// PTX: ld.global.v4.b32
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
// PTX: bar.sync
// PTX: div.rn.f32
// PTX: sqrt.rn.f32
// PTX: rcp.rn.f32
// PTX: st.global.v4.b32
// PTX: .entry gpu_rms_norm_160_0_000001_b4(
