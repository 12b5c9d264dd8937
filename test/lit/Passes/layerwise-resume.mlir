// --lowbit-gptq, --lowbit-awq and --lowbit-gguf-quantize gptq=true stream:
// results go to SIDE.partial as layers finish. With
// resume=true a resume point (SIDE.resume) follows every layer; a run killed
// after layer 1 and started again with the same command continues at layer 2
// and writes the same bytes, side file and IR, as an uninterrupted run.
// RUN: rm -rf %t && mkdir -p %t
// RUN: lowbit-translate --import-hf %lowbit_models/tiny-5m -o %t/tiny.mlir
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/whole.safetensors" -o %t/whole.mlir 2>/dev/null
// RUN: not ls %t/whole.safetensors.partial %t/whole.safetensors.resume

// LOWBIT_KILL_AFTER_RESUME_POINT=N dies by SIGKILL right after the Nth point.
// RUN: env LOWBIT_KILL_AFTER_RESUME_POINT=2 not --crash lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/resumed.safetensors resume=true" -o %t/resumed.mlir 2>/dev/null
// RUN: not ls %t/resumed.safetensors
// RUN: ls %t/resumed.safetensors.partial %t/resumed.safetensors.resume
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/resumed.safetensors resume=true" -o %t/resumed.mlir 2>%t/resume.log
// RUN: FileCheck %s --check-prefix=RESUMED < %t/resume.log
// RUN: cmp %t/whole.safetensors %t/resumed.safetensors
// RUN: sed 's/whole.safetensors/resumed.safetensors/' %t/whole.mlir | diff - %t/resumed.mlir
// RUN: not ls %t/resumed.safetensors.partial %t/resumed.safetensors.resume
// RESUMED: quantize: resuming at layer 2 (2 of 4 layers already done)
// RESUMED: quantize: 8/8,

// A resume point is refused, naming what differs, for other options...
// RUN: env LOWBIT_KILL_AFTER_RESUME_POINT=1 not --crash lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/other.safetensors resume=true" -o %t/other.mlir 2>/dev/null
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 damp=0.02 side-file=%t/other.safetensors resume=true" -o %t/other.mlir 2>&1 | FileCheck %s --check-prefix=OPTIONS
// OPTIONS: error: --lowbit-gptq: {{.*}}other.safetensors.resume: cannot resume: option damp differs (the interrupted run had '1.000000e-02', this one has '2.000000e-02'); run without resume=true to start again
// ...or another model (IR)...
// RUN: sed 's/epsilon = [0-9.eE+-]*/epsilon = 1.0e-03/' %t/tiny.mlir > %t/other-model.mlir
// RUN: not lowbit-opt %t/other-model.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/other.safetensors resume=true" -o %t/other.mlir 2>&1 | FileCheck %s --check-prefix=MODEL
// MODEL: cannot resume: ir differs
// ...and a damaged one is an error, never a crash, with no output.
// RUN: head -c 300 %t/other.safetensors.resume > %t/cut.resume && cp %t/other.safetensors.resume %t/kept.resume && mv %t/cut.resume %t/other.safetensors.resume
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/other.safetensors resume=true" -o %t/other.mlir 2>&1 | FileCheck %s --check-prefix=DAMAGED
// DAMAGED: error: --lowbit-gptq: {{.*}}other.safetensors.resume: {{(the resume point is truncated|saved activations: truncated)}}
// RUN: not ls %t/other.safetensors %t/other.mlir
// Without resume=true the run starts afresh and cleans up.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/other.safetensors" -o %t/other.mlir 2>/dev/null
// RUN: cmp %t/whole.safetensors %t/other.safetensors
// RUN: not ls %t/other.safetensors.partial %t/other.safetensors.resume

// A disk that cannot hold the side file fails at once, leaving nothing.
// RUN: not sh -c "trap '' XFSZ; ulimit -f 1000; exec lowbit-opt %t/tiny.mlir --lowbit-gptq='file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/full.safetensors' -o %t/full.mlir" 2>&1 | FileCheck %s --check-prefix=FULL
// FULL: error: --lowbit-gptq: {{.*}}full.safetensors: cannot allocate: File too large
// RUN: not ls %t/full.safetensors %t/full.safetensors.partial %t/full.mlir
// A directory is not a side file.
// RUN: mkdir %t/dir
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/dir" -o %t/dir.mlir 2>&1 | FileCheck %s --check-prefix=DIR
// DIR: error: --lowbit-gptq: {{.*}}dir: is a directory, not an output file

// Past memory-budget (one layer's work plus the activations) the windows
// spill to a temporary folder next to the side file; the result is the same
// and the folder is gone afterwards. A budget that cannot hold one layer is
// refused, naming what it needs.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 memory-budget=11M side-file=%t/spilled.safetensors" -o %t/spilled.mlir 2>&1 | FileCheck %s --check-prefix=SPILL
// SPILL: note: the calibration activations exceed the memory budget ({{[0-9.]+}} MB for activations); windows spill to '{{.*}}spilled.safetensors.spill-{{.*}}'
// RUN: cmp %t/whole.safetensors %t/spilled.safetensors
// RUN: not ls -d %t/spilled.safetensors.spill-*
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 memory-budget=4M side-file=%t/small.safetensors" -o %t/small.mlir 2>&1 | FileCheck %s --check-prefix=SMALL
// SMALL: error: --lowbit-gptq: a memory budget of 4.2 MB cannot hold one decoder layer's work: it needs 10.2 MB (fp32 weights and the widest Hessian) plus room for the calibration activations
// RUN: not ls %t/small.safetensors %t/small.safetensors.partial %t/small.mlir
// RUN: not lowbit-opt %t/tiny.mlir --lowbit-gptq="file=%lowbit_models/tiny-5m/data/calib.txt memory-budget=lots side-file=%t/small.safetensors" -o %t/small.mlir 2>&1 | FileCheck %s --check-prefix=SPELLING
// SPELLING: error: --lowbit-gptq: memory size 'lots' is not a positive number of bytes, optionally with K, M, G or T

// --lowbit-awq resumes the same way (a whole layer per step).
// RUN: lowbit-opt %t/tiny.mlir --lowbit-awq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/awq.safetensors" -o %t/awq.mlir 2>/dev/null
// RUN: env LOWBIT_KILL_AFTER_RESUME_POINT=1 not --crash lowbit-opt %t/tiny.mlir --lowbit-awq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/awq2.safetensors resume=true" -o %t/awq2.mlir 2>/dev/null
// RUN: lowbit-opt %t/tiny.mlir --lowbit-awq="file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/awq2.safetensors resume=true" -o %t/awq2.mlir 2>&1 | FileCheck %s --check-prefix=AWQ
// AWQ: quantize: resuming at layer 1 (1 of 4 layers already done)
// RUN: cmp %t/awq.safetensors %t/awq2.safetensors
// RUN: sed 's/awq.safetensors/awq2.safetensors/' %t/awq.mlir | diff - %t/awq2.mlir

// --lowbit-gguf-quantize gptq=true writes GPTQ's encodings through to
// SIDE.gptq (removed once the GGUF holds them) and resumes the same way.
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/q.gguf" -o %t/q.mlir 2>/dev/null
// RUN: not ls %t/q.gguf.gptq %t/q.gguf.gptq.partial
// RUN: env LOWBIT_KILL_AFTER_RESUME_POINT=2 not --crash lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/q2.gguf resume=true" -o %t/q2.mlir 2>/dev/null
// RUN: lowbit-opt %t/tiny.mlir --lowbit-gguf-quantize="ftype=q4_k_m gptq=true file=%lowbit_models/tiny-5m/data/calib.txt windows=8 window-length=128 side-file=%t/q2.gguf resume=true" -o %t/q2.mlir 2>&1 | FileCheck %s --check-prefix=GGUF
// GGUF: quantize: resuming at layer 2 (2 of 4 layers already done)
// RUN: cmp %t/q.gguf %t/q2.gguf
// RUN: not ls %t/q2.gguf.gptq %t/q2.gguf.gptq.partial %t/q2.gguf.gptq.resume
