// --lowbit-gguf-quantize with budget=: each matrix's ggml type chosen from
// its measured sensitivity so that all matrices fit the budget.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m budget=q4_k_m file=%lowbit_models/tiny-5m/data/calib.txt sensitivity-windows=2 window-length=128 side-file=%t/budget.gguf" -o %t/budget.mlir 2>%t/log
// RUN: FileCheck %s < %t/budget.mlir
// RUN: FileCheck %s --check-prefix=LOG < %t/log
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/budget.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL

// Every matrix is quantized, to one of the budget's types; norms stay float.
// CHECK: lowbit.gguf_file_type = 15
// CHECK-NOT: tensor<{{[0-9]+}}x{{[0-9]+}}xbf16>
// CHECK: lowbit.weight "model.embed_tokens.weight" : !lowbit.qweight<4096x256, #lowbit.scheme<format = {{q[2-6]_k|q8_0}},
// CHECK: lowbit.weight "model.layers.0.input_layernorm.weight" : tensor<256xbf16>
// CHECK: lowbit.weight "lm_head.weight" : !lowbit.qweight<4096x256, #lowbit.scheme<format = {{q[2-6]_k|q8_0}},
// LOG: sensitivity: 31/31{{.*}}lm_head.weight
// LOG: budget: {{[0-9]+}} bytes for 30 matrices ({{[0-9.]+}} bits per weight); chosen {{[0-9]+}} bytes ({{[0-9.]+}} bpw):{{( q[2-8]_[k0]×[0-9]+)+}}; predicted KL
// PPL: perplexity {{(3[2-9]|4[0-9])\.[0-9]+}} (protocol p1, ctx 512, 2 windows

// The same budget in bits per weight and in bytes.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="budget=3.5 file=%lowbit_models/tiny-5m/data/calib.txt sensitivity-windows=1 window-length=64 side-file=%t/bpw.gguf" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BPW
// BPW: budget: {{[0-9]+}} bytes for 30 matrices (3.500 bits per weight); chosen
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="budget=3000000B file=%lowbit_models/tiny-5m/data/calib.txt sensitivity-windows=1 window-length=64 side-file=%t/bytes.gguf" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BYTES
// BYTES: budget: 3000000 bytes for 30 matrices

// Bad budgets fail before anything is written.
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="budget=2.0 file=%lowbit_models/tiny-5m/data/calib.txt side-file=%t/bad.gguf" 2>&1 | FileCheck %s --check-prefix=RANGE
// RANGE: error: --lowbit-gguf-quantize: budget '2.0': bits per weight must lie in [2.625, 8.5], Q2_K's to Q8_0's
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="budget=1000B file=%lowbit_models/tiny-5m/data/calib.txt side-file=%t/bad.gguf" 2>&1 | FileCheck %s --check-prefix=SMALL
// SMALL: error: --lowbit-gguf-quantize: a budget of 1000 bytes is below the smallest mix these types reach ({{[0-9]+}} bytes)
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="budget=q4_k_m pure=true file=%lowbit_models/tiny-5m/data/calib.txt side-file=%t/bad.gguf" 2>&1 | FileCheck %s --check-prefix=PURE
// PURE: error: --lowbit-gguf-quantize: budget= and pure=true exclude each other
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="budget=q4_k_m side-file=%t/bad.gguf" 2>&1 | FileCheck %s --check-prefix=NOCAL
// NOCAL: error: --lowbit-gguf-quantize: needs calibration text: give file=PATH or run --lowbit-calibrate first
// RUN: not test -e %t/bad.gguf
