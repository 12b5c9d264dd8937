// The f16 decode linear at each lowering step: a warp per R rows, each lane
// taking chunks of 8 values (one 16-byte load of f16 weights per row, two of
// f32 activations per token), the weights widened to f32 and multiplied by
// fma, a shuffle reduction, lane 0 storing. No quantize kernel runs first:
// the activations stay f32.
// RUN: lowbit-gpu-kernels --target=sm_90 --linear-f16=4096x4096 --emit=gpu | FileCheck %s --check-prefix=GPU
// RUN: lowbit-gpu-kernels --target=sm_90 --linear-f16=4096x4096 --emit=nvvm | FileCheck %s --check-prefix=NVVM
// RUN: lowbit-gpu-kernels --target=sm_80 --linear-f16=100x96 --batch=1,8 --emit=ptx | FileCheck %s --check-prefix=PTX
// RUN: lowbit-gpu-kernels --target=sm_90 --linear-f16=4096x4096,100x96,128256x4096 --batch=1,8,16 -o %t && FileCheck %s --check-prefix=TSV < %t/kernels.tsv

// 512 chunks of 8 values: 16 per lane, two per step (step 64).
// GPU: gpu.func @gpu_linear_f16_4096x4096_b1_r2(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// GPU-NOT: arith.minui
// GPU: scf.for %{{.*}} = %{{.*}} to %c512_i64 step %c64_i64 iter_args({{.*}}) -> (f32, f32)
// GPU-COUNT-2: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<8xf16>
// GPU-COUNT-2: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xf32>
// GPU: %[[W:.*]] = arith.extf %{{.*}} : vector<8xf16> to vector<8xf32>
// GPU: %[[W0:.*]] = llvm.extractelement %[[W]]
// GPU: %[[X0:.*]] = llvm.extractelement {{.*}} : vector<4xf32>
// GPU-NEXT: llvm.intr.fma(%[[W0]], %[[X0]], %{{.*}}) : (f32, f32, f32) -> f32
// GPU: scf.yield
// GPU-COUNT-10: gpu.shuffle xor
// GPU: scf.if
// GPU-COUNT-2: llvm.store {{.*}} {alignment = 4 : i64} : f32, !llvm.ptr<1>
// GPU-NOT: gpu_quantize
// GPU-NOT: idp4a

// NVVM: llvm.func @gpu_linear_f16_4096x4096_b1_r2
// NVVM-SAME: gpu.kernel
// NVVM-NOT: scf.
// NVVM: llvm.fpext {{.*}} : vector<8xf16> to vector<8xf32>
// NVVM: llvm.intr.fma
// NVVM: nvvm.shfl.sync bfly

// 100 rows, 8 a block at 2 rows per warp: the 13th block's last warp has
// rows 100 and 101, which read row 99 and store nothing; at 1 row per warp
// (batch 8) the blocks cover 100 rows exactly, unguarded. 12 chunks a row:
// lanes 12-31 take none.
// PTX: .entry gpu_linear_f16_100x96_b1_r2(
// PTX: .maxntid 128, 1, 1
// PTX: setp.gt.u64 {{.*}}, 11;
// PTX: min.u64 {{.*}}, 99;
// PTX: ld.global.v4.b32
// PTX: cvt.f32.f16
// PTX: fma.rn.f32
// PTX: shfl.sync.bfly.b32
// PTX: setp.gt.u64 {{.*}}, 99;
// PTX: st.global.b32
// PTX: .entry gpu_linear_f16_100x96_b8_r1(
// PTX-NOT: min.u64
// PTX: fma.rn.f32
// PTX-NOT: setp.gt.u64 {{.*}}, 99;
// PTX-COUNT-8: st.global.b32
// PTX-NOT: dp4a

// Grids: ceil(N / (4 warps × R rows)); --batch=16 makes no f16 linear.
// TSV: gpu_linear_f16_4096x4096_b1_r2 linear f16 4096 4096 1 512 1 1 128 1 1 0 0.000000 0 0
// TSV: gpu_linear_f16_4096x4096_b8_r1 linear f16 4096 4096 8 1024 1 1 128 1 1 0 0.000000 0 0
// TSV: gpu_linear_f16_100x96_b1_r2 linear f16 100 96 1 13 1 1 128 1 1 0 0.000000 0 0
// TSV: gpu_linear_f16_100x96_b8_r1 linear f16 100 96 8 25 1 1 128 1 1 0 0.000000 0 0
// TSV: gpu_linear_f16_128256x4096_b1_r2 linear f16 128256 4096 1 16032 1 1 128 1 1 0 0.000000 0 0
// TSV: gpu_linear_f16_128256x4096_b8_r1 linear f16 128256 4096 8 32064 1 1 128 1 1 0 0.000000 0 0
// TSV-NOT: _b16

// With --bias (Qwen2's q/k/v): a fourth argument, f32 per output row, loaded
// once per row by the storing lane and added to each token's sum.
// RUN: lowbit-gpu-kernels --target=sm_90 --linear-f16=100x96 --batch=2 --bias --emit=gpu | FileCheck %s --check-prefix=BIAS
// BIAS: gpu.func @gpu_linear_f16_100x96_bias_b2_r2(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %[[BIAS:.*]]: !llvm.ptr<1>)
// BIAS: llvm.getelementptr %[[BIAS]]
// BIAS-NEXT: %[[B0:.*]] = llvm.load {{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// BIAS: arith.addf %{{.*}}, %[[B0]] : f32
// BIAS: llvm.store
// BIAS: arith.addf %{{.*}}, %[[B0]] : f32
// BIAS: llvm.store
// BIAS: llvm.getelementptr %[[BIAS]]
