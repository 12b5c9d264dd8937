// lowbit-compile builds each kernel in upstream dialects (scf loops over
// vector/arith/math, pointers and x86 intrinsics through llvm), then lowers
// them to the llvm dialect; --mlir-print-ir-after-all shows both stages.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --export-gguf --outtype q4_k_m %lowbit_models/tiny-5m -o %t/q.gguf 2>/dev/null
// RUN: lowbit-compile %t/q.gguf --target=x86-64-v3 -o %t/q.lbx --mlir-print-ir-after-all 2>&1 | FileCheck %s

// CHECK: IR Dump After GenerateKernels
// CHECK: func.func @embedding_u4b32fm_q8k_4096x256
// CHECK: func.func @rms_norm_256
// Activations rounded to int8 once per 256 values as llama.cpp's Q8_K.
// CHECK: func.func @quantize_q8_k_256
// CHECK: math.roundeven
// The Q4_K linear: nibbles unpacked, bytes dotted in int32, scaled in f32.
// CHECK: func.func @linear_u4b32fm_q8k_256x256_x86_64_v3
// CHECK: scf.for
// CHECK: arith.shrui {{.*}} : vector<16xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// CHECK: vector.fma
// CHECK: func.func @rope_4x64
// CHECK: math.cos
// CHECK: func.func @attention_4_2_64
// CHECK: math.exp
// The down projection writes the residual sum itself.
// CHECK: func.func @linear_u4b32fm_q8k_256x256_res_x86_64_v3
// CHECK: func.func @swiglu_768
// Q6_K keeps one scale per 16 values.
// CHECK: func.func @linear_u6b16fm_q8k_128x256_x86_64_v3
// CHECK: IR Dump After LowerKernels
// CHECK: llvm.func @linear_u4b32fm_q8k_256x256_x86_64_v3(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64)
