// --lowbit-rtn quantizes the decoder's linears (not the embedding or the
// output head) to affine codes in a side file; the result runs.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-rtn="bits=4 group-size=128 side-file=%t/rtn.safetensors" -o %t/rtn.mlir 2>/dev/null
// RUN: FileCheck %s < %t/rtn.mlir
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/rtn.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL

// CHECK: lowbit.side_files = ["{{[^"]*}}rtn.safetensors"]
// CHECK: lowbit.weight "model.embed_tokens.weight" : tensor<4096x256xbf16>
// CHECK: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = affine, bits = 4, group_size = 128, symmetric = false, act_order = false>>
// CHECK: lowbit.weight "model.layers.0.mlp.down_proj.weight" : !lowbit.qweight<256x768, #lowbit.scheme<format = affine, bits = 4, group_size = 128
// CHECK: lowbit.weight "lm_head.weight" : tensor<4096x256xbf16>
// PPL: perplexity {{4[6-9]\.[0-9]+}} (protocol p1, ctx 512, 2 windows

// Per-channel, symmetric, 8-bit.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-rtn="bits=8 group-size=-1 sym=true side-file=%t/rtn8.safetensors" 2>/dev/null | FileCheck %s --check-prefix=SYM
// SYM: !lowbit.qweight<256x256, #lowbit.scheme<format = affine, bits = 8, group_size = -1, symmetric = true, act_order = false>>

// Unsupported settings fail before anything is written.
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-rtn="bits=4 group-size=96 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=GROUP
// GROUP: error: --lowbit-rtn: group size 96 does not divide input width 256 of 'model.layers.0.self_attn.q_proj.weight'
// RUN: not test -e %t/bad.safetensors
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-rtn="bits=9 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=BITS
// BITS: error: --lowbit-rtn: bits must be 2..8, not 9
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-rtn="bits=4" 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: --lowbit-rtn needs side-file=PATH
