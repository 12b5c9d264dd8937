// RUN: lowbit-opt %s -split-input-file | lowbit-opt -split-input-file | FileCheck %s

// The module attributes of a model: lowbit.config, lowbit.weight_files,
// lowbit.tokenizer.

// CHECK-LABEL: module attributes
// CHECK-SAME: lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256, intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 64, context_length = 1024, rms_norm_eps = 1.000000e-05, rope_theta = 1.000000e+04, bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>
// CHECK-SAME: lowbit.tokenizer = "tokenizer.model"
// CHECK-SAME: lowbit.weight_files = ["model.safetensors"]
module attributes {
  lowbit.config = #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256,
      intermediate_size = 768, num_layers = 4, num_heads = 4, num_kv_heads = 2,
      head_dim = 64, context_length = 1024, rms_norm_eps = 1.0e-05, rope_theta = 10000.0,
      bos_token_id = 1, eos_token_id = 2, tie_word_embeddings = false>,
  lowbit.weight_files = ["model.safetensors"],
  lowbit.tokenizer = "tokenizer.model"
} {
}

// -----

// Several weight files, no BOS token (-1), an eps that needs more than seven
// digits to round-trip.
// CHECK-LABEL: module attributes
// CHECK-SAME: arch = "qwen2"
// CHECK-SAME: rms_norm_eps = 9.9999999747524271E-7, rope_theta = 1.000000e+06, bos_token_id = -1, eos_token_id = 151643, tie_word_embeddings = true
// CHECK-SAME: lowbit.weight_files = ["a.gguf", "/abs/b.safetensors"]
module attributes {
  lowbit.config = #lowbit.config<arch = "qwen2", vocab_size = 151936, hidden_size = 896,
      intermediate_size = 4864, num_layers = 24, num_heads = 14, num_kv_heads = 2,
      head_dim = 64, context_length = 32768, rms_norm_eps = 9.9999999747524271E-7, rope_theta = 1000000.0,
      bos_token_id = -1, eos_token_id = 151643, tie_word_embeddings = true>,
  lowbit.weight_files = ["a.gguf", "/abs/b.safetensors"],
  lowbit.tokenizer = "a.gguf"
} {
}

// -----

// The parameters may come in any order; they print in declaration order.
// CHECK-LABEL: module attributes
// CHECK-SAME: #lowbit.config<arch = "llama", vocab_size = 32, hidden_size = 8
module attributes {
  lowbit.config = #lowbit.config<tie_word_embeddings = false, eos_token_id = 2, bos_token_id = 1,
      rope_theta = 10000.0, rms_norm_eps = 1.0e-06, context_length = 16, head_dim = 4,
      num_kv_heads = 1, num_heads = 2, num_layers = 1, intermediate_size = 16,
      hidden_size = 8, vocab_size = 32, arch = "llama">
} {
}
