// --lowbit-awq with ftype=: scales searched for the ggml types of a llama.cpp
// mix and folded into a float model that computes what the original does,
// which --lowbit-gguf-quantize then quantizes.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-awq="ftype=q4_k_m file=%lowbit_models/tiny-5m/data/calib.txt windows=4 window-length=128 samples=256 side-file=%t/fold.safetensors" -o %t/fold.mlir 2>/dev/null
// RUN: FileCheck %s --check-prefix=FOLD < %t/fold.mlir
// FOLD: lowbit.side_files = ["{{[^"]*}}fold.safetensors"]
// FOLD: lowbit.weight "model.layers.0.input_layernorm.weight" : tensor<256xf32>
// FOLD: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : tensor<256x256xf32>
// FOLD: lowbit.weight "model.layers.0.mlp.down_proj.weight" : tensor<256x768xf32>
// FOLD: lowbit.weight "lm_head.weight" : tensor<4096x256xbf16>

// The fold leaves the float model's function alone (norms rounded to fp16).
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/tiny.mlir 2>/dev/null > %t/ppl
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/fold.mlir 2>/dev/null >> %t/ppl
// RUN: FileCheck %s --check-prefix=SAME < %t/ppl
// SAME: perplexity [[P:[0-9]+\.[0-9]]]
// SAME: perplexity [[P]]

// GPTQ inside the mix's blocks on the folded model.
// RUN: lowbit-opt %t/fold.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true file=%lowbit_models/tiny-5m/data/calib.txt windows=4 window-length=128 side-file=%t/awq.gguf" -o %t/awq.mlir 2>/dev/null
// RUN: FileCheck %s --check-prefix=GGUF < %t/awq.mlir
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/awq.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL
// GGUF: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = q4_k,
// GGUF: lowbit.weight "lm_head.weight" : !lowbit.qweight<4096x256, #lowbit.scheme<format = q6_k,
// PPL: perplexity {{(3[2-9]|4[0-9])\.[0-9]+}} (protocol p1, ctx 512, 2 windows

// The awq-gptq-<mix> recipes run both passes.
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-pipeline="name=awq-gptq-q4_k_m file=%t/calib.txt side-file=%t/pipe.gguf" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=PIPE
// PIPE: lowbit-awq{{.*}}ftype=q4_k_m{{.*}}side-file={{[^ ]*}}pipe.gguf.awq.safetensors
// PIPE-NEXT: lowbit-gguf-quantize{{.*}}ftype=q4_k_m{{.*}}gptq=true

// GPTQ belongs to the GGUF pass; a non-ggml mix is refused.
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-awq="ftype=q4_k_m gptq=true file=%lowbit_models/tiny-5m/data/calib.txt side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=GPTQ
// GPTQ: error: --lowbit-awq: ftype= writes the folded float model; GPTQ rounding into ggml blocks is --lowbit-gguf-quantize's gptq=true
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-awq="ftype=f16 file=%lowbit_models/tiny-5m/data/calib.txt side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=FLOAT
// FLOAT: error: --lowbit-awq: ftype 'f16' is not a ggml block format
// RUN: not test -e %t/bad.safetensors
