// The q4g128 embedding lookup on the GPU, one thread per block of 32
// values of a token's row; the id clamped to the table (no read outside
// it), one 16-byte load of codes, the group's (d, m) f16 pair, w = d·u + m
// as a product then a sum (the CPU's embedding arithmetic), eight 16-byte
// stores.
// RUN: lowbit-gpu-kernels --target=sm_90 --embedding=128256x4096 --emit=gpu | FileCheck %s --check-prefix=GPU
// RUN: lowbit-gpu-kernels --target=sm_80 --embedding=1000x384 --batch=1,2 --emit=ptx | FileCheck %s --check-prefix=PTX

// GPU: gpu.func @gpu_embedding_q4g128_128256x4096_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// GPU: %[[ID:.*]] = llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> i32
// GPU: %[[ID64:.*]] = arith.extui %[[ID]] : i32 to i64
// GPU: %[[ROW:.*]] = arith.minui %[[ID64]], %c128255_i64 : i64
// GPU: %[[CODES:.*]] = llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<16xi8>
// The parameters start after 128256 rows of 2048 code bytes.
// GPU: arith.addi %c262668288_i64, %{{.*}} : i64
// GPU: %[[DM:.*]] = llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> vector<2xf16>
// GPU: %[[D:.*]] = arith.extf {{.*}} : f16 to f32
// GPU: %[[M:.*]] = arith.extf {{.*}} : f16 to f32
// GPU: llvm.extractelement %[[CODES]]
// GPU: %[[LO:.*]] = arith.andi %{{.*}}, %c15_i32 : i32
// GPU: %[[HI:.*]] = arith.shrui %{{.*}}, %c4_i32 : i32
// GPU-NEXT: %[[Q:.*]] = arith.uitofp %[[LO]] : i32 to f32
// GPU-NEXT: %[[DQ:.*]] = arith.mulf %[[Q]], %[[D]] : f32
// GPU-NEXT: arith.addf %[[DQ]], %[[M]] : f32
// GPU-COUNT-8: llvm.store {{.*}} {alignment = 16 : i64} : vector<4xf32>, !llvm.ptr<1>

// 12 blocks a row: 12 and 24 threads of a block of 128, guarded.
// PTX: .entry gpu_embedding_q4g128_1000x384_b1(
// PTX: setp.gt.u64 {{.*}}, 11;
// PTX: ld.global.v4.b32
// PTX: cvt.f32.f16
// PTX: mul.rn.f32
// PTX: add.rn.f32
// PTX-COUNT-8: st.global.v4.b32
// PTX: .entry gpu_embedding_q4g128_1000x384_b2(
// PTX: setp.gt.u64 {{.*}}, 23;
