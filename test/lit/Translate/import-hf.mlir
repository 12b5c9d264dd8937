// Importing the bundled Hugging Face model names every weight and inlines
// none: the module stays small, verifies, and survives a print/parse cycle.
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m | FileCheck %s
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m | lowbit-opt | lowbit-opt --canonicalize --cse | FileCheck %s
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m | wc -c | FileCheck %s --check-prefix=SIZE

// CHECK: module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.000000e-05, rope_theta = 1.000000e+04, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>
// CHECK-SAME: lowbit.tokenizer = "{{[^"]*}}tiny-5m/tokenizer.model"
// CHECK-SAME: lowbit.weight_files = ["{{[^"]*}}tiny-5m/model.safetensors"]
// CHECK: func.func @forward(%[[TOK:.*]]: tensor<?xi32>, %[[POS:.*]]: tensor<?xi32>) -> tensor<?x4096xf32>
// CHECK: %[[EMB:.*]] = lowbit.weight "model.embed_tokens.weight" : tensor<4096x256xbf16>
// CHECK: %[[X:.*]] = lowbit.embedding %[[TOK]], %[[EMB]]
// CHECK: lowbit.weight "model.layers.0.self_attn.k_proj.weight" : tensor<128x256xbf16>
// CHECK: %[[H:.*]] = lowbit.rms_norm %[[X]], %{{.*}} {epsilon = 9.99999974E-6 : f32}
// CHECK: %[[Q:.*]] = lowbit.linear %[[H]], %{{.*}} : (tensor<?x256xf32>, tensor<256x256xbf16>) -> tensor<?x256xf32>
// CHECK: %[[K:.*]] = lowbit.linear %[[H]], %{{.*}} : (tensor<?x256xf32>, tensor<128x256xbf16>) -> tensor<?x128xf32>
// CHECK: %[[V:.*]] = lowbit.linear %[[H]]
// CHECK: %[[QR:.*]] = lowbit.rope %[[Q]], %[[POS]] {head_dim = 64 : i64, interleaved = false, num_heads = 4 : i64, theta = 1.000000e+04 : f32}
// CHECK: %[[KR:.*]] = lowbit.rope %[[K]], %[[POS]] {head_dim = 64 : i64, interleaved = false, num_heads = 2 : i64
// CHECK: lowbit.attention %[[QR]], %[[KR]], %[[V]], %[[POS]] {head_dim = 64 : i64, layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64}
// CHECK: lowbit.swiglu
// CHECK: lowbit.attention {{.*}} layer = 3
// CHECK: lowbit.weight "lm_head.weight" : tensor<4096x256xbf16>
// CHECK: %[[LOGITS:.*]] = lowbit.linear {{.*}} -> tensor<?x4096xf32>
// CHECK: return %[[LOGITS]] : tensor<?x4096xf32>

// The 10 MB of weights stay in the safetensors file.
// SIZE: {{^[0-9]{4,5}$}}
