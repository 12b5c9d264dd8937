// A GGUF export imports back with GGUF tensor names, llama.cpp's adjacent-pair
// rope order, and Q8_0 weights as !lowbit.qweight.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --export-gguf --outtype q8_0 %lowbit_models/tiny-5m -o %t/tiny.gguf
// RUN: lowbit-translate --import-gguf %t/tiny.gguf | FileCheck %s
// RUN: lowbit-translate --import-gguf %t/tiny.gguf | lowbit-opt | FileCheck %s

// CHECK: lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096
// CHECK-SAME: lowbit.tokenizer = "{{[^"]*}}tiny.gguf"
// CHECK-SAME: lowbit.weight_files = ["{{[^"]*}}tiny.gguf"]
// CHECK: %[[EMB:.*]] = lowbit.weight "token_embd.weight" : !lowbit.qweight<4096x256, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>
// CHECK: lowbit.embedding %{{.*}}, %[[EMB]] : (tensor<?xi32>, !lowbit.qweight<4096x256
// CHECK: lowbit.weight "blk.0.attn_norm.weight" : tensor<256xf32>
// CHECK: lowbit.weight "blk.0.attn_q.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = q8_0
// CHECK: lowbit.rope {{.*}}interleaved = true
// CHECK: lowbit.weight "output.weight" : !lowbit.qweight<4096x256
