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
// GPU: %[[WORDS:.*]] = llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// GPU: %[[CODES:.*]] = llvm.bitcast %[[WORDS]] : vector<4xi32> to vector<16xi8>
// The parameters start after 128256 rows of 2048 code bytes.
// GPU: arith.addi %{{.*}}, %c262668288_i64 : i64
// GPU: %[[DM:.*]] = llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> vector<2xf16>
// GPU: %[[DMF:.*]] = llvm.fpext %[[DM]] : vector<2xf16> to vector<2xf32>
// GPU: %[[D:.*]] = llvm.extractelement %[[DMF]]
// GPU: %[[M:.*]] = llvm.extractelement %[[DMF]]
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

// The f16 embedding: one thread per 8 values, the id clamped as above, one
// 16-byte load of f16 values widened to f32 (exactly), two 16-byte stores.
// RUN: lowbit-gpu-kernels --target=sm_90 --embedding-f16=128256x4096 --emit=gpu | FileCheck %s --check-prefix=F16
// RUN: lowbit-gpu-kernels --target=sm_80 --embedding-f16=1000x96 --batch=1,64 --emit=ptx | FileCheck %s --check-prefix=F16-PTX
// RUN: lowbit-gpu-kernels --target=sm_90 --embedding-f16=128256x4096 --embedding=128256x4096 --batch=1,3 -o %t && FileCheck %s --check-prefix=TSV < %t/kernels.tsv
// F16: gpu.func @gpu_embedding_f16_128256x4096_b1(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// F16: %[[ID:.*]] = llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> i32
// F16: %[[ID64:.*]] = arith.extui %[[ID]] : i32 to i64
// F16: %[[ROW:.*]] = arith.minui %[[ID64]], %c128255_i64 : i64
// Rows of 4096 f16 values: 8192 bytes.
// F16: arith.muli %[[ROW]], %c8192_i64 : i64
// F16: %[[HALVES:.*]] = llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<8xf16>
// F16-NEXT: arith.extf %[[HALVES]] : vector<8xf16> to vector<8xf32>
// F16-COUNT-2: llvm.store {{.*}} {alignment = 16 : i64} : vector<4xf32>, !llvm.ptr<1>
// F16-NOT: arith.mulf

// 12 chunks a row: guarded for 1 token (a block has 128 threads), not for
// 64 (768 chunks, 6 full blocks).
// F16-PTX: .entry gpu_embedding_f16_1000x96_b1(
// F16-PTX: setp.gt.u64 {{.*}}, 11;
// F16-PTX: min.u32 {{.*}}, 999;
// F16-PTX: ld.global.v4.b32
// F16-PTX-COUNT-8: cvt.f32.f16
// F16-PTX-COUNT-2: st.global.v4.b32
// F16-PTX: .entry gpu_embedding_f16_1000x96_b64(
// F16-PTX-NOT: setp.gt.u64
// F16-PTX: st.global.v4.b32

// TSV: gpu_embedding_q4g128_128256x4096_b1 embedding q4g128 128256 4096 1 1 1 1 128 1 1 0 0.000000 0 0
// TSV: gpu_embedding_f16_128256x4096_b1 embedding f16 128256 4096 1 4 1 1 128 1 1 0 0.000000 0 0
// TSV: gpu_embedding_f16_128256x4096_b3 embedding f16 128256 4096 3 12 1 1 128 1 1 0 0.000000 0 0
