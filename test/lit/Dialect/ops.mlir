// RUN: lowbit-opt %s | lowbit-opt | FileCheck %s
// RUN: lowbit-opt %s --mlir-print-op-generic | lowbit-opt | FileCheck %s

// Every op, attribute and type of the dialect survives print -> parse.

// CHECK-LABEL: func.func @layer
// CHECK-SAME:    (%[[TOK:.*]]: tensor<?xi32>, %[[POS:.*]]: tensor<?xi32>)
func.func @layer(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x256xf32> {
  // CHECK: %[[EMB:.*]] = lowbit.weight "model.embed_tokens.weight" : tensor<4096x256xbf16>
  %emb = lowbit.weight "model.embed_tokens.weight" : tensor<4096x256xbf16>
  // CHECK: %[[X:.*]] = lowbit.embedding %[[TOK]], %[[EMB]] : (tensor<?xi32>, tensor<4096x256xbf16>) -> tensor<?x256xf32>
  %x = lowbit.embedding %tokens, %emb : (tensor<?xi32>, tensor<4096x256xbf16>) -> tensor<?x256xf32>

  // CHECK: %[[NW:.*]] = lowbit.weight "model.layers.0.input_layernorm.weight" : tensor<256xbf16>
  %nw = lowbit.weight "model.layers.0.input_layernorm.weight" : tensor<256xbf16>
  // CHECK: %[[H:.*]] = lowbit.rms_norm %[[X]], %[[NW]] {epsilon = 9.99999974E-6 : f32} : (tensor<?x256xf32>, tensor<256xbf16>) -> tensor<?x256xf32>
  %h = lowbit.rms_norm %x, %nw {epsilon = 1.0e-05 : f32} : (tensor<?x256xf32>, tensor<256xbf16>) -> tensor<?x256xf32>

  // A float weight, no bias.
  // CHECK: %[[WQ:.*]] = lowbit.weight "model.layers.0.self_attn.q_proj.weight" : tensor<256x256xf16>
  // CHECK: %[[Q:.*]] = lowbit.linear %[[H]], %[[WQ]] : (tensor<?x256xf32>, tensor<256x256xf16>) -> tensor<?x256xf32>
  %wq = lowbit.weight "model.layers.0.self_attn.q_proj.weight" : tensor<256x256xf16>
  %q = lowbit.linear %h, %wq : (tensor<?x256xf32>, tensor<256x256xf16>) -> tensor<?x256xf32>

  // A quantized weight with a bias.
  // CHECK: %[[WK:.*]] = lowbit.weight "model.layers.0.self_attn.k_proj.weight" : !lowbit.qweight<128x256, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>
  // CHECK: %[[BK:.*]] = lowbit.weight "model.layers.0.self_attn.k_proj.bias" : tensor<128xf32>
  // CHECK: %[[K:.*]] = lowbit.linear %[[H]], %[[WK]], %[[BK]] : (tensor<?x256xf32>, !lowbit.qweight<128x256, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>, tensor<128xf32>) -> tensor<?x128xf32>
  %wk = lowbit.weight "model.layers.0.self_attn.k_proj.weight" : !lowbit.qweight<128x256, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>
  %bk = lowbit.weight "model.layers.0.self_attn.k_proj.bias" : tensor<128xf32>
  %k = lowbit.linear %h, %wk, %bk : (tensor<?x256xf32>, !lowbit.qweight<128x256, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>, tensor<128xf32>) -> tensor<?x128xf32>

  // An affine (GPTQ-style) scheme: free bits and group size, act_order.
  // CHECK: !lowbit.qweight<128x256, #lowbit.scheme<format = affine, bits = 3, group_size = 128, symmetric = false, act_order = true>>
  %wv = lowbit.weight "model.layers.0.self_attn.v_proj.weight" : !lowbit.qweight<128x256, #lowbit.scheme<format = affine, bits = 3, group_size = 128, symmetric = false, act_order = true>>
  %v = lowbit.linear %h, %wv : (tensor<?x256xf32>, !lowbit.qweight<128x256, #lowbit.scheme<format = affine, bits = 3, group_size = 128, symmetric = false, act_order = true>>) -> tensor<?x128xf32>

  // CHECK: %[[QR:.*]] = lowbit.rope %[[Q]], %[[POS]] {head_dim = 64 : i64, interleaved = false, num_heads = 4 : i64, theta = 1.000000e+04 : f32} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  // CHECK: %[[KR:.*]] = lowbit.rope %[[K]], %[[POS]] {head_dim = 64 : i64, interleaved = true, num_heads = 2 : i64, theta = 5.000000e+05 : f32} : (tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x128xf32>
  %qr = lowbit.rope %q, %positions {num_heads = 4, head_dim = 64, theta = 10000.0 : f32, interleaved = false}
      : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  %kr = lowbit.rope %k, %positions {num_heads = 2, head_dim = 64, theta = 500000.0 : f32, interleaved = true}
      : (tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x128xf32>

  // CHECK: %[[A:.*]] = lowbit.attention %[[QR]], %[[KR]], %{{.*}}, %[[POS]] {head_dim = 64 : i64, layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64} : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  %a = lowbit.attention %qr, %kr, %v, %positions {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 0}
      : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>

  // CHECK: %[[WG:.*]] = lowbit.weight "model.layers.0.mlp.gate_proj.weight" : !lowbit.qweight<768x256, #lowbit.scheme<format = q4_k, bits = 4, group_size = 256, symmetric = false, act_order = false>>
  %wg = lowbit.weight "model.layers.0.mlp.gate_proj.weight" : !lowbit.qweight<768x256, #lowbit.scheme<format = q4_k, bits = 4, group_size = 256, symmetric = false, act_order = false>>
  %g = lowbit.linear %a, %wg : (tensor<?x256xf32>, !lowbit.qweight<768x256, #lowbit.scheme<format = q4_k, bits = 4, group_size = 256, symmetric = false, act_order = false>>) -> tensor<?x768xf32>
  %wu = lowbit.weight "model.layers.0.mlp.up_proj.weight" : !lowbit.qweight<768x256, #lowbit.scheme<format = nf4, bits = 4, group_size = 64, symmetric = true, act_order = false>>
  %u = lowbit.linear %a, %wu : (tensor<?x256xf32>, !lowbit.qweight<768x256, #lowbit.scheme<format = nf4, bits = 4, group_size = 64, symmetric = true, act_order = false>>) -> tensor<?x768xf32>
  // CHECK: %[[M:.*]] = lowbit.swiglu %[[G:.*]], %[[U:.*]] : (tensor<?x768xf32>, tensor<?x768xf32>) -> tensor<?x768xf32>
  %m = lowbit.swiglu %g, %u : (tensor<?x768xf32>, tensor<?x768xf32>) -> tensor<?x768xf32>
  // CHECK: !lowbit.qweight<256x768, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1, symmetric = true, act_order = false>>
  %wd = lowbit.weight "model.layers.0.mlp.down_proj.weight" : !lowbit.qweight<256x768, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1, symmetric = true, act_order = false>>
  %d = lowbit.linear %m, %wd : (tensor<?x768xf32>, !lowbit.qweight<256x768, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1, symmetric = true, act_order = false>>) -> tensor<?x256xf32>
  // CHECK: %[[R:.*]] = lowbit.add %[[X]], %{{.*}} : (tensor<?x256xf32>, tensor<?x256xf32>) -> tensor<?x256xf32>
  %r = lowbit.add %x, %d : (tensor<?x256xf32>, tensor<?x256xf32>) -> tensor<?x256xf32>
  // CHECK: return %[[R]]
  return %r : tensor<?x256xf32>
}

// Static sequence lengths, and a quantized embedding table (GGUF files store
// token_embd in a block format).
// CHECK-LABEL: func.func @static_lengths
func.func @static_lengths(%tokens: tensor<8xi32>) -> tensor<8x512xf32> {
  // CHECK: lowbit.weight "token_embd.weight" : !lowbit.qweight<32000x512, #lowbit.scheme<format = q6_k, bits = 6, group_size = 256, symmetric = true, act_order = false>>
  %t = lowbit.weight "token_embd.weight" : !lowbit.qweight<32000x512, #lowbit.scheme<format = q6_k, bits = 6, group_size = 256, symmetric = true, act_order = false>>
  // CHECK: lowbit.embedding %{{.*}}, %{{.*}} : (tensor<8xi32>, !lowbit.qweight<32000x512, {{.*}}>) -> tensor<8x512xf32>
  %x = lowbit.embedding %tokens, %t : (tensor<8xi32>, !lowbit.qweight<32000x512, #lowbit.scheme<format = q6_k, bits = 6, group_size = 256, symmetric = true, act_order = false>>) -> tensor<8x512xf32>
  return %x : tensor<8x512xf32>
}

// Every format name parses and prints back.
// CHECK-LABEL: func.func @formats
// CHECK-SAME: format = q4_0, bits = 4, group_size = 32
// CHECK-SAME: format = q4_1, bits = 4, group_size = 32
// CHECK-SAME: format = q5_0, bits = 5, group_size = 32
// CHECK-SAME: format = q5_1, bits = 5, group_size = 32
// CHECK-SAME: format = q2_k, bits = 2, group_size = 256
// CHECK-SAME: format = q3_k, bits = 3, group_size = 256
// CHECK-SAME: format = q5_k, bits = 5, group_size = 256
// CHECK-SAME: format = fp4, bits = 4, group_size = 16
func.func @formats(
    %a: !lowbit.qweight<64x64, #lowbit.scheme<format = q4_0, bits = 4, group_size = 32, symmetric = true, act_order = false>>,
    %b: !lowbit.qweight<64x64, #lowbit.scheme<format = q4_1, bits = 4, group_size = 32, symmetric = false, act_order = false>>,
    %c: !lowbit.qweight<64x64, #lowbit.scheme<format = q5_0, bits = 5, group_size = 32, symmetric = true, act_order = false>>,
    %d: !lowbit.qweight<64x64, #lowbit.scheme<format = q5_1, bits = 5, group_size = 32, symmetric = false, act_order = false>>,
    %e: !lowbit.qweight<64x256, #lowbit.scheme<format = q2_k, bits = 2, group_size = 256, symmetric = false, act_order = false>>,
    %f: !lowbit.qweight<64x256, #lowbit.scheme<format = q3_k, bits = 3, group_size = 256, symmetric = true, act_order = false>>,
    %g: !lowbit.qweight<64x256, #lowbit.scheme<format = q5_k, bits = 5, group_size = 256, symmetric = false, act_order = false>>,
    %h: !lowbit.qweight<64x64, #lowbit.scheme<format = fp4, bits = 4, group_size = 16, symmetric = true, act_order = false>>) {
  return
}
