// Each step of the codegen pipeline run alone on a real model's IR.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --export-gguf --outtype q4_0 %lowbit_models/tiny-5m -o %t/q.gguf 2>/dev/null
// RUN: lowbit-translate --import-gguf %t/q.gguf -o %t/q.mlir
// RUN: lowbit-opt %t/q.mlir --lowbit-form-dispatches --lowbit-pack-weights=output=%t/w.bin -o %t/packed.mlir
// RUN: FileCheck %s --check-prefix=PACK < %t/packed.mlir
// RUN: lowbit-opt %t/packed.mlir --lowbit-generate-kernels=target=x86-64-v4 -o %t/kernels.mlir
// RUN: FileCheck %s --check-prefix=GEN < %t/kernels.mlir
// RUN: lowbit-opt %t/kernels.mlir --lowbit-lower-kernels | FileCheck %s --check-prefix=LOWER
// RUN: not lowbit-opt %t/q.mlir --lowbit-generate-kernels 2>&1 | FileCheck %s --check-prefix=UNPACKED

// Q4_0 becomes 4-bit codes with f16 d per 32 values (w = d·(u − 8)), rows
// interleaved by 8, read with Q8_0 activations; norm weights become f32.
// PACK: lowbit.weight "blk.0.attn_norm.weight" {lowbit.packed = {layout = "f32", offset = {{[0-9]+}} : i64, size = 1024 : i64}}
// PACK: lowbit.weight "blk.0.attn_q.weight" {lowbit.packed = {{{.*}}layout = "u4b32hmo8r8_q80"{{.*}}}}

// The norm writes the int8 rounding its linears read.
// GEN: lowbit.rms_norm {{.*}}lowbit.kernels = {main = @rms_norm_quantize_q8_0_256_{{.*}}, quantize = @quantize_q8_0_256}
// GEN: lowbit.linear {{.*}}lowbit.kernels = {main = @linear_u4b32hmo8r8_q80_256x256_x86_64_v4, quantize = @quantize_q8_0_256}
// GEN: lowbit.attention {{.*}}lowbit.kernels = {kv_store = @kv_store_128, main = @attention_4_2_64}
// GEN: module @kernels attributes {lowbit.target = "x86-64-v4"}
// GEN: func.func @linear_u4b32hmo8r8_q80_256x256_x86_64_v4
// GEN: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"

// LOWER: module @kernels
// LOWER-NOT: func.func
// LOWER: llvm.func @linear_u4b32hmo8r8_q80_256x256_x86_64_v4
// LOWER: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"

// UNPACKED: weight is not packed (run --lowbit-pack-weights first)
