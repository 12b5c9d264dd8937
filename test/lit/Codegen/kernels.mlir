// lowbit-compile builds each kernel in upstream dialects (scf loops over
// vector/arith/math, pointers and x86 intrinsics through llvm), then lowers
// them to the llvm dialect; --mlir-print-ir-after-all shows both stages.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --export-gguf --outtype q4_k_m %lowbit_models/tiny-5m -o %t/q.gguf 2>/dev/null
// RUN: lowbit-compile %t/q.gguf --target=x86-64-v3 -o %t/q.lbx --mlir-print-ir-after-all 2>&1 | FileCheck %s

// CHECK: IR Dump After GenerateKernels
// CHECK: func.func @embedding_u4b32fmk256_q8k_4096x256
// The norm's output is only read rounded to int8 (as llama.cpp's Q8_K, once
// per 256 values): one kernel does both.
// CHECK: func.func @rms_norm_quantize_q8_k_256
// CHECK: math.roundeven
// The Q4_K linear, rows interleaved by 8: nibbles unpacked, 4 activation
// bytes broadcast to 8 rows, bytes dotted in int32, scaled per sub-block.
// CHECK: func.func @linear_u4b32fmk256r8_q8k_256x256_x86_64_v3
// CHECK: scf.for
// CHECK: arith.shrui {{.*}} : vector<32xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// CHECK: vector.fma {{.*}} : vector<8xf32>
// Decode prefetches the weights ahead.
// CHECK: llvm.intr.prefetch
// CHECK: func.func @rope_4x64
// CHECK: math.cos
// CHECK: func.func @attention_4_2_64
// CHECK: math.exp
// The down projection writes the residual sum itself.
// CHECK: func.func @linear_u4b32fmk256r8_q8k_256x256_res_x86_64_v3
// CHECK: func.func @swiglu_quantize_q8_k_768
// Q6_K keeps one scale per 16 values and its offset of 32.
// CHECK: func.func @linear_u6b16fmk256o32r8_q8k_128x256_x86_64_v3
// CHECK: IR Dump After LowerKernels
// CHECK: llvm.func @linear_u4b32fmk256r8_q8k_256x256_x86_64_v3(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64)
