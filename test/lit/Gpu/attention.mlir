// Decode attention on the GPU ("flash-decoding"): a split kernel, one block
// of 4 warps per (token, head, 256 positions), and a combine kernel, one
// block of D threads per (token, head). The query's lane values and the f16
// key and value rows loaded as vectors, a shuffle tree for the dot product,
// the online softmax carried through the position loop with the generated
// e^x (no libdevice), the warps' states merged in shared memory.
// RUN: lowbit-gpu-kernels --target=sm_90 --attention=32x8x128 --context=2048 --emit=gpu | FileCheck %s --check-prefix=GPU
// RUN: lowbit-gpu-kernels --target=sm_90 --attention=32x8x128 --context=2048 --emit=nvvm | FileCheck %s --check-prefix=NVVM
// RUN: lowbit-gpu-kernels --target=sm_80 --attention=4x2x64 --context=512 --batch=1,3 --emit=ptx | FileCheck %s --check-prefix=PTX
// RUN: lowbit-gpu-kernels --target=sm_90 --attention=32x8x128 --context=2048 --batch=1,8 -o %t && FileCheck %s --check-prefix=TSV < %t/kernels.tsv

// Per warp: m, l and 128 values.
// GPU: llvm.mlir.global internal @gpu_attention_split_32_8_128_c2048_b1_states() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<520 x f32>
// GPU: gpu.func @gpu_attention_split_32_8_128_c2048_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// GPU: %[[SPLIT:.*]] = arith.remui %{{.*}}, %c8_i64 : i64
// GPU: %[[POS:.*]] = llvm.load {{.*}} : !llvm.ptr<1> -> i32
// GPU: scf.if
// GPU: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// GPU: scf.for {{.*}} step %c4_i64{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32)
// GPU-COUNT-2: llvm.load {{.*}} {alignment = 8 : i64} : !llvm.ptr<1> -> vector<4xf16>
// GPU: arith.extf {{.*}} : f16 to f32
// GPU: llvm.intr.fma
// GPU-COUNT-5: gpu.shuffle xor
// GPU: arith.maximumf
// GPU: llvm.call_intrinsic "llvm.roundeven.f32"
// GPU: scf.yield
// GPU: llvm.store {{.*}} : f32, !llvm.ptr<3>
// GPU: gpu.barrier
// GPU: llvm.load {{.*}} : !llvm.ptr<3> -> f32
// GPU: llvm.store {{.*}} : f32, !llvm.ptr<1>
// GPU: gpu.func @gpu_attention_combine_32_8_128_c2048_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// The live splits: ceil((position + 1) / 256).
// GPU: arith.addi %{{.*}}, %c255_i64 : i64
// GPU: arith.divui %{{.*}}, %c256_i64 : i64
// GPU: scf.for
// GPU: arith.maximumf
// GPU: scf.for
// GPU: %[[INV:.*]] = arith.divf %cst{{.*}}, %{{.*}}#0 : f32
// GPU: %[[Y:.*]] = arith.mulf %{{.*}}#1, %[[INV]] : f32
// GPU: llvm.store %[[Y]]

// NVVM: llvm.func @gpu_attention_split_32_8_128_c2048_b1
// NVVM-SAME: gpu.kernel
// NVVM-NOT: __nv_
// NVVM: nvvm.shfl.sync bfly
// NVVM: nvvm.barrier
// NVVM: llvm.func @gpu_attention_combine_32_8_128_c2048_b1

// Head size 64: two f16 values a lane (4-byte loads); the combine's block
// has 64 threads, so the split's merge guards threads 64-127.
// PTX: .target sm_80
// PTX: .entry gpu_attention_split_4_2_64_c512_b1(
// PTX: .maxntid 128, 1, 1
// PTX: .shared .align 16 .b8 gpu_attention_split_4_2_64_c512_b1_states[1056];
// PTX: ld.global.v2.b16
// PTX: cvt.f32.f16
// PTX: shfl.sync.bfly.b32
// PTX: bar.sync
// PTX: .entry gpu_attention_combine_4_2_64_c512_b1(
// PTX: .maxntid 64, 1, 1
// PTX: .entry gpu_attention_split_4_2_64_c512_b3(
// PTX-NOT: ex2.approx

// Grids: tokens × heads × 8 splits, and tokens × heads.
// TSV: gpu_attention_split_32_8_128_c2048_b1 attention_split f16kv 32 128 1 256 1 1 128 1 1 0 0.000000 8 2048
// TSV: gpu_attention_combine_32_8_128_c2048_b1 attention_combine f16kv 32 128 1 32 1 1 128 1 1 0 0.000000 8 2048
// TSV: gpu_kv_store_1024_c2048_b1 kv_store f16kv 0 1024 1 1 1 1 256 1 1 0 0.000000 0 2048
// TSV: gpu_attention_split_32_8_128_c2048_b8 attention_split f16kv 32 128 8 2048 

// The cache writer: key and value rows (8 KV heads × 128) rounded to f16 at
// the token's position, clamped to the cache.
// RUN: lowbit-gpu-kernels --target=sm_90 --attention=32x8x128 --context=2048 --emit=gpu | FileCheck %s --check-prefix=KV
// RUN: lowbit-gpu-kernels --target=sm_80 --attention=32x8x128 --context=2048 --emit=ptx | FileCheck %s --check-prefix=KV-PTX
// KV: gpu.func @gpu_kv_store_1024_c2048_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// KV: arith.minui %{{.*}}, %c2047_i64 : i64
// KV: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// KV-NEXT: arith.truncf {{.*}} : vector<4xf32> to vector<4xf16>
// KV: llvm.store {{.*}} {alignment = 8 : i64} : vector<4xf16>, !llvm.ptr<1>
// KV: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// KV-NEXT: arith.truncf {{.*}} : vector<4xf32> to vector<4xf16>
// KV: llvm.store {{.*}} {alignment = 8 : i64} : vector<4xf16>, !llvm.ptr<1>
// KV-PTX: .entry gpu_kv_store_1024_c2048_b1(
// KV-PTX: min.u32 {{.*}}, 2047;
// KV-PTX: cvt.rn.f16x2.f32
// KV-PTX: st.global.v2.b32
