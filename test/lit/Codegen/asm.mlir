// The emitted x86 code of the hot kernels uses the intended instructions:
// vpmaddubsw/vpmaddwd on x86-64-v3, AVX-512 VNNI vpdpbusd on x86-64-v4.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --export-gguf --outtype q4_k_m %lowbit_models/tiny-5m -o %t/q.gguf 2>/dev/null
// RUN: lowbit-compile %t/q.gguf --target=x86-64-v3 -o %t/v3.lbx --emit-asm=%t/v3.s 2>/dev/null
// RUN: FileCheck %s --check-prefix=V3 < %t/v3.s
// RUN: lowbit-compile %t/q.gguf --target=x86-64-v4 -o %t/v4.lbx --emit-asm=%t/v4.s 2>/dev/null
// RUN: FileCheck %s --check-prefix=V4 < %t/v4.s

// V3-LABEL: linear_u4b32fm_q8k_768x256_x86_64_v3:
// V3: vpmaddubsw
// V3: vpmaddwd
// V3: vfmadd
// V3-LABEL: .Lfunc_end
// V4-LABEL: linear_u4b32fm_q8k_768x256_x86_64_v4:
// V4: vpdpbusd
// V4-LABEL: .Lfunc_end
