#!/usr/bin/env bash
# Generates the GPU kernels bench/gpu.sh measures, here, with the compiler:
# at Llama-3-8B's shapes (4096x4096, 14336x4096, 4096x14336), the q4g128
# decode linears for batches 1, 4 and 8, every rows-per-warp variant, with
# their activation-rounding kernels, and the tensor-core linears for batches
# 16 and 64, every rows-per-warp variant (16, 32, 64), and the row kernels
# of a decode step (rms_norm 4096, swiglu 14336, add 4096, rope 32x128 and
# 8x128 in adjacent pairs and in halves, attention of 32 heads over 8 KV
# heads of 128 in a 4096 context, the 128256x4096 embedding in q4g128 and
# f16) for every batch, and the f16 linears of a float Llama-3-8B
# (4096x4096, 1024x4096, 14336x4096, 4096x14336 and the 128256x4096 output
# matrix) for the decode batches (1-8), every rows-per-warp variant, as
# kernels.ptx + kernels.tsv
# (docs/gpu.md); and in decode-step/ the batch-1 kernels of a whole w4g128
# Llama-3-8B decode step, which lowbit-gpu-bench also runs as one. BATCHES picks the decode (1-8) and tensor-core
# (16-64, multiples of 8) batches together. The GPU machine needs no
# compiler: it reads this directory.
#
#   bash bench/gpu-kernels.sh              # -> build-gpu-kernels/ for sm_90
#   TARGET=sm_80 OUT_DIR=dir bash bench/gpu-kernels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/bin
TARGET=${TARGET:-sm_90}
OUT_DIR=${OUT_DIR:-build-gpu-kernels}
SHAPES=${SHAPES:-4096x4096,14336x4096,4096x14336}
F16_SHAPES=${F16_SHAPES:-4096x4096,1024x4096,14336x4096,4096x14336,128256x4096}
BATCHES=${BATCHES:-1,4,8,16,64}
[ -x "$BIN/lowbit-gpu-kernels" ] || {
  echo "missing $BIN/lowbit-gpu-kernels (cmake --build build --target lowbit-gpu-kernels)" >&2
  exit 1
}
"$BIN/lowbit-gpu-kernels" --target="$TARGET" --linear="$SHAPES" --batch="$BATCHES" \
  --linear-f16="$F16_SHAPES" --rows-per-warp=1,2,4 --mma-block-rows=16,32,64 \
  --rms-norm=4096 --rms-norm-eps=1e-5 --swiglu=14336 --rope=32x128,8x128 \
  --rope-halves=32x128,8x128 --rope-theta=500000 \
  --attention=32x8x128 --context=4096 --add=4096 --embedding=128256x4096 \
  --embedding-f16=128256x4096 -o "$OUT_DIR"
# A whole decode step of a w4g128 Llama-3-8B (batch 1): every kernel it runs.
# The int8 tensor-core linears of prompt chunks, with their quantize kernels.
"$BIN/lowbit-gpu-kernels" --target="$TARGET" --linear="$SHAPES" --batch=16,64 --int8-mma \
  --mma-block-rows=16,32 -o "$OUT_DIR/int8-mma"
"$BIN/lowbit-gpu-kernels" --target="$TARGET" --batch=1 \
  --linear=4096x4096,1024x4096,14336x4096,4096x14336,128256x4096 \
  --rms-norm=4096 --rms-norm-eps=1e-5 --swiglu=14336 --add=4096 --rope=32x128,8x128 \
  --rope-theta=500000 --attention=32x8x128 --context=4096 --embedding=128256x4096 \
  -o "$OUT_DIR/decode-step"
if command -v ptxas >/dev/null || [ -x /usr/local/cuda/bin/ptxas ]; then
  PTXAS=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
  for dir in "$OUT_DIR" "$OUT_DIR/int8-mma" "$OUT_DIR/decode-step"; do
    "$PTXAS" -arch="$TARGET" -v "$dir/kernels.ptx" -o "$dir/kernels.cubin" 2>"$dir/ptxas.txt"
    echo "ptxas report: $dir/ptxas.txt" >&2
  done
fi
