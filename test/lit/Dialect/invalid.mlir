// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// One case per verifier error of the lowbit attributes, types and ops.

//===----------------------------------------------------------------------===//
// #lowbit.scheme
//===----------------------------------------------------------------------===//

// expected-error @+1 {{bits must be in [2, 8], got 9}}
func.func private @bits_range(!lowbit.qweight<64x64, #lowbit.scheme<format = affine, bits = 9, group_size = 32, symmetric = true, act_order = false>>)

// -----

// expected-error @+1 {{bits must be in [2, 8], got 1}}
func.func private @bits_range_low(!lowbit.qweight<64x64, #lowbit.scheme<format = affine, bits = 1, group_size = 32, symmetric = true, act_order = false>>)

// -----

// expected-error @+1 {{group_size must be positive or -1, got 0}}
func.func private @group_zero(!lowbit.qweight<64x64, #lowbit.scheme<format = affine, bits = 4, group_size = 0, symmetric = true, act_order = false>>)

// -----

// expected-error @+1 {{format q4_0 stores 4-bit codes, but bits = 8}}
func.func private @format_bits(!lowbit.qweight<64x64, #lowbit.scheme<format = q4_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>)

// -----

// expected-error @+1 {{format q6_k stores 6-bit codes, but bits = 4}}
func.func private @kquant_bits(!lowbit.qweight<64x256, #lowbit.scheme<format = q6_k, bits = 4, group_size = 256, symmetric = true, act_order = false>>)

// -----

// expected-error @+1 {{format nf4 stores 4-bit codes, but bits = 8}}
func.func private @nf4_bits(!lowbit.qweight<64x64, #lowbit.scheme<format = nf4, bits = 8, group_size = 64, symmetric = true, act_order = false>>)

// -----

// expected-error @+1 {{format q8_0 has blocks of 32 values, but group_size = 64}}
func.func private @block_size(!lowbit.qweight<64x64, #lowbit.scheme<format = q8_0, bits = 8, group_size = 64, symmetric = true, act_order = false>>)

// -----

// expected-error @+1 {{format q4_k has blocks of 256 values, but group_size = 32}}
func.func private @kquant_block(!lowbit.qweight<64x256, #lowbit.scheme<format = q4_k, bits = 4, group_size = 32, symmetric = false, act_order = false>>)

// -----

// expected-error @+2 {{expected one of [affine, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, nf4, fp4, int8_row] for weight encoding, got: q7_0}}
// expected-error @+1 {{failed to parse Lowbit_QuantSchemeAttr parameter 'format'}}
func.func private @unknown_format(!lowbit.qweight<64x64, #lowbit.scheme<format = q7_0, bits = 7, group_size = 32, symmetric = true, act_order = false>>)

// -----

// expected-error @+2 {{expected 'true' or 'false'}}
// expected-error @+1 {{failed to parse Lowbit_QuantSchemeAttr parameter 'symmetric'}}
func.func private @bool_syntax(!lowbit.qweight<64x64, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = 1, act_order = false>>)

// -----

//===----------------------------------------------------------------------===//
// !lowbit.qweight
//===----------------------------------------------------------------------===//

// expected-error @+1 {{quantized weight must have rank 2 [N, K], got rank 3}}
func.func private @qweight_rank(!lowbit.qweight<4x64x64, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>)

// -----

// expected-error @+1 {{quantized weight dimensions must be positive, got 0x64}}
func.func private @qweight_empty(!lowbit.qweight<0x64, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>)

// -----

// expected-error @+1 {{group size 96 does not divide input width 512}}
func.func private @group_divides(!lowbit.qweight<256x512, #lowbit.scheme<format = affine, bits = 4, group_size = 96, symmetric = false, act_order = false>>)

// -----

// expected-error @+1 {{group size 256 does not divide input width 320}}
func.func private @block_divides(!lowbit.qweight<64x320, #lowbit.scheme<format = q4_k, bits = 4, group_size = 256, symmetric = false, act_order = false>>)

// -----

// expected-error @+1 {{expected static shape}}
func.func private @qweight_dynamic(!lowbit.qweight<?x64, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>)

// -----

//===----------------------------------------------------------------------===//
// lowbit.weight
//===----------------------------------------------------------------------===//

func.func @weight_name() {
  // expected-error @+1 {{'lowbit.weight' op weight name must not be empty}}
  %w = lowbit.weight "" : tensor<4xf32>
  return
}

// -----

func.func @weight_dynamic() {
  // expected-error @+1 {{'lowbit.weight' op result #0 must be statically shaped float tensor or quantized weight, but got 'tensor<?x4xf32>'}}
  %w = lowbit.weight "w" : tensor<?x4xf32>
  return
}

// -----

func.func @weight_int() {
  // expected-error @+1 {{'lowbit.weight' op result #0 must be statically shaped float tensor or quantized weight, but got 'tensor<4xi8>'}}
  %w = lowbit.weight "w" : tensor<4xi8>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lowbit.embedding
//===----------------------------------------------------------------------===//

func.func @embedding_rank(%t: tensor<?xi32>, %table: tensor<4096xf32>) {
  // expected-error @+1 {{'lowbit.embedding' op operand #1 must be 2D statically shaped float tensor or quantized weight, but got 'tensor<4096xf32>'}}
  %x = lowbit.embedding %t, %table : (tensor<?xi32>, tensor<4096xf32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @embedding_tokens(%t: tensor<?xi64>, %table: tensor<4096x256xf32>) {
  // expected-error @+1 {{'lowbit.embedding' op operand #0 must be 1D tensor of 32-bit signless integer values, but got 'tensor<?xi64>'}}
  %x = lowbit.embedding %t, %table : (tensor<?xi64>, tensor<4096x256xf32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @embedding_width(%t: tensor<?xi32>, %table: tensor<4096x256xf32>) {
  // expected-error @+1 {{'lowbit.embedding' op result width 128 does not match embedding width 256}}
  %x = lowbit.embedding %t, %table : (tensor<?xi32>, tensor<4096x256xf32>) -> tensor<?x128xf32>
  return
}

// -----

func.func @embedding_length(%t: tensor<8xi32>, %table: tensor<4096x256xf32>) {
  // expected-error @+1 {{'lowbit.embedding' op sequence length of result (4) does not match tokens (8)}}
  %x = lowbit.embedding %t, %table : (tensor<8xi32>, tensor<4096x256xf32>) -> tensor<4x256xf32>
  return
}

// -----

func.func @embedding_result_type(%t: tensor<?xi32>, %table: tensor<4096x256xf32>) {
  // expected-error @+1 {{'lowbit.embedding' op result #0 must be 2D tensor with a static width of 32-bit float values, but got 'tensor<?x256xbf16>'}}
  %x = lowbit.embedding %t, %table : (tensor<?xi32>, tensor<4096x256xf32>) -> tensor<?x256xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lowbit.rms_norm
//===----------------------------------------------------------------------===//

func.func @rms_norm_weight(%x: tensor<?x256xf32>, %w: tensor<128xf32>) {
  // expected-error @+1 {{'lowbit.rms_norm' op weight length 128 does not match input width 256}}
  %h = lowbit.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<?x256xf32>, tensor<128xf32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @rms_norm_result(%x: tensor<?x256xf32>, %w: tensor<256xf32>) {
  // expected-error @+1 {{'lowbit.rms_norm' op result type 'tensor<4x256xf32>' does not match input type 'tensor<?x256xf32>'}}
  %h = lowbit.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<?x256xf32>, tensor<256xf32>) -> tensor<4x256xf32>
  return
}

// -----

func.func @rms_norm_epsilon(%x: tensor<?x256xf32>, %w: tensor<256xf32>) {
  // expected-error @+1 {{'lowbit.rms_norm' op epsilon must be positive, got 0}}
  %h = lowbit.rms_norm %x, %w {epsilon = 0.0 : f32} : (tensor<?x256xf32>, tensor<256xf32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @rms_norm_epsilon_type(%x: tensor<?x256xf32>, %w: tensor<256xf32>) {
  // expected-error @+1 {{'lowbit.rms_norm' op attribute 'epsilon' failed to satisfy constraint: 32-bit float attribute}}
  %h = lowbit.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : (tensor<?x256xf32>, tensor<256xf32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @rms_norm_dynamic_width(%x: tensor<?x?xf32>, %w: tensor<256xf32>) {
  // expected-error @+1 {{'lowbit.rms_norm' op operand #0 must be 2D tensor with a static width of 32-bit float values, but got 'tensor<?x?xf32>'}}
  %h = lowbit.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<?x?xf32>, tensor<256xf32>) -> tensor<?x?xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lowbit.linear
//===----------------------------------------------------------------------===//

func.func @linear_input_width(%x: tensor<?x256xf32>, %w: tensor<512x128xf32>) {
  // expected-error @+1 {{'lowbit.linear' op weight [N, K] = [512, 128] does not match input width 256}}
  %y = lowbit.linear %x, %w : (tensor<?x256xf32>, tensor<512x128xf32>) -> tensor<?x512xf32>
  return
}

// -----

!q = !lowbit.qweight<512x128, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>
func.func @linear_qweight_width(%x: tensor<?x256xf32>, %w: !q) {
  // expected-error @+1 {{'lowbit.linear' op weight [N, K] = [512, 128] does not match input width 256}}
  %y = lowbit.linear %x, %w : (tensor<?x256xf32>, !q) -> tensor<?x512xf32>
  return
}

// -----

func.func @linear_result_width(%x: tensor<?x256xf32>, %w: tensor<512x256xf32>) {
  // expected-error @+1 {{'lowbit.linear' op result width 256 does not match weight output width 512}}
  %y = lowbit.linear %x, %w : (tensor<?x256xf32>, tensor<512x256xf32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<?x256xf32>, %w: tensor<512x256xf32>, %b: tensor<100xf32>) {
  // expected-error @+1 {{'lowbit.linear' op bias length 100 does not match weight output width 512}}
  %y = lowbit.linear %x, %w, %b : (tensor<?x256xf32>, tensor<512x256xf32>, tensor<100xf32>) -> tensor<?x512xf32>
  return
}

// -----

func.func @linear_length(%x: tensor<4x256xf32>, %w: tensor<512x256xf32>) {
  // expected-error @+1 {{'lowbit.linear' op sequence length of result (5) does not match input (4)}}
  %y = lowbit.linear %x, %w : (tensor<4x256xf32>, tensor<512x256xf32>) -> tensor<5x512xf32>
  return
}

// -----

func.func @linear_weight_rank(%x: tensor<?x256xf32>, %w: tensor<2x512x256xf32>) {
  // expected-error @+1 {{'lowbit.linear' op operand #1 must be 2D statically shaped float tensor or quantized weight, but got 'tensor<2x512x256xf32>'}}
  %y = lowbit.linear %x, %w : (tensor<?x256xf32>, tensor<2x512x256xf32>) -> tensor<?x512xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lowbit.rope
//===----------------------------------------------------------------------===//

func.func @rope_width(%x: tensor<?x250xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.rope' op input width 250 is not num_heads * head_dim = 4 * 64 = 256}}
  %y = lowbit.rope %x, %p {num_heads = 4, head_dim = 64, theta = 10000.0 : f32, interleaved = false} : (tensor<?x250xf32>, tensor<?xi32>) -> tensor<?x250xf32>
  return
}

// -----

func.func @rope_odd_head_dim(%x: tensor<?x252xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.rope' op head_dim 63 must be even}}
  %y = lowbit.rope %x, %p {num_heads = 4, head_dim = 63, theta = 10000.0 : f32, interleaved = false} : (tensor<?x252xf32>, tensor<?xi32>) -> tensor<?x252xf32>
  return
}

// -----

func.func @rope_heads(%x: tensor<?x256xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.rope' op num_heads must be positive, got 0}}
  %y = lowbit.rope %x, %p {num_heads = 0, head_dim = 64, theta = 10000.0 : f32, interleaved = false} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @rope_head_dim(%x: tensor<?x256xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.rope' op head_dim must be positive, got -64}}
  %y = lowbit.rope %x, %p {num_heads = 4, head_dim = -64, theta = 10000.0 : f32, interleaved = false} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @rope_result(%x: tensor<?x256xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.rope' op result type 'tensor<8x256xf32>' does not match input type 'tensor<?x256xf32>'}}
  %y = lowbit.rope %x, %p {num_heads = 4, head_dim = 64, theta = 10000.0 : f32, interleaved = false} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<8x256xf32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x256xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.rope' op theta must be positive, got -1}}
  %y = lowbit.rope %x, %p {num_heads = 4, head_dim = 64, theta = -1.0 : f32, interleaved = false} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @rope_positions_type(%x: tensor<?x256xf32>, %p: tensor<?xi64>) {
  // expected-error @+1 {{'lowbit.rope' op operand #1 must be 1D tensor of 32-bit signless integer values, but got 'tensor<?xi64>'}}
  %y = lowbit.rope %x, %p {num_heads = 4, head_dim = 64, theta = 10000.0 : f32, interleaved = false} : (tensor<?x256xf32>, tensor<?xi64>) -> tensor<?x256xf32>
  return
}

// -----

func.func @rope_positions_length(%x: tensor<4x256xf32>, %p: tensor<3xi32>) {
  // expected-error @+1 {{'lowbit.rope' op sequence length of positions (3) does not match input (4)}}
  %y = lowbit.rope %x, %p {num_heads = 4, head_dim = 64, theta = 10000.0 : f32, interleaved = false} : (tensor<4x256xf32>, tensor<3xi32>) -> tensor<4x256xf32>
  return
}

// -----

func.func @rope_missing_attr(%x: tensor<?x256xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.rope' op requires attribute 'interleaved'}}
  %y = lowbit.rope %x, %p {num_heads = 4, head_dim = 64, theta = 10000.0 : f32} : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lowbit.attention
//===----------------------------------------------------------------------===//

func.func @attention_groups(%q: tensor<?x256xf32>, %kv: tensor<?x192xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.attention' op num_heads 4 is not a multiple of num_kv_heads 3}}
  %a = lowbit.attention %q, %kv, %kv, %p {num_heads = 4, num_kv_heads = 3, head_dim = 64, layer = 0} : (tensor<?x256xf32>, tensor<?x192xf32>, tensor<?x192xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @attention_kv_heads(%q: tensor<?x256xf32>, %kv: tensor<?x128xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.attention' op num_kv_heads must be positive, got 0}}
  %a = lowbit.attention %q, %kv, %kv, %p {num_heads = 4, num_kv_heads = 0, head_dim = 64, layer = 0} : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @attention_query(%q: tensor<?x128xf32>, %kv: tensor<?x128xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.attention' op query width 128 is not num_heads * head_dim = 4 * 64 = 256}}
  %a = lowbit.attention %q, %kv, %kv, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 0} : (tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @attention_key(%q: tensor<?x256xf32>, %k: tensor<?x256xf32>, %v: tensor<?x128xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.attention' op key width 256 is not num_kv_heads * head_dim = 2 * 64 = 128}}
  %a = lowbit.attention %q, %k, %v, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 0} : (tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @attention_value(%q: tensor<?x256xf32>, %k: tensor<?x128xf32>, %v: tensor<?x64xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.attention' op value width 64 is not num_kv_heads * head_dim = 2 * 64 = 128}}
  %a = lowbit.attention %q, %k, %v, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 0} : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x64xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

// The layer selects a KV cache slot: the module's configuration bounds it.
module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, rope_theta = 10000.0, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>} {
  func.func @attention_layer(%q: tensor<?x256xf32>, %kv: tensor<?x128xf32>, %p: tensor<?xi32>) {
    // expected-error @+1 {{'lowbit.attention' op layer 4 is outside the model's 4 layers}}
    %a = lowbit.attention %q, %kv, %kv, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 4} : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
    return
  }
}

// -----

func.func @attention_result(%q: tensor<?x256xf32>, %kv: tensor<?x128xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.attention' op result width 128 is not num_heads * head_dim = 4 * 64 = 256}}
  %a = lowbit.attention %q, %kv, %kv, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 0} : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x128xf32>
  return
}

// -----

func.func @attention_layer(%q: tensor<?x256xf32>, %kv: tensor<?x128xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.attention' op layer must be non-negative, got -1}}
  %a = lowbit.attention %q, %kv, %kv, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = -1} : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @attention_length(%q: tensor<4x256xf32>, %k: tensor<3x128xf32>, %v: tensor<?x128xf32>, %p: tensor<?xi32>) {
  // expected-error @+1 {{'lowbit.attention' op sequence length of key (3) does not match query (4)}}
  %a = lowbit.attention %q, %k, %v, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 0} : (tensor<4x256xf32>, tensor<3x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @attention_positions_length(%q: tensor<?x256xf32>, %kv: tensor<?x128xf32>, %p: tensor<6xi32>) {
  // expected-error @+1 {{'lowbit.attention' op sequence length of result (5) does not match positions (6)}}
  %a = lowbit.attention %q, %kv, %kv, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 0} : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<6xi32>) -> tensor<5x256xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// lowbit.swiglu, lowbit.add
//===----------------------------------------------------------------------===//

func.func @swiglu_operands(%g: tensor<?x768xf32>, %u: tensor<?x512xf32>) {
  // expected-error @+1 {{'lowbit.swiglu' op gate type 'tensor<?x768xf32>' and up type 'tensor<?x512xf32>' differ}}
  %m = lowbit.swiglu %g, %u : (tensor<?x768xf32>, tensor<?x512xf32>) -> tensor<?x768xf32>
  return
}

// -----

func.func @swiglu_result(%g: tensor<?x768xf32>, %u: tensor<?x768xf32>) {
  // expected-error @+1 {{'lowbit.swiglu' op result type 'tensor<?x512xf32>' does not match gate type 'tensor<?x768xf32>'}}
  %m = lowbit.swiglu %g, %u : (tensor<?x768xf32>, tensor<?x768xf32>) -> tensor<?x512xf32>
  return
}

// -----

func.func @add_operands(%a: tensor<4x256xf32>, %b: tensor<?x256xf32>) {
  // expected-error @+1 {{'lowbit.add' op lhs type 'tensor<4x256xf32>' and rhs type 'tensor<?x256xf32>' differ}}
  %r = lowbit.add %a, %b : (tensor<4x256xf32>, tensor<?x256xf32>) -> tensor<4x256xf32>
  return
}

// -----

func.func @add_result(%a: tensor<?x256xf32>, %b: tensor<?x256xf32>) {
  // expected-error @+1 {{'lowbit.add' op result type 'tensor<4x256xf32>' does not match lhs type 'tensor<?x256xf32>'}}
  %r = lowbit.add %a, %b : (tensor<?x256xf32>, tensor<?x256xf32>) -> tensor<4x256xf32>
  return
}

// -----

func.func @add_element_type(%a: tensor<?x256xf16>, %b: tensor<?x256xf16>) {
  // expected-error @+1 {{'lowbit.add' op operand #0 must be 2D tensor with a static width of 32-bit float values, but got 'tensor<?x256xf16>'}}
  %r = lowbit.add %a, %b : (tensor<?x256xf16>, tensor<?x256xf16>) -> tensor<?x256xf16>
  return
}
