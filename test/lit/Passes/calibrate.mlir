// --lowbit-calibrate runs the model on calibration text, writes the
// statistics file and records its absolute path on the module; the IR is
// otherwise unchanged.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-calibrate="file=%lowbit_models/tiny-5m/data/calib.txt windows=4 window-length=64 output=%t/stats.pb" -o %t/calibrated.mlir 2>%t/progress.txt
// RUN: FileCheck %s < %t/calibrated.mlir
// RUN: FileCheck %s --check-prefix=PROGRESS < %t/progress.txt
// RUN: sed 's/lowbit.calibration = "[^"]*", //' %t/calibrated.mlir | diff %t/tiny.mlir -

// CHECK: module attributes {lowbit.calibration = "/{{.*}}/stats.pb",
// CHECK: lowbit.linear
// Every window advances a decoder layer at a time (4 layers, then the head).
// PROGRESS: calibrate: 1/5, {{.*}} s elapsed, ~{{.*}} s left, peak RSS {{[0-9]+\.[0-9][0-9]}} GB, layer 0
// PROGRESS: calibrate: 5/5, {{.*}}, output

// The same seed draws the same windows: byte-identical statistics.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-calibrate="file=%lowbit_models/tiny-5m/data/calib.txt windows=4 window-length=64 output=%t/again.pb" -o /dev/null 2>/dev/null
// RUN: cmp %t/stats.pb %t/again.pb

// The file is a plain protobuf message (calibration.proto): one entry per
// linear input, shared by the linears that read it.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-calibrate="file=%lowbit_models/tiny-5m/data/calib.txt windows=2 window-length=32 seed=7 hessian=false output=%t/small.pb" -o /dev/null 2>/dev/null
// RUN: protoc --decode=lowbit.calibration.Statistics --proto_path=%S/../../../lib/Calibration calibration.proto < %t/small.pb | FileCheck %s --check-prefix=PROTO
// PROTO:      magic: "lowbit calibration statistics"
// PROTO:      model {
// PROTO-NEXT:   arch: "llama"
// PROTO-NEXT:   vocab_size: 4096
// PROTO-NEXT:   hidden_size: 256
// PROTO:      windows: 2
// PROTO-NEXT: window_length: 32
// PROTO-NEXT: seed: 7
// PROTO-NEXT: inputs {
// PROTO-NEXT:   weights: "model.layers.0.self_attn.q_proj.weight"
// PROTO-NEXT:   weights: "model.layers.0.self_attn.k_proj.weight"
// PROTO-NEXT:   weights: "model.layers.0.self_attn.v_proj.weight"
// PROTO-NEXT:   in_features: 256
// PROTO-NEXT:   samples: 64
// PROTO-NEXT:   mean_square:
// PROTO-NOT:  hessian_upper
// PROTO:        weights: "model.layers.0.mlp.gate_proj.weight"
// PROTO-NEXT:   weights: "model.layers.0.mlp.up_proj.weight"
// PROTO:        weights: "model.layers.0.mlp.down_proj.weight"
// PROTO-NEXT:   in_features: 768
// PROTO:        weights: "lm_head.weight"
// PROTO:      input_count: 17

// lowbit-opt holds protobuf 3.21 statically and hidden, so it neither imports
// nor interposes on the 3.14 runtime libsentencepiece exports
// (lib/Calibration/CMakeLists.txt).
// RUN: nm -DC lowbit-opt | not grep 'google::protobuf'

// RUN: not lowbit-opt %t/tiny.mlir --lowbit-calibrate="output=%t/x.pb" 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: --lowbit-calibrate needs file=PATH (the calibration text)
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-calibrate="file=%lowbit_models/tiny-5m/data/calib.txt" 2>&1 | FileCheck %s --check-prefix=NOOUT
// NOOUT: error: --lowbit-calibrate needs output=PATH (the statistics file)
// RUN: printf 'In the beginning God created the heaven and the earth.\n' > %t/short.txt
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-calibrate="file=%t/short.txt window-length=64 output=%t/x.pb" 2>&1 | FileCheck %s --check-prefix=SHORT
// SHORT: error: {{.*}}short.txt: calibration text has {{[0-9]+}} tokens, fewer than one window of 64
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-calibrate="file=%t/missing.txt output=%t/x.pb" 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: {{.*}}missing.txt: cannot open: No such file or directory
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-calibrate="file=%t/short.txt windows=0 output=%t/x.pb" 2>&1 | FileCheck %s --check-prefix=ZERO
// ZERO: error: calibration needs at least one window, not 0
// RUN: not test -e %t/x.pb
