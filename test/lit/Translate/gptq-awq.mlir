// RTN-quantized IR exported as GPTQ and AWQ checkpoint directories, and a
// checkpoint imported back: its linears become affine qweights whose
// unpacked codes live in the side file the module names; embeddings, norms
// and the output head stay plain fp16 tensors of the checkpoint.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-rtn="bits=4 group-size=128 side-file=%t/rtn.safetensors" -o %t/q.mlir 2>/dev/null
// RUN: lowbit-translate --export-gptq %t/gptq %t/q.mlir 2>/dev/null
// RUN: FileCheck %s --check-prefix=GPTQ < %t/gptq/config.json
// RUN: FileCheck %s --check-prefix=GPTQ-FILE < %t/gptq/quantize_config.json
// RUN: lowbit-translate --import-hf %t/gptq -o %t/re.mlir 2>/dev/null
// RUN: FileCheck %s --check-prefix=IR < %t/re.mlir
// RUN: lowbit-translate --export-awq %t/awq %t/q.mlir 2>/dev/null
// RUN: FileCheck %s --check-prefix=AWQ < %t/awq/config.json
// RUN: FileCheck %s --check-prefix=AWQ-FILE < %t/awq/quant_config.json
// RUN: ls %t/awq | FileCheck %s --check-prefix=FILES

// GPTQ: "model_type": "llama",
// GPTQ: "torch_dtype": "float16",
// GPTQ: "quantization_config": {
// GPTQ-NEXT: "quant_method": "gptq",
// GPTQ-NEXT: "bits": 4,
// GPTQ-NEXT: "group_size": 128,
// GPTQ-NEXT: "desc_act": false,
// GPTQ-NEXT: "sym": false,
// GPTQ: "checkpoint_format": "gptq",
// GPTQ-FILE: "quant_method": "gptq",
// GPTQ-FILE: "checkpoint_format": "gptq",

// IR: lowbit.side_files = ["{{[^"]*}}re.weights.safetensors"]
// IR-SAME: lowbit.tokenizer = "{{[^"]*}}gptq/tokenizer.model"
// IR-SAME: lowbit.weight_files = ["{{[^"]*}}gptq/model.safetensors"]
// IR: lowbit.weight "model.embed_tokens.weight" : tensor<4096x256xf16>
// IR: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = affine, bits = 4, group_size = 128, symmetric = false, act_order = false>>
// IR: lowbit.weight "model.layers.0.mlp.down_proj.weight" : !lowbit.qweight<256x768, #lowbit.scheme<format = affine, bits = 4, group_size = 128, symmetric = false, act_order = false>>
// IR: lowbit.weight "lm_head.weight" : tensor<4096x256xf16>

// AWQ: "quantization_config": {
// AWQ-NEXT: "quant_method": "awq",
// AWQ-NEXT: "zero_point": true,
// AWQ-NEXT: "group_size": 128,
// AWQ-NEXT: "bits": 4,
// AWQ-NEXT: "version": "gemm",
// AWQ-FILE: "zero_point": true,
// AWQ-FILE-NEXT: "q_group_size": 128,
// AWQ-FILE-NEXT: "w_bit": 4,
// AWQ-FILE-NEXT: "version": "GEMM",

// FILES: config.json
// FILES-NEXT: generation_config.json
// FILES-NEXT: model.safetensors
// FILES-NEXT: quant_config.json
// FILES-NEXT: special_tokens_map.json
// FILES-NEXT: tokenizer.model
// FILES-NEXT: tokenizer_config.json
