// --lowbit-awq scales, clips and rounds the decoder's linears; the rescaled
// norms join the codes in the side file as f32.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-awq="file=%lowbit_models/tiny-5m/data/calib.txt windows=4 window-length=128 samples=256 side-file=%t/awq.safetensors" -o %t/awq.mlir 2>/dev/null
// RUN: FileCheck %s < %t/awq.mlir
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/awq.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL

// CHECK: lowbit.side_files = ["{{[^"]*}}awq.safetensors"]
// CHECK: lowbit.weight "model.layers.0.input_layernorm.weight" : tensor<256xf32>
// CHECK: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = affine, bits = 4, group_size = 128, symmetric = false, act_order = false>>
// CHECK: lowbit.weight "model.layers.0.post_attention_layernorm.weight" : tensor<256xf32>
// CHECK: lowbit.weight "lm_head.weight" : tensor<4096x256xbf16>
// PPL: perplexity {{(3[3-9]|4[0-9])\.[0-9]+}} (protocol p1, ctx 512, 2 windows

// Scales scored on the attention / MLP block outputs of replayed windows,
// on every token through XᵀX, and layers fed by the float model: each still
// yields a working model of the same types.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-awq="file=%lowbit_models/tiny-5m/data/calib.txt windows=4 window-length=128 samples=256 block-windows=2 side-file=%t/block-awq.safetensors" -o %t/block.mlir 2>/dev/null
// RUN: FileCheck %s < %t/block.mlir
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/block.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL
// RUN: lowbit-opt %t/tiny.mlir --lowbit-awq="file=%lowbit_models/tiny-5m/data/calib.txt windows=4 window-length=128 scale-tokens-all=true align-samples=true sequential=false side-file=%t/gram-awq.safetensors" -o %t/gram.mlir 2>/dev/null
// RUN: FileCheck %s < %t/gram.mlir
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/gram.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL

// RUN: not lowbit-opt %t/tiny.mlir --lowbit-awq="block-windows=-1 file=%lowbit_models/tiny-5m/data/calib.txt side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=BLOCK
// BLOCK: error: --lowbit-awq: block-windows must be 0 or more, not -1
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-awq="bits=9 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=BITS
// BITS: error: --lowbit-awq: bits must be 2..8, not 9
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-awq="group-size=-1 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=GROUP
// GROUP: error: --lowbit-awq: group-size must be positive, not -1
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-awq="side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=NOCAL
// NOCAL: error: --lowbit-awq: needs calibration text: give file=PATH or run --lowbit-calibrate first
// RUN: not test -e %t/bad.safetensors
