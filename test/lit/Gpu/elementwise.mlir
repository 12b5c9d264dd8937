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

// permute_columns: an act-order linear's input in its packed column order,
// one thread per value: the i32 order entry, then a gather of the value.
// RUN: lowbit-gpu-kernels --target=sm_90 --permute-columns=4096 --emit=gpu | FileCheck %s --check-prefix=PERMUTE
// RUN: lowbit-gpu-kernels --target=sm_80 --permute-columns=96 --batch=1,8 --emit=ptx | FileCheck %s --check-prefix=PERMUTE-PTX
// PERMUTE: gpu.func @gpu_permute_columns_4096_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// PERMUTE: arith.remui
// PERMUTE: %[[FROM:.*]] = llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> i32
// PERMUTE: arith.extui %[[FROM]] : i32 to i64
// PERMUTE: llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// PERMUTE: llvm.store {{.*}} {alignment = 4 : i64} : f32, !llvm.ptr<1>
// PERMUTE-NOT: arith.addf
// 96 values: a guard; 768 values: 3 full blocks, none.
// PERMUTE-PTX: .entry gpu_permute_columns_96_b1(
// PERMUTE-PTX: setp.gt.u64 {{.*}}, 95;
// PERMUTE-PTX: ld.global.b32 %r[[FROM:[0-9]+]]
// PERMUTE-PTX: mul.wide.u32 %rd{{[0-9]+}}, %r[[FROM]], 4;
// PERMUTE-PTX: ld.global.b32
// PERMUTE-PTX: st.global.b32
// PERMUTE-PTX: .entry gpu_permute_columns_96_b8(
// PERMUTE-PTX-NOT: setp.gt.u64
// PERMUTE-PTX: st.global.b32
