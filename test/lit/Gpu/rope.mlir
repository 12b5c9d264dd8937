// rope (adjacent pairs) on the GPU at each lowering step: the CPU kernel's
// f32 frequencies as a table computed when the kernel is generated, the f32
// angle, its sine and cosine in double (a three-part π/2 reduction, Taylor
// series, the quadrant's swaps and signs) rounded once to f32, then the
// pair rotated in place. θ enters the name as the CPU kernel's.
// RUN: lowbit-gpu-kernels --target=sm_90 --rope=8x128 --rope-theta=500000 --emit=gpu | FileCheck %s --check-prefix=GPU
// RUN: lowbit-gpu-kernels --target=sm_90 --rope=8x128 --rope-theta=500000 --emit=nvvm | FileCheck %s --check-prefix=NVVM
// RUN: lowbit-gpu-kernels --target=sm_80 --rope=3x64 --rope-theta=10000 --batch=1,2 --emit=ptx | FileCheck %s --check-prefix=PTX

// θ^(−2i/D) for i = 0, 1, ...: 1, 500000^(−1/64), ...
// GPU: llvm.mlir.global internal constant @gpu_rope_8x128_500000_000000_pairs_b1_freqs(dense<[1.000000e+00, 0.814617216, {{.*}}]> : tensor<64xf32>) {addr_space = 1 : i32, alignment = 4 : i64} : !llvm.array<64 x f32>
// GPU: gpu.func @gpu_rope_8x128_500000_000000_pairs_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// GPU: %[[POS:.*]] = llvm.load {{.*}} : !llvm.ptr<1> -> i32
// GPU: %[[FREQ:.*]] = llvm.load {{.*}} : !llvm.ptr<1> -> f32
// GPU: %[[POSF:.*]] = arith.sitofp %[[POS]] : i32 to f32
// GPU-NEXT: %[[ANGLE:.*]] = arith.mulf %[[POSF]], %[[FREQ]] : f32
// GPU-NEXT: arith.extf %[[ANGLE]] : f32 to f64
// GPU: llvm.call_intrinsic "llvm.roundeven.f64"
// GPU-COUNT-3: llvm.intr.fma({{.*}}) : (f64, f64, f64) -> f64
// GPU: %[[SIN:.*]] = arith.truncf {{.*}} : f64 to f32
// GPU-NEXT: %[[COS:.*]] = arith.truncf {{.*}} : f64 to f32
// ya = xa·cos − xb·sin, yb = xa·sin + xb·cos, unfused.
// GPU: %[[X:.*]] = llvm.load {{.*}} {alignment = 8 : i64} : !llvm.ptr<1> -> vector<2xf32>
// GPU: %[[XA:.*]] = llvm.extractelement %[[X]]
// GPU: %[[XB:.*]] = llvm.extractelement %[[X]]
// GPU-NEXT: %[[BS:.*]] = arith.mulf %[[XB]], %[[SIN]] : f32
// GPU-NEXT: %[[AC:.*]] = arith.mulf %[[XA]], %[[COS]] : f32
// GPU-NEXT: %[[YA:.*]] = arith.subf %[[AC]], %[[BS]] : f32
// GPU-NEXT: %[[BC:.*]] = arith.mulf %[[XB]], %[[COS]] : f32
// GPU-NEXT: %[[AS:.*]] = arith.mulf %[[XA]], %[[SIN]] : f32
// GPU-NEXT: %[[YB:.*]] = arith.addf %[[AS]], %[[BC]] : f32
// GPU: llvm.insertelement %[[YA]]
// GPU: llvm.insertelement %[[YB]]
// GPU: llvm.store {{.*}} {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>

// NVVM: llvm.func @gpu_rope_8x128_500000_000000_pairs_b1
// NVVM-SAME: gpu.kernel
// NVVM-NOT: __nv_
// NVVM-NOT: scf.

// 3 heads × 32 pairs = 96 pairs a token: guarded (a block has 256 threads).
// PTX: .target sm_80
// PTX: .global .align 4 .b8 gpu_rope_3x64_10000_000000_pairs_b1_freqs[128]
// PTX: .entry gpu_rope_3x64_10000_000000_pairs_b1(
// PTX: .maxntid 256, 1, 1
// PTX: setp.gt.u64 {{.*}}, 95;
// PTX: cvt.rn.f32.s32
// PTX: mul.rn.f32
// PTX: cvt.f64.f32
// PTX: cvt.rni.f64.f64
// PTX: fma.rn.f64
// PTX: cvt.rn.f32.f64
// PTX: ld.global.v2.b32
// PTX: st.global.v2.b32
// PTX-NOT: sin.approx
// PTX: .entry gpu_rope_3x64_10000_000000_pairs_b2(
// PTX: setp.gt.u64 {{.*}}, 191;
