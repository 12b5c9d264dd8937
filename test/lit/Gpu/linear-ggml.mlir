// The decode linears of ggml's block types and their activation roundings
// (docs/gpu.md, "Integer weight formats"): one emitter for every integer
// format, each lane taking blocks of 32 values; what differs is where the
// block's parameters lie and how they scale the int8 dot products.
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q4g32 --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=Q4G32
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q4k --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=Q4K
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q8g32 --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=Q8G32
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q6k --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=Q6K
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q8g128 --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=Q8G128
// RUN: lowbit-gpu-kernels --target=sm_90 --format=lut4 --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=LUT4
// RUN: lowbit-gpu-kernels --target=sm_80 --format=lut4 --linear=256x512 --emit=ptx | FileCheck %s --check-prefix=LUT4-PTX
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q5k --linear=256x512 --embedding=1000x512 --emit=gpu | FileCheck %s --check-prefix=Q5K
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q2k --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=Q2K
// RUN: lowbit-gpu-kernels --target=sm_80 --format=q6k --linear=256x512 --embedding=1000x512 --batch=1,8 --emit=ptx | FileCheck %s --check-prefix=PTX
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q4k --rounding=q8k --linear=256x512 --embedding=1000x512 --batch=1,8 -o %t && FileCheck %s --check-prefix=TSV < %t/kernels.tsv
// RUN: lowbit-gpu-kernels --target=sm_90 --rounding=q8k --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=Q8K
// RUN: lowbit-gpu-kernels --target=sm_90 --rounding=q81 --linear=256x512 --emit=gpu | FileCheck %s --check-prefix=Q81

// q4g32 (q4_0, q4_1): 16 code bytes a block, an f16 (d, m) pair per block
// after the 256 × 256 code bytes; unsigned nibbles against signed
// activations; m times the activation block's sums.
// Q4G32: gpu.func @gpu_linear_q4g32_256x512_b1_r2(
// Q4G32: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// Q4G32: arith.addi %{{.*}}, %c65536_i64 : i64
// Q4G32: llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> vector<2xf16>
// Q4G32: llvm.load {{.*}} {alignment = 8 : i64} : !llvm.ptr<1> -> vector<2xf32>
// Q4G32-COUNT-8: llvm.nvvm.idp4a.u.s
// Q4G32: llvm.intr.fma
// Q4G32: llvm.intr.fma

// q4k (q4_k): the block's (scale, min) bytes after the codes, the
// super-block's f16 (d, dmin) after those (65536 + 256·512/16 = 73728);
// d·scale and −dmin·min in f32.
// Q4K: gpu.func @gpu_linear_q4k_256x512_b1_r2(
// Q4K: arith.addi %{{.*}}, %c65536_i64 : i64
// Q4K: llvm.load {{.*}} {alignment = 2 : i64} : !llvm.ptr<1> -> vector<2xi8>
// Q4K: arith.shrui %{{.*}}, %c3_i64 : i64
// Q4K: arith.addi %{{.*}}, %c73728_i64 : i64
// Q4K: llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> vector<2xf16>
// Q4K: arith.uitofp %{{.*}} : i8 to f32
// Q4K: arith.negf
// Q4K-COUNT-8: llvm.nvvm.idp4a.u.s

// q8g32 (q8_0): 32 signed code bytes a block (two 16-byte loads), one f16
// scale per block after the 256 × 512 codes, no offset: no sums read.
// Q8G32: gpu.func @gpu_linear_q8g32_256x512_b1_r2(
// Q8G32-COUNT-2: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// Q8G32: arith.addi %{{.*}}, %c131072_i64 : i64
// Q8G32: llvm.load {{.*}} {alignment = 2 : i64} : !llvm.ptr<1> -> f16
// Q8G32-NOT: vector<2xf32>
// Q8G32-COUNT-8: llvm.nvvm.idp4a.s.s
// Q8G32-NOT: idp4a.u.s

// q8g128 (affine int8 with groups of 128: GPTQ, RTN w8g128): 32 signed
// code bytes a block (q − 128), an f32 (d, m) pair per group of 128 after
// the 256 × 512 codes (the group: the block / 4); signed × signed, and m
// times the activation block's sums.
// Q8G128: gpu.func @gpu_linear_q8g128_256x512_b1_r2(
// Q8G128-COUNT-2: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// Q8G128: arith.shrui %{{.*}}, %c2_i64{{[_0-9]*}} : i64
// Q8G128: arith.addi %{{.*}}, %c131072_i64{{[_0-9]*}} : i64
// Q8G128: llvm.load {{.*}} {alignment = 8 : i64} : !llvm.ptr<1> -> vector<2xf32>
// Q8G128: llvm.load {{.*}} {alignment = 8 : i64} : !llvm.ptr<1> -> vector<2xf32>
// Q8G128-NOT: f16
// Q8G128-COUNT-8: llvm.nvvm.idp4a.s.s
// Q8G128: llvm.intr.fma
// Q8G128: llvm.intr.fma
// Q8G128-NOT: idp4a.u.s

// lut4 (NF4, FP4 through their int8 codebook): the 16-byte table after the
// 256·512/2 code bytes and the f32 scale per block (65536 + 16384 = 81920),
// loaded once before the loop; each code word's two halves looked up by
// three byte permutes (entries 0-7, entries 8-15, then byte by byte on the
// code's bit 3); signed × signed, no offset.
// LUT4: gpu.func @gpu_linear_lut4_256x512_b1_r2(
// LUT4: %[[TABLE:.*]] = llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// LUT4: scf.for
// LUT4: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// LUT4: arith.addi %{{.*}}, %c65536_i64{{[_0-9]*}} : i64
// LUT4: llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// LUT4-NOT: vector<2xf32>
// LUT4: llvm.extractelement %[[TABLE]]
// LUT4: arith.andi %{{.*}}, %c30583_i32
// LUT4-COUNT-3: llvm.call_intrinsic "llvm.nvvm.prmt"
// LUT4: llvm.nvvm.idp4a.s.s
// LUT4-NOT: idp4a.u.s
// LUT4-PTX: .entry gpu_linear_lut4_256x512_b1_r2(
// LUT4-PTX: ld.global.v4.b32 {{.*}}+81920]
// LUT4-PTX: prmt.b32
// LUT4-PTX: dp4a.s32.s32

// q6k (q6_k): codes q − 32 as signed bytes, two int8 scales per block, the
// super-block's f16 d after them; each half of a block summed and scaled
// on its own.
// Q6K: gpu.func @gpu_linear_q6k_256x512_b1_r2(
// Q6K: arith.addi %{{.*}}, %c131072_i64 : i64
// Q6K: llvm.load {{.*}} {alignment = 2 : i64} : !llvm.ptr<1> -> vector<2xi8>
// Q6K: arith.addi %{{.*}}, %c139264_i64 : i64
// Q6K: llvm.load {{.*}} {alignment = 2 : i64} : !llvm.ptr<1> -> f16
// Q6K: arith.sitofp %{{.*}} : i8 to f32
// Q6K-COUNT-4: llvm.nvvm.idp4a.s.s
// Q6K-NEXT: arith.sitofp %{{.*}} : i32 to f32
// Q6K-NEXT: arith.mulf
// Q6K-NEXT: llvm.intr.fma
// Q6K-COUNT-4: llvm.nvvm.idp4a.s.s
// Q6K-NEXT: arith.sitofp %{{.*}} : i32 to f32

// q5k (q5_k): unsigned code bytes (0..31, two 16-byte loads), q4k's
// parameters after them (at 131072 and 131072 + 256·512/16 = 139264),
// unsigned-by-signed dp4a, the offset times the sums; the embedding widens
// the bytes unsigned.
// Q5K: gpu.func @gpu_embedding_q5k_1000x512_b1(
// Q5K: llvm.bitcast %{{.*}} : vector<4xi32> to vector<16xi8>
// Q5K: arith.uitofp %{{.*}} : i8 to f32
// Q5K-NOT: arith.sitofp %{{.*}} : i8 to f32
// Q5K: gpu.func @gpu_linear_q5k_256x512_b1_r2(
// Q5K-COUNT-2: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// Q5K: arith.addi %{{.*}}, %c131072_i64 : i64
// Q5K: llvm.load {{.*}} {alignment = 2 : i64} : !llvm.ptr<1> -> vector<2xi8>
// Q5K: arith.addi %{{.*}}, %c139264_i64 : i64
// Q5K: llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> vector<2xf16>
// Q5K: llvm.load {{.*}} {alignment = 8 : i64} : !llvm.ptr<1> -> vector<2xf32>
// Q5K-COUNT-8: llvm.nvvm.idp4a.u.s

// q2k (q2_k): 4-bit codes, (scale, min) bytes of both halves (4 bytes a
// block) after them, the super-block's f16 (d, dmin) after those (65536 +
// 256·512/8 = 81920); each half scaled and offset on its own, the offsets
// times the half sums.
// Q2K: gpu.func @gpu_linear_q2k_256x512_b1_r2(
// Q2K: arith.addi %{{.*}}, %c65536_i64 : i64
// Q2K: llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> vector<4xi8>
// Q2K: arith.addi %{{.*}}, %c81920_i64 : i64
// Q2K: llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> vector<2xf16>
// Q2K-COUNT-4: llvm.nvvm.idp4a.u.s
// Q2K: llvm.intr.fma
// Q2K-COUNT-4: llvm.nvvm.idp4a.u.s
// Q2K: llvm.intr.fma
// Q2K: llvm.extractelement {{.*}} : vector<2xf32>
// Q2K-NEXT: llvm.intr.fma
// Q2K: llvm.extractelement {{.*}} : vector<2xf32>
// Q2K-NEXT: llvm.intr.fma

// The embedding of a q6k table: signed bytes widened, one scale per half.
// PTX: .entry gpu_embedding_q6k_1000x512_b1(
// PTX: cvt.rn.f32.s16
// PTX-COUNT-8: st.global.v4.b32
// PTX: .entry gpu_quantize_b32_512_b1(
// PTX: .entry gpu_linear_q6k_256x512_b1_r2(
// PTX: dp4a.s32.s32
// PTX: .entry gpu_linear_q6k_256x512_b8_r1(

// TSV: gpu_embedding_q4k_1000x512_b1 embedding q4k 1000 512 1 1 1 1 128 1 1 0 0.000000 0 0
// TSV: gpu_quantize_q8k_512_b1 quantize q8k 0 512 1 1 1 1 256 1 1 0 0.000000 0 0
// TSV: gpu_linear_q4k_256x512_b1_r2 linear q4k 256 512 1 32 1 1 128 1 1 0 0.000000 0 0
// TSV: gpu_linear_q4k_256x512_b8_r1 linear q4k 256 512 8 64 1 1 128 1 1 0 0.000000 0 0

// q8k (the k-quants' activations): a warp per 256 values, 8 per lane in two
// 16-byte loads; the largest and smallest value over the warp, the one of
// larger magnitude mapped to −127; 8 code bytes a lane; the half-block sums
// from lane pairs; the scale written for each of the 8 blocks of 32.
// Q8K: gpu.func @gpu_quantize_q8k_512_b1(
// Q8K-COUNT-2: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// Q8K-COUNT-5: gpu.shuffle  xor
// Q8K: arith.cmpf ogt
// Q8K: arith.divf %cst{{.*}}, %{{.*}} : f32
// Q8K: llvm.store {{.*}} {alignment = 8 : i64} : vector<8xi8>, !llvm.ptr<1>
// Q8K: gpu.shuffle  xor %{{.*}}, %c1_i32
// Q8K: scf.if
// Q8K: scf.if

// q81 (q4_1's activations): d rounded to f16; the block's one sum rounded
// to f16 in the first half's slot, 0 in the second's.
// Q81: gpu.func @gpu_quantize_q81_512_b1(
// Q81: arith.truncf %{{.*}} : f32 to f16
// Q81: gpu.shuffle  xor %{{.*}}, %c16_i32
// Q81: arith.truncf %{{.*}} : f32 to f16
// Q81: arith.select

// The integer linears take a bias as the f16 ones do.
// RUN: lowbit-gpu-kernels --target=sm_90 --format=q4g128 --linear=256x512 --bias --emit=gpu | FileCheck %s --check-prefix=BIAS
// BIAS: gpu.func @gpu_linear_q4g128_256x512_bias_b1_r2(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %[[BIAS:.*]]: !llvm.ptr<1>)
// BIAS: llvm.getelementptr %[[BIAS]]
// BIAS-NEXT: %[[B0:.*]] = llvm.load {{.*}} : !llvm.ptr<1> -> f32
// BIAS: %[[Y:.*]] = arith.addf %{{.*}}, %[[B0]] : f32
// BIAS: llvm.store %[[Y]]
