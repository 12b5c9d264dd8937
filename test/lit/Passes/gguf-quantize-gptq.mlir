// --lowbit-gguf-quantize with gptq=true: llama-quantize's per-tensor types,
// codes chosen by GPTQ on layer-by-layer calibration, a GGUF side file.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true file=%lowbit_models/tiny-5m/data/calib.txt windows=4 window-length=128 side-file=%t/gptq.gguf" -o %t/gptq.mlir 2>%t/log
// RUN: FileCheck %s < %t/gptq.mlir
// RUN: FileCheck %s --check-prefix=LOG < %t/log
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/gptq.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL

// CHECK: lowbit.gguf_file_type = 15
// CHECK: lowbit.side_files = ["{{[^"]*}}gptq.gguf"]
// CHECK: lowbit.weight "model.embed_tokens.weight" : !lowbit.qweight<4096x256, #lowbit.scheme<format = q4_k,
// CHECK: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = q4_k,
// CHECK: lowbit.weight "model.layers.0.mlp.down_proj.weight" : !lowbit.qweight<256x768, #lowbit.scheme<format = q4_k,
// CHECK: lowbit.weight "model.layers.2.self_attn.v_proj.weight" : !lowbit.qweight<128x256, #lowbit.scheme<format = q6_k,
// CHECK: lowbit.weight "model.layers.2.mlp.down_proj.weight" : !lowbit.qweight<256x768, #lowbit.scheme<format = q6_k,
// CHECK: lowbit.weight "lm_head.weight" : !lowbit.qweight<4096x256, #lowbit.scheme<format = q6_k,
// LOG: quantize: 16/16{{.*}}layer 3 model.layers.3.mlp.down_proj.weight
// LOG: gguf-quantize: coordinate descent (4 sweeps) lowered GPTQ's layer-output error by {{[1-9][0-9]?\.[0-9]}}% over 28 matrices
// PPL: perplexity {{(3[2-9]|4[0-9])\.[0-9]+}} (protocol p1, ctx 512, 2 windows

// The recipes name the mix; act-order keeps the blocks' grids fixed.
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-pipeline="name=gptq-q2_k file=%t/missing.txt side-file=%t/pipe.gguf" --dump-pass-pipeline -o /dev/null 2>&1 | FileCheck %s --check-prefix=PIPE
// PIPE: lowbit-gguf-quantize{{.*}}ftype=q2_k{{.*}}gptq=true
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q3_k_m gptq=true act-order=true file=%lowbit_models/tiny-5m/data/calib.txt windows=2 window-length=64 side-file=%t/act.gguf" 2>/dev/null | FileCheck %s --check-prefix=ACT
// ACT: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = q3_k,

// descent-sweeps=0 keeps GPTQ's own codes and scales: no descent line.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true descent-sweeps=0 file=%lowbit_models/tiny-5m/data/calib.txt windows=2 window-length=64 side-file=%t/nodescent.gguf" -o /dev/null 2>&1 | FileCheck %s --check-prefix=NODESCENT
// NODESCENT-NOT: coordinate descent
// NODESCENT: gguf-quantize q4_k_m: {{.*}}lm_head.weight
// NODESCENT-NOT: coordinate descent

// float-targets=true runs the float model beside and aims at its outputs,
// the output head included; it cannot resume.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true float-targets=true file=%lowbit_models/tiny-5m/data/calib.txt windows=2 window-length=64 side-file=%t/float.gguf" -o %t/float.mlir 2>%t/float.log
// RUN: FileCheck %s --check-prefix=FLOATLOG < %t/float.log
// FLOATLOG: quantize: 17/17{{.*}}layer 4 lm_head.weight
// FLOATLOG: coordinate descent (4 sweeps) lowered GPTQ's layer-output error by {{.*}} over 29 matrices
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/float.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true float-targets=true resume=true file=%lowbit_models/tiny-5m/data/calib.txt side-file=%t/bad.gguf" 2>&1 | FileCheck %s --check-prefix=FLOATRESUME
// FLOATRESUME: error: --lowbit-gguf-quantize: float-targets=true cannot resume (the float model's activations are not saved); drop resume=true

// Calibration options without gptq, no calibration text, a bad damping:
// errors before anything is written.
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m act-order=true side-file=%t/bad.gguf" 2>&1 | FileCheck %s --check-prefix=NOGPTQ
// NOGPTQ: error: --lowbit-gguf-quantize: file=, act-order= and descent-sweeps= need gptq=true (file= also serves budget=)
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m descent-sweeps=2 side-file=%t/bad.gguf" 2>&1 | FileCheck %s --check-prefix=NOGPTQ
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true descent-sweeps=-1 file=%lowbit_models/tiny-5m/data/calib.txt side-file=%t/bad.gguf" 2>&1 | FileCheck %s --check-prefix=SWEEPS
// SWEEPS: error: --lowbit-gguf-quantize: descent-sweeps must be in [0, 1000], not -1
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true side-file=%t/bad.gguf" 2>&1 | FileCheck %s --check-prefix=NOCAL
// NOCAL: error: --lowbit-gguf-quantize: needs calibration text: give file=PATH or run --lowbit-calibrate first
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true damp=0 file=%lowbit_models/tiny-5m/data/calib.txt side-file=%t/bad.gguf" 2>&1 | FileCheck %s --check-prefix=DAMP
// DAMP: error: --lowbit-gguf-quantize: damp must be in (0, 1), not 0
// RUN: not test -e %t/bad.gguf
