// --lowbit-gptq quantizes the decoder's linears layer by layer on
// calibration text; act-order records each column's group in g_idx.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=4 window-length=128 bits=4 group-size=128 side-file=%t/gptq.safetensors" -o %t/gptq.mlir 2>/dev/null
// RUN: FileCheck %s < %t/gptq.mlir
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/gptq.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL

// CHECK: lowbit.side_files = ["{{[^"]*}}gptq.safetensors"]
// CHECK: lowbit.weight "model.embed_tokens.weight" : tensor<4096x256xbf16>
// CHECK: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = affine, bits = 4, group_size = 128, symmetric = false, act_order = false>>
// CHECK: lowbit.weight "model.layers.3.mlp.down_proj.weight" : !lowbit.qweight<256x768, #lowbit.scheme<format = affine, bits = 4, group_size = 128
// CHECK: lowbit.weight "lm_head.weight" : tensor<4096x256xbf16>
// PPL: perplexity {{(3[3-9]|4[0-9])\.[0-9]+}} (protocol p1, ctx 512, 2 windows

// act-order: g_idx in the side file, act_order in the type.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=2 window-length=64 bits=3 act-order=true side-file=%t/act.safetensors" 2>/dev/null | FileCheck %s --check-prefix=ACT
// ACT: !lowbit.qweight<256x256, #lowbit.scheme<format = affine, bits = 3, group_size = 128, symmetric = false, act_order = true>>
// RUN: grep -c "q_proj.weight.g_idx" %t/act.safetensors

// The same recipe through --lowbit-pipeline writes the same tensors.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-pipeline="name=gptq-w4g128 file=%lowbit_models/tiny-5m/data/calib.txt side-file=%t/pipe.safetensors" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=PIPE
// PIPE: lowbit-gptq{{.*}}bits=4{{.*}}group-size=128

// Unsupported settings and missing calibration fail before anything is written.
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="bits=5 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=BITS
// BITS: error: --lowbit-gptq: bits must be 2, 3, 4 or 8, not 5
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="group-size=96 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=GROUP
// GROUP: error: --lowbit-gptq: group size 96 does not divide input width 256 of 'model.layers.0.self_attn.q_proj.weight'
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=NOCAL
// NOCAL: error: --lowbit-gptq: needs calibration text: give file=PATH or run --lowbit-calibrate first
// RUN: head -c 300 %lowbit_models/tiny-5m/data/calib.txt > %t/short.txt
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%t/short.txt side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=SHORT
// SHORT: error: --lowbit-gptq: {{.*}}short.txt: calibration text has {{[0-9]+}} tokens, fewer than one window of 512
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%t/missing.txt side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: --lowbit-gptq: {{.*}}missing.txt: cannot open
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="damp=0 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=DAMP
// DAMP: error: --lowbit-gptq: damp must be in (0, 1), not 0
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="sequential=false side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=NOSTATS
// NOSTATS: error: --lowbit-gptq: sequential=false needs the float model's Hessians: run --lowbit-calibrate first
// RUN: not test -e %t/bad.safetensors
