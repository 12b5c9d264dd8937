// --lowbit-llm-int8 gives the decoder's linears int8_row weights (CB, SCB)
// and takes the input columns whose calibration max |x| reaches the
// threshold out of the int8 product into a 16-bit linear; the result runs.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-calibrate="file=%lowbit_models/tiny-5m/data/calib.txt windows=4 window-length=64 hessian=false output=%t/stats.pb" -o %t/cal.mlir 2>/dev/null
// RUN: lowbit-opt %t/cal.mlir --lowbit-llm-int8="threshold=4 side-file=%t/int8.safetensors" -o %t/int8.mlir 2>%t/log.txt
// RUN: FileCheck %s < %t/int8.mlir
// RUN: FileCheck %s --check-prefix=LOG < %t/log.txt
// RUN: lowbit-run perplexity --chunks 2 --file %lowbit_models/tiny-5m/data/heldout.txt %t/int8.mlir 2>/dev/null | FileCheck %s --check-prefix=PPL

// CHECK: module attributes {lowbit.calibration = "{{[^"]*}}stats.pb"
// CHECK-SAME: lowbit.llm_int8_threshold = 4.000000e+00 : f32
// CHECK-SAME: lowbit.side_files = ["{{[^"]*}}int8.safetensors"]
// CHECK: lowbit.weight "model.embed_tokens.weight" : tensor<4096x256xbf16>
// CHECK: lowbit.weight "model.layers.0.self_attn.q_proj.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1, symmetric = true, act_order = false>>
// CHECK: %[[WO:.*]] = lowbit.weight "model.layers.0.self_attn.o_proj.weight" : !lowbit.qweight<256x256, #lowbit.scheme<format = int8_row
// CHECK: %[[WG:.*]] = lowbit.weight "model.layers.0.mlp.gate_proj.weight" : !lowbit.qweight<768x256, #lowbit.scheme<format = int8_row
// CHECK-NEXT: %[[WG16:.*]] = lowbit.weight "model.layers.0.mlp.gate_proj.weight.outliers" : tensor<768x1xf16>
// CHECK-NEXT: %[[WU:.*]] = lowbit.weight "model.layers.0.mlp.up_proj.weight" : !lowbit.qweight<768x256, #lowbit.scheme<format = int8_row
// CHECK-NEXT: %[[WU16:.*]] = lowbit.weight "model.layers.0.mlp.up_proj.weight.outliers" : tensor<768x1xf16>
// CHECK-NEXT: %[[WD:.*]] = lowbit.weight "model.layers.0.mlp.down_proj.weight" : !lowbit.qweight<256x768, #lowbit.scheme<format = int8_row
// A linear without outlier columns is just the int8 linear.
// CHECK: lowbit.linear %{{.*}}, %[[WO]] :
// gate and up read one input: one split serves both.
// CHECK: %[[H:.*]] = lowbit.rms_norm
// CHECK-NEXT: %[[IN:.*]], %[[OUT:.*]] = lowbit.split_columns %[[H]] {columns = array<i64: {{[0-9]+}}>} : (tensor<?x256xf32>) -> (tensor<?x256xf32>, tensor<?x1xf32>)
// CHECK-NEXT: %[[G8:.*]] = lowbit.linear %[[IN]], %[[WG]] :
// CHECK-NEXT: %[[G16:.*]] = lowbit.linear %[[OUT]], %[[WG16]] : (tensor<?x1xf32>, tensor<768x1xf16>) -> tensor<?x768xf32>
// CHECK-NEXT: %[[G:.*]] = lowbit.add %[[G8]], %[[G16]]
// CHECK-NEXT: %[[U8:.*]] = lowbit.linear %[[IN]], %[[WU]] :
// CHECK-NEXT: %[[U16:.*]] = lowbit.linear %[[OUT]], %[[WU16]] :
// CHECK-NEXT: %[[U:.*]] = lowbit.add %[[U8]], %[[U16]]
// CHECK-NEXT: %[[M:.*]] = lowbit.swiglu %[[G]], %[[U]]
// CHECK-NEXT: lowbit.linear %[[M]], %[[WD]] :
// CHECK: lowbit.weight "lm_head.weight" : tensor<4096x256xbf16>
// LOG: llm-int8: 28/28
// LOG: llm-int8: {{[0-9]+}} of 28 linears have outlier columns ({{[0-9]+}} weight columns in 16-bit)
// The float model scores 46.53 on these two windows.
// PPL: perplexity {{46\.[5-6][0-9]+}} (protocol p1, ctx 512, 2 windows

// The side file: CB (i8), SCB (f32 [N]) and the outlier columns (f16).
// RUN: grep -ao '"model.layers.0.mlp.[a-z_]*.weight[.a-z]*":{"dtype":"[A-Z0-9]*","shape":\[[0-9,]*\]' %t/int8.safetensors | sort | FileCheck %s --check-prefix=SIDE
// SIDE:      "model.layers.0.mlp.down_proj.weight":{"dtype":"I8","shape":[256,768]
// SIDE-NEXT: "model.layers.0.mlp.down_proj.weight.scb":{"dtype":"F32","shape":[256]
// SIDE-NEXT: "model.layers.0.mlp.gate_proj.weight":{"dtype":"I8","shape":[768,256]
// SIDE-NEXT: "model.layers.0.mlp.gate_proj.weight.outliers":{"dtype":"F16","shape":[768,1]
// SIDE-NEXT: "model.layers.0.mlp.gate_proj.weight.scb":{"dtype":"F32","shape":[768]
// SIDE-NEXT: "model.layers.0.mlp.up_proj.weight":{"dtype":"I8","shape":[768,256]
// SIDE-NEXT: "model.layers.0.mlp.up_proj.weight.outliers":{"dtype":"F16","shape":[768,1]
// SIDE-NEXT: "model.layers.0.mlp.up_proj.weight.scb":{"dtype":"F32","shape":[768]

// A threshold no activation reaches: pure int8, no split.
// RUN: lowbit-opt %t/cal.mlir --lowbit-llm-int8="threshold=1e30 side-file=%t/pure.safetensors" 2>/dev/null | FileCheck %s --check-prefix=PURE
// PURE: lowbit.llm_int8_threshold = 1.000000e+30 : f32
// PURE: lowbit.weight "model.layers.0.mlp.down_proj.weight" : !lowbit.qweight<256x768, #lowbit.scheme<format = int8_row
// PURE-NOT: split_columns
// PURE-NOT: .outliers"

// Bad options, missing or foreign statistics fail before anything is written.
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-llm-int8="side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=NOCAL
// NOCAL: error: --lowbit-llm-int8: needs calibration statistics to find outlier columns, and the module has no lowbit.calibration attribute: run --lowbit-calibrate first
// RUN: not lowbit-opt %t/cal.mlir --lowbit-llm-int8="threshold=4" 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: --lowbit-llm-int8 needs side-file=PATH
// RUN: not lowbit-opt %t/cal.mlir --lowbit-llm-int8="threshold=0 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=ZERO
// ZERO: error: --lowbit-llm-int8: threshold must be a positive finite number, not 0
// RUN: not lowbit-opt %t/cal.mlir --lowbit-llm-int8="threshold=-6 side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=NEG
// NEG: error: --lowbit-llm-int8: threshold must be a positive finite number, not -6
// RUN: not lowbit-opt %t/cal.mlir --lowbit-llm-int8="threshold=inf side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=INF
// INF: error: --lowbit-llm-int8: threshold must be a positive finite number, not inf
// RUN: not lowbit-opt %t/cal.mlir --lowbit-llm-int8="threshold=nan side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=NAN
// NAN: error: --lowbit-llm-int8: threshold must be a positive finite number, not nan
// (More layers, not fewer: an attention op's layer must stay below the count.)
// RUN: sed 's/num_layers = 4/num_layers = 5/' %t/cal.mlir > %t/other.mlir
// RUN: not lowbit-opt %t/other.mlir --lowbit-llm-int8="side-file=%t/bad.safetensors" 2>&1 | FileCheck %s --check-prefix=OTHER
// OTHER: error: --lowbit-llm-int8: {{.*}}stats.pb: statistics of another model ({{.*}}4 layers{{.*}}), not of this one ({{.*}}5 layers
// RUN: not test -e %t/bad.safetensors
