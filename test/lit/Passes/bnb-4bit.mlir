// --lowbit-bnb-4bit quantizes the decoder's linears (not the embedding or the
// output head) to bitsandbytes NF4 / FP4 blocks in a side file; the result
// runs.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-bnb-4bit="side-file=%t/nf4.safetensors" -o %t/nf4.mlir 2>/dev/null
// RUN: FileCheck %s < %t/nf4.mlir
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/nf4.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL

// CHECK: lowbit.side_files = ["{{[^"]*}}nf4.safetensors"]
// CHECK: lowbit.weight "model.embed_tokens.weight" : tensor<4096x256xbf16>
// CHECK: lowbit.weight "model.layers.0.input_layernorm.weight" : tensor<256xbf16>
// CHECK: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = nf4, bits = 4, group_size = 64, symmetric = true, act_order = false>>
// CHECK: lowbit.weight "model.layers.0.mlp.down_proj.weight" : !lowbit.qweight<256x768, #lowbit.scheme<format = nf4, bits = 4, group_size = 64
// CHECK: lowbit.weight "lm_head.weight" : tensor<4096x256xbf16>
// PPL: perplexity 4{{[78]\.[0-9]+}} (protocol p1, ctx 512, 2 windows

// Double quantization changes the absmax storage, not the type.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-bnb-4bit="quant-type=nf4 double-quant=true side-file=%t/nf4dq.safetensors" -o %t/nf4dq.mlir 2>/dev/null
// RUN: FileCheck %s --check-prefix=DQ < %t/nf4dq.mlir
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/nf4dq.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL
// DQ: !lowbit.qweight<256x256, #lowbit.scheme<format = nf4, bits = 4, group_size = 64, symmetric = true, act_order = false>>

// FP4 with larger blocks.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-bnb-4bit="quant-type=fp4 block-size=128 side-file=%t/fp4.safetensors" -o %t/fp4.mlir 2>/dev/null
// RUN: FileCheck %s --check-prefix=FP4 < %t/fp4.mlir
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/fp4.mlir 2>/dev/null | FileCheck %s --check-prefix=FP4PPL
// FP4: !lowbit.qweight<256x256, #lowbit.scheme<format = fp4, bits = 4, group_size = 128, symmetric = true, act_order = false>>
// FP4PPL: perplexity {{(49|5[0-2])\.[0-9]+}} (protocol p1, ctx 512, 2 windows

// The executor checks the stored blocks against the type.
// RUN: sed 's/group_size = 64/group_size = 128/g' %t/nf4.mlir > %t/wrong.mlir
// RUN: not lowbit-run perplexity --chunks 1 --file %lowbit_models/tiny-5m/data/heldout.txt %t/wrong.mlir 2>&1 | FileCheck %s --check-prefix=WRONG
// WRONG: nf4 weight 'model.layers.0.self_attn.q_proj.weight' needs a f32 [512] tensor 'model.layers.0.self_attn.q_proj.weight.absmax' in the weight store, found f32 [1024]
// RUN: lowbit-opt %t/tiny.mlir --lowbit-rtn="bits=4 group-size=64 sym=true side-file=%t/rtn.safetensors" 2>/dev/null | sed 's/format = affine/format = nf4/g' > %t/affine.mlir
// RUN: not lowbit-run perplexity --chunks 1 --file %lowbit_models/tiny-5m/data/heldout.txt %t/affine.mlir 2>&1 | FileCheck %s --check-prefix=AFFINE
// AFFINE: weight 'model.layers.0.self_attn.q_proj.weight' is typed !lowbit.qweight<256x256, #lowbit.scheme<format = nf4, {{.*}}> in the IR but stored as u8 [256, 256]

// Bad options fail before anything is written.
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-bnb-4bit="block-size=512 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=DIVIDE
// DIVIDE: error: --lowbit-bnb-4bit: block size 512 does not divide input width 256 of 'model.layers.0.self_attn.q_proj.weight'
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-bnb-4bit="block-size=96 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=BLOCK
// BLOCK: error: --lowbit-bnb-4bit: block-size must be a power of two from 64 to 4096, not 96
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-bnb-4bit="quant-type=int4 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=TYPE
// TYPE: error: --lowbit-bnb-4bit: quant-type must be nf4 or fp4, not 'int4'
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-bnb-4bit 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: --lowbit-bnb-4bit needs side-file=PATH
// RUN: not test -e %t/bad.safetensors
