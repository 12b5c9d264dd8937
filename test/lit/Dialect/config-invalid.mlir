// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// Invalid #lowbit.config values and module attributes.

// expected-error @+1 {{arch must not be empty}}
module attributes {lowbit.config = #lowbit.config<arch = "", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, rope_theta = 10000.0, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>} {}

// -----

// expected-error @+1 {{vocab_size must be positive, got 0}}
module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 0, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, rope_theta = 10000.0, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>} {}

// -----

// expected-error @+1 {{num_kv_heads must be positive, got -2}}
module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = -2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, rope_theta = 10000.0, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>} {}

// -----

// expected-error @+1 {{context_length must be positive, got 0}}
module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 0, rms_norm_eps = 1.0e-05, rope_theta = 10000.0, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>} {}

// -----

// expected-error @+1 {{num_heads 4 is not a multiple of num_kv_heads 3}}
module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 3, head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, rope_theta = 10000.0, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>} {}

// -----

// expected-error @+1 {{rms_norm_eps must be positive, got 0}}
module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 0.0, rope_theta = 10000.0, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>} {}

// -----

// expected-error @+1 {{rope_theta must be positive, got -1}}
module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, rope_theta = -1.0, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>} {}

// -----

// expected-error @+1 {{eos_token_id 4096 is outside [-1, vocab_size 4096)}}
module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, rope_theta = 10000.0, bos_token_id = 1, eos_token_id = 4096, tie_word_embeddings = false>} {}

// -----

// Every parameter is required.
// expected-error @+1 {{expected ','}}
module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>} {}

// -----

// Floats are written as float literals.
// expected-error @+3 {{unexpected decimal integer literal for a floating point value}}
// expected-note @+2 {{add a trailing dot to make the literal a float}}
// expected-error @+1 {{failed to parse Lowbit_ConfigAttr parameter 'rope_theta'}}
module attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, rope_theta = 10000, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>} {}

// -----

// expected-error @+1 {{'lowbit.config' must be a #lowbit.config, got "llama"}}
module attributes {lowbit.config = "llama"} {}

// -----

// expected-error @+1 {{'lowbit.weight_files' must be an array of strings, got "model.safetensors"}}
module attributes {lowbit.weight_files = "model.safetensors"} {}

// -----

// expected-error @+1 {{'lowbit.weight_files' element 1 must be a string, got 3 : i64}}
module attributes {lowbit.weight_files = ["a.safetensors", 3]} {}

// -----

// expected-error @+1 {{'lowbit.weight_files' element 0 is an empty path}}
module attributes {lowbit.weight_files = [""]} {}

// -----

// expected-error @+1 {{'lowbit.tokenizer' must be a string, got ["tokenizer.model"]}}
module attributes {lowbit.tokenizer = ["tokenizer.model"]} {}

// -----

// expected-error @+1 {{'lowbit.tokenizer' is an empty path}}
module attributes {lowbit.tokenizer = ""} {}

// -----

module {
  // expected-error @+1 {{'lowbit.config' is a module attribute, found on 'func.func'}}
  func.func private @f() attributes {lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, rope_theta = 10000.0, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>}
}
