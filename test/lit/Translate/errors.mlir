// Import errors name the file and the problem and leave no output behind.
// RUN: rm -rf %t && mkdir -p %t
// RUN: not lowbit-translate --import-hf %t/missing -o %t/out.mlir 2>&1 | FileCheck %s --check-prefix=DIR
// RUN: not test -e %t/out.mlir
// DIR: error: {{.*}}missing: not a model directory

// RUN: printf 'GGUF\003\000\000\000' > %t/short.gguf
// RUN: not lowbit-translate --import-gguf %t/short.gguf -o %t/out.mlir 2>&1 | FileCheck %s --check-prefix=SHORT
// RUN: not test -e %t/out.mlir
// SHORT: error: {{.*}}short.gguf: {{.*}}

// RUN: not lowbit-translate --import-hf %lowbit_models/tiny-5m --import-gguf x.gguf 2>&1 | FileCheck %s --check-prefix=MODES
// MODES: give exactly one of --import-hf, --import-gguf, --export-gguf
