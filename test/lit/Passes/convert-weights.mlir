// --lowbit-convert-weights re-encodes float matrices into a side file, keeps
// tensor names, and leaves vectors alone; the result still runs.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-convert-weights="dtype=f16 side-file=%t/side.safetensors" -o %t/f16.mlir
// RUN: FileCheck %s < %t/f16.mlir
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/f16.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/tiny.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL

// CHECK: lowbit.side_files = ["{{[^"]*}}side.safetensors"]
// CHECK: lowbit.weight "model.embed_tokens.weight" : tensor<4096x256xf16>
// CHECK: lowbit.weight "model.layers.0.input_layernorm.weight" : tensor<256xbf16>
// CHECK: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : tensor<256x256xf16>
// CHECK: lowbit.linear %{{.*}}, %{{.*}} : (tensor<?x256xf32>, tensor<256x256xf16>) -> tensor<?x256xf32>
// PPL: perplexity 46.52{{[0-9]+}} (protocol p1, ctx 512, 2 windows, 1022 tokens scored

// Running the pass again with another type replaces the converted tensors.
// RUN: lowbit-opt %t/f16.mlir --lowbit-convert-weights="dtype=f32 side-file=%t/side32.safetensors" | FileCheck %s --check-prefix=AGAIN
// AGAIN: lowbit.side_files = ["{{[^"]*}}side.safetensors", "{{[^"]*}}side32.safetensors"]
// AGAIN: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : tensor<256x256xf32>

// RUN: not lowbit-opt %t/tiny.mlir --lowbit-convert-weights="dtype=f16" 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: --lowbit-convert-weights needs side-file=PATH
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-convert-weights="dtype=q4 side-file=%t/x.safetensors" 2>&1 | FileCheck %s --check-prefix=DTYPE
// DTYPE: error: --lowbit-convert-weights: dtype must be f32, f16 or bf16, not 'q4'
// RUN: not test -e %t/x.safetensors
