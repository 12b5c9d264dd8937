#!/usr/bin/env bash
# The generated GPU kernels on this machine's NVIDIA GPU (docs/gpu.md): builds
# lowbit-gpu-bench alone (bench/gpu: a C++17 compiler, cmake and ninja or make;
# no MLIR/LLVM, no CUDA toolkit), then checks every kernel of KERNELS_DIR
# against its CPU reference and times it: the linears, decode (q4g128) and
# tensor-core (q4g128_mma; from KERNELS_DIR/int8-mma, the int8 ones of
# prompt chunks), beside cuBLAS fp16 and a device-to-device copy;
# the others (rms_norm, swiglu, add, rope, attention, embedding) by the
# bytes they move; then, from KERNELS_DIR/decode-step, a whole w4g128
# Llama-3-8B decode step as a CUDA graph against the bandwidth bound; then,
# from MODELS_DIR (default build-gpu-models, made by bench/gpu-models.sh),
# whole GPU artifacts: perplexity against their CPU artifacts', pp and tg.
#
#   bash bench/gpu.sh                      # from the repository root
#   KERNELS_DIR=dir OUT=results bash bench/gpu.sh --reps 100 --device 1
#
# Arguments go to lowbit-gpu-bench (--device N, --reps R).
# Environment:
#   KERNELS_DIR  kernels.ptx + kernels.tsv (default build-gpu-kernels; make it
#                on a machine with the compiler with: bash bench/gpu-kernels.sh)
#   OUT          where gpu.json and gpu.log go (default build-gpu-bench)
#   LOWBIT_CUDA_DRIVER, LOWBIT_CUBLAS  other libcuda.so.1 / libcublas paths
# Exit status: lowbit-gpu-bench's (0 pass, 1 a check failed, 77 no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."

KERNELS_DIR=${KERNELS_DIR:-build-gpu-kernels}
BUILD=build-gpu-bench
for f in kernels.ptx kernels.tsv; do
  if [[ ! -f $KERNELS_DIR/$f ]]; then
    echo "gpu.sh: $KERNELS_DIR/$f is missing; generate it first with: bash bench/gpu-kernels.sh" >&2
    exit 1
  fi
done

# A build directory keeps the generator it was configured with.
generator=()
if [[ ! -f $BUILD/CMakeCache.txt ]] && command -v ninja >/dev/null; then
  generator=(-G Ninja)
fi
cmake "${generator[@]}" -S bench/gpu -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)"

if command -v nvidia-smi >/dev/null; then
  nvidia-smi -L || true
fi

# cuBLAS is dlopen'ed by name; a toolkit outside the loader's path is found
# through CUDA_HOME or nvcc.
cuda_dirs=()
[[ -n ${CUDA_HOME:-} ]] && cuda_dirs+=("$CUDA_HOME")
command -v nvcc >/dev/null && cuda_dirs+=("$(dirname "$(dirname "$(command -v nvcc)")")")
cuda_dirs+=(/usr/local/cuda)
for d in "${cuda_dirs[@]}"; do
  for lib in "$d/lib64" "$d/lib"; do
    if compgen -G "$lib/libcublas.so*" >/dev/null; then
      export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$lib
    fi
  done
done

out=${OUT:-$BUILD}
mkdir -p "$out"
rc=0
"$BUILD/lowbit-gpu-bench" "$KERNELS_DIR" --json "$out/gpu.json" "$@" 2>&1 |
  tee "$out/gpu.log" || rc=$?
echo "gpu.sh: results in $out/gpu.json (log $out/gpu.log), exit status $rc"
# The int8 tensor-core linears (prompt chunks of GPU artifacts), where generated.
if [[ -f $KERNELS_DIR/int8-mma/kernels.tsv ]]; then
  "$BUILD/lowbit-gpu-bench" "$KERNELS_DIR/int8-mma" --json "$out/gpu-int8-mma.json" "$@" \
    2>&1 | tee "$out/gpu-int8-mma.log" || rc=$?
  echo "gpu.sh: int8 tensor-core linears in $out/gpu-int8-mma.json, exit status $rc"
fi
# The whole decode step (its kernels checked first), where it was generated.
if [[ $rc -eq 0 && -f $KERNELS_DIR/decode-step/kernels.tsv ]]; then
  "$BUILD/lowbit-gpu-bench" "$KERNELS_DIR/decode-step" --json "$out/gpu-decode-step.json" "$@" \
    2>&1 | tee "$out/gpu-decode-step.log" || rc=$?
  echo "gpu.sh: decode step in $out/gpu-decode-step.json, exit status $rc"
fi
# Whole GPU artifacts (bench/gpu-models.sh prepared them): P2 perplexity
# against their CPU artifacts', pp and tg against the copy bound.
MODELS_DIR=${MODELS_DIR:-build-gpu-models}
if [[ -f $MODELS_DIR/models.txt ]]; then
  models_rc=0
  while read -r name text chunks reference; do
    LD_LIBRARY_PATH=$MODELS_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
      "$MODELS_DIR/lowbit-gpu-model-bench" --text "$text" --chunks "$chunks" \
      --json "$out/gpu-model-$name.json" "$name=$MODELS_DIR/$name.lbx:$reference" \
      2>&1 | tee -a "$out/gpu-models.log" || models_rc=$?
  done <"$MODELS_DIR/models.txt"
  echo "gpu.sh: whole models in $out/gpu-model-*.json, exit status $models_rc"
  [[ $rc -ne 0 ]] || rc=$models_rc
fi
exit "$rc"
