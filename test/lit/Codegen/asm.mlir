// The emitted x86 code of the hot kernels uses the intended instructions,
// and no library call (a scalar fallback) appears in them.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --export-gguf --outtype q4_k_m %lowbit_models/tiny-5m -o %t/q4km.gguf 2>/dev/null
// RUN: lowbit-translate --export-gguf --outtype q8_0 %lowbit_models/tiny-5m -o %t/q80.gguf 2>/dev/null
// RUN: lowbit-translate --export-gguf --outtype f16 %lowbit_models/tiny-5m -o %t/f16.gguf 2>/dev/null
// RUN: lowbit-compile %t/q4km.gguf --target=x86-64-v3 -o %t/a.lbx --emit-asm=%t/q4km-v3.s 2>/dev/null
// RUN: lowbit-compile %t/q4km.gguf --target=x86-64-v4 -o %t/a.lbx --emit-asm=%t/q4km-v4.s 2>/dev/null
// RUN: lowbit-compile %t/q80.gguf --target=x86-64-v3 -o %t/a.lbx --emit-asm=%t/q80-v3.s 2>/dev/null
// RUN: lowbit-compile %t/q80.gguf --target=x86-64-v4 -o %t/a.lbx --emit-asm=%t/q80-v4.s 2>/dev/null
// RUN: lowbit-compile %t/f16.gguf --target=x86-64-v4 -o %t/a.lbx --emit-asm=%t/f16-v4.s 2>/dev/null
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-bnb-4bit="quant-type=nf4 double-quant=true side-file=%t/nf4.safetensors" -o %t/nf4.mlir 2>/dev/null
// RUN: lowbit-compile %t/nf4.mlir --target=x86-64-v3 -o %t/a.lbx --emit-asm=%t/nf4-v3.s 2>/dev/null
// RUN: lowbit-compile %t/nf4.mlir --target=x86-64-v4 -o %t/a.lbx --emit-asm=%t/nf4-v4.s 2>/dev/null
// RUN: FileCheck %s --check-prefix=Q4K-V3 < %t/q4km-v3.s
// RUN: FileCheck %s --check-prefix=Q4K-V4 < %t/q4km-v4.s
// RUN: FileCheck %s --check-prefix=Q80-V3 < %t/q80-v3.s
// RUN: FileCheck %s --check-prefix=Q80-V4 < %t/q80-v4.s
// RUN: FileCheck %s --check-prefix=F16-V4 < %t/f16-v4.s
// RUN: FileCheck %s --check-prefix=NF4-V3 < %t/nf4-v3.s
// RUN: FileCheck %s --check-prefix=NF4-V4 < %t/nf4-v4.s

// Q4_K, rows interleaved by 8, AVX2: vpmaddubsw + vpmaddwd per 4 values × 8
// rows, the sub-block scales applied with one vector FMA, decode prefetch.
// Q4K-V3-LABEL: linear_u4b32fmk256r8_q8k_768x256_x86_64_v3:
// Q4K-V3-NOT: call
// Q4K-V3: prefetcht0
// Q4K-V3: vpmaddubsw
// Q4K-V3: vpmaddwd
// Q4K-V3: vfmadd
// Q4K-V3-NOT: call
// Q4K-V3: .Lfunc_end

// Attention's exps are polynomials, not libm calls.
// Q4K-V4-LABEL: attention_4_2_64:
// Q4K-V4-NOT: call
// Q4K-V4: .Lfunc_end
// AVX-512 VNNI: rows interleaved by 16, one 512-bit vpdpbusd per 4 values
// × 16 rows, with the 4 activation bytes broadcast from memory.
// Q4K-V4-LABEL: linear_u4b32fmk256r16_q8k_768x256_x86_64_v4:
// Q4K-V4-NOT: call
// Q4K-V4: vpdpbusd {{.*}}{1to16}, %zmm{{[0-9]+}}, %zmm
// Q4K-V4-NOT: call
// Q4K-V4: .Lfunc_end
// Q6_K (the output layer and half the down projections of Q4_K_M).
// Q4K-V4-LABEL: linear_u6b16fmk256o32r16_q8k_4096x256_x86_64_v4:
// Q4K-V4-NOT: call
// Q4K-V4: vpdpbusd {{.*}}%zmm
// Q4K-V4-NOT: call
// Q4K-V4: .Lfunc_end

// Q8_0 on AVX2: |w| dotted with sign(a, w).
// Q80-V3-LABEL: linear_s8b32hr8_q80_768x256_x86_64_v3:
// Q80-V3-NOT: call
// Q80-V3-DAG: vpabsb
// Q80-V3-DAG: vpsignb
// Q80-V3-DAG: vpmaddubsw
// Q80-V3-NOT: call
// Q80-V3: .Lfunc_end
// On VNNI: codes offset to unsigned by an xor, then vpdpbusd.
// Q80-V4-LABEL: linear_s8b32hr16_q80_768x256_x86_64_v4:
// Q80-V4-NOT: call
// Q80-V4: vpxor{{[dq]?}} {{.*}}%zmm
// Q80-V4: vpdpbusd {{.*}}%zmm
// Q80-V4-NOT: call
// Q80-V4: .Lfunc_end

// F16 weights: converted in-register and FMA'd against f32 activations.
// F16-V4-LABEL: linear_f16_768x256_x86_64_v4:
// F16-V4-NOT: call
// F16-V4: vcvtph2ps
// F16-V4: vfmadd
// F16-V4-NOT: call
// F16-V4: .Lfunc_end

// NF4 in the integer kernels: the 4-bit codes looked up in the int8 codebook
// with vpshufb (one absmax per 64 values, p2), then dotted as signed bytes.
// NF4-V3-LABEL: linear_u4b32fp2cnf4r8_b32_{{[0-9]+}}x{{[0-9]+}}_x86_64_v3:
// NF4-V3-NOT: call
// NF4-V3-DAG: vpshufb
// NF4-V3-DAG: vpsignb
// NF4-V3-DAG: vpmaddubsw
// NF4-V3-NOT: call
// NF4-V3: .Lfunc_end
// On VNNI the table holds the codes offset by 128, so no xor follows.
// NF4-V4-LABEL: linear_u4b32fp2cnf4r16_b32_{{[0-9]+}}x{{[0-9]+}}_x86_64_v4:
// NF4-V4-NOT: call
// NF4-V4: vpshufb {{.*}}%zmm
// NF4-V4: vpdpbusd {{.*}}%zmm
// NF4-V4-NOT: call
// NF4-V4: .Lfunc_end
