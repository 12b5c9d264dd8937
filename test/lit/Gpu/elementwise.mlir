// swiglu and add on the GPU at each lowering step: one thread per 4 values,
// 16-byte loads of both inputs, one 16-byte store. swiglu: e^(−gate)
// generated (a reduction by ln 2 in two fmas, a polynomial, 2^n from
// exponent bits: no libdevice call), the CPU kernel's division and product.
// RUN: lowbit-gpu-kernels --target=sm_90 --swiglu=14336 --emit=gpu | FileCheck %s --check-prefix=GPU
// RUN: lowbit-gpu-kernels --target=sm_90 --swiglu=14336 --emit=nvvm | FileCheck %s --check-prefix=NVVM
// RUN: lowbit-gpu-kernels --target=sm_80 --swiglu=96 --batch=1,64 --emit=ptx | FileCheck %s --check-prefix=PTX

// GPU: gpu.func @gpu_swiglu_14336_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// GPU-COUNT-2: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// GPU: %[[G:.*]] = llvm.extractelement
// GPU: %[[NEG:.*]] = arith.negf %[[G]] : f32
// GPU: arith.minimumf %[[NEG]]
// GPU: arith.maximumf
// GPU: llvm.call_intrinsic "llvm.roundeven.f32"
// GPU-COUNT-9: llvm.intr.fma
// GPU: arith.bitcast {{.*}} : i32 to f32
// GPU-NEXT: arith.mulf
// GPU: arith.bitcast {{.*}} : i32 to f32
// GPU-NEXT: %[[EXP:.*]] = arith.mulf
// GPU: %[[DEN:.*]] = arith.addf %{{.*}}, %[[EXP]] : f32
// GPU-NEXT: %[[SILU:.*]] = arith.divf %[[G]], %[[DEN]] : f32
// GPU: arith.mulf %[[SILU]], %{{.*}} : f32
// GPU: llvm.store {{.*}} {alignment = 16 : i64} : vector<4xf32>, !llvm.ptr<1>
// GPU-NOT: llvm.call @

// NVVM: llvm.func @gpu_swiglu_14336_b1
// NVVM-SAME: gpu.kernel
// NVVM-NOT: __nv_
// NVVM-NOT: scf.

// 96 values × 1 token: 24 threads of a block of 256 are live, so a guard;
// 64 tokens: 1536 chunks, 6 full blocks, none.
// PTX: .target sm_80
// PTX: .entry gpu_swiglu_96_b1(
// PTX: .maxntid 256, 1, 1
// PTX: setp.gt.u64 {{.*}}, 23;
// PTX-COUNT-2: ld.global.v4.b32
// PTX: min.NaN.f32
// PTX: cvt.rni.f32.f32
// PTX: fma.rn.f32
// PTX: div.rn.f32
// PTX: st.global.v4.b32
// PTX-NOT: ex2.approx
// PTX: .entry gpu_swiglu_96_b64(
// PTX-NOT: setp.gt.u64
// PTX: st.global.v4.b32

// add: the residual sum, value by value.
// RUN: lowbit-gpu-kernels --target=sm_90 --add=4096 --emit=gpu | FileCheck %s --check-prefix=ADD
// RUN: lowbit-gpu-kernels --target=sm_80 --add=4096 --batch=1,8 --emit=ptx | FileCheck %s --check-prefix=ADD-PTX
// ADD: gpu.func @gpu_add_4096_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// ADD-COUNT-2: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// ADD-COUNT-4: arith.addf
// ADD: llvm.store {{.*}} {alignment = 16 : i64} : vector<4xf32>, !llvm.ptr<1>
// ADD-NOT: arith.mulf
// 1024 chunks of 4 values: 4 full blocks, no guard.
// ADD-PTX: .entry gpu_add_4096_b1(
// ADD-PTX-NOT: setp
// ADD-PTX: add.rn.f32
// ADD-PTX: st.global.v4.b32
// ADD-PTX: .entry gpu_add_4096_b8(
