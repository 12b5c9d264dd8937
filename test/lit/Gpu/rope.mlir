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

// The halves layout (Hugging Face's rotate_half): the same frequencies and
// arithmetic, pair i of a head being its values i and i + D/2, each a 4-byte
// access (D/2 = 64 values, 256 bytes, apart).
// RUN: lowbit-gpu-kernels --target=sm_90 --rope-halves=8x128 --rope-theta=500000 --emit=gpu | FileCheck %s --check-prefix=HALVES
// RUN: lowbit-gpu-kernels --target=sm_80 --rope-halves=3x64 --rope-theta=10000 --batch=1,2 --emit=ptx | FileCheck %s --check-prefix=HALVES-PTX
// RUN: lowbit-gpu-kernels --target=sm_90 --rope=32x128 --rope-halves=32x128 --rope-theta=500000 --batch=1,3 -o %t && FileCheck %s --check-prefix=TSV < %t/kernels.tsv
// HALVES: llvm.mlir.global internal constant @gpu_rope_8x128_500000_000000_halves_b1_freqs(dense<[1.000000e+00, 0.814617216, {{.*}}]> : tensor<64xf32>) {addr_space = 1 : i32, alignment = 4 : i64} : !llvm.array<64 x f32>
// HALVES: gpu.func @gpu_rope_8x128_500000_000000_halves_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// HALVES: %[[SIN:.*]] = arith.truncf {{.*}} : f64 to f32
// HALVES-NEXT: %[[COS:.*]] = arith.truncf {{.*}} : f64 to f32
// HALVES: %[[OFFB:.*]] = arith.addi %[[OFFA:[0-9]+]], %c256_i64{{.*}} : i64
// HALVES-NEXT: %[[PA:.*]] = llvm.getelementptr %{{.*}}[%[[OFFA]]]
// HALVES-NEXT: %[[XA:.*]] = llvm.load %[[PA]] {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// HALVES-NEXT: %[[PB:.*]] = llvm.getelementptr %{{.*}}[%[[OFFB]]]
// HALVES-NEXT: %[[XB:.*]] = llvm.load %[[PB]] {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// HALVES-NEXT: %[[BS:.*]] = arith.mulf %[[XB]], %[[SIN]] : f32
// HALVES-NEXT: %[[AC:.*]] = arith.mulf %[[XA]], %[[COS]] : f32
// HALVES-NEXT: %[[YA:.*]] = arith.subf %[[AC]], %[[BS]] : f32
// HALVES-NEXT: %[[BC:.*]] = arith.mulf %[[XB]], %[[COS]] : f32
// HALVES-NEXT: %[[AS:.*]] = arith.mulf %[[XA]], %[[SIN]] : f32
// HALVES-NEXT: %[[YB:.*]] = arith.addf %[[AS]], %[[BC]] : f32
// HALVES: llvm.store %[[YA]], %{{.*}} {alignment = 4 : i64} : f32, !llvm.ptr<1>
// HALVES: llvm.store %[[YB]], %{{.*}} {alignment = 4 : i64} : f32, !llvm.ptr<1>

// Head size 64: the second value 32 values (128 bytes) after the first.
// HALVES-PTX: .global .align 4 .b8 gpu_rope_3x64_10000_000000_halves_b1_freqs[128]
// HALVES-PTX: .entry gpu_rope_3x64_10000_000000_halves_b1(
// HALVES-PTX: setp.gt.u64 {{.*}}, 95;
// HALVES-PTX: fma.rn.f64
// HALVES-PTX: ld.global.b32 {{.*}}, [%[[P:rd[0-9]+]]];
// HALVES-PTX-NEXT: ld.global.b32 {{.*}}, [%[[P]]+128];
// HALVES-PTX: st.global.b32 [%[[P]]],
// HALVES-PTX-NEXT: st.global.b32 [%[[P]]+128],
// HALVES-PTX-NOT: sin.approx
// HALVES-PTX: .entry gpu_rope_3x64_10000_000000_halves_b2(

// TSV: gpu_rope_32x128_500000_000000_pairs_b1 rope pairs 32 128 1 8 1 1 256 1 1 0 500000.000000 0 0
// TSV: gpu_rope_32x128_500000_000000_pairs_b3 rope pairs
// TSV: gpu_rope_32x128_500000_000000_halves_b1 rope halves 32 128 1 8 1 1 256 1 1 0 500000.000000 0 0
// TSV: gpu_rope_32x128_500000_000000_halves_b3 rope halves 32 128 3 24 1 1 256 1 1 0 500000.000000 0 0
