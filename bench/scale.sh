#!/usr/bin/env bash
# Peak memory and time of the calibrated passes as models grow: layers
# stream (one decoder layer in fp32 at a time, results written through), so
# peak RSS should not grow with depth. Random-weight F16 models of real
# shapes are made by lowbit-make-random-gguf (timing and memory only).
#
#   bash bench/scale.sh              # Llama-3.2-1B shape cut to 2, 4, 16 layers: GPTQ w4g128
#   SCALE=8b bash bench/scale.sh     # Llama-3-8B shape (~16 GB on disk): import,
#                                    # RTN w4g128, Q4_K_M export on all 32 layers,
#                                    # GPTQ w4g128 on the first GPTQ_LAYERS_8B
# Environment: LAYERS_1B ("2 4 16"), GPTQ_LAYERS_8B (4), WINDOWS (8 windows of
# 512 tokens of calib.txt), THREADS (2), BUILD_DIR (build), WORK (where the
# models go; default a temporary folder under BUILD_DIR, removed after).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/bin
SHARED=${LOWBIT_SHARED:-../shared}
SCALE=${SCALE:-1b}
LAYERS_1B=${LAYERS_1B:-2 4 16}
GPTQ_LAYERS_8B=${GPTQ_LAYERS_8B:-4}
WINDOWS=${WINDOWS:-8}
THREADS=${THREADS:-2}
CALIB=$SHARED/data/calib.txt
export OPENBLAS_NUM_THREADS=$THREADS LOWBIT_THREADS=$THREADS

[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 1; }
for t in lowbit-opt lowbit-translate lowbit-make-random-gguf; do
  [ -x "$BIN/$t" ] || { echo "build $t first (cmake --build ${BUILD_DIR:-build})" >&2; exit 1; }
done
if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d "${BUILD_DIR:-build}/scale-bench.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"

printf '%-12s %6s %-22s %8s %8s %9s %8s\n' model layers step wall_s cpu_s peak_MB s/layer
# run NAME MODEL LAYERS CMD...: one timed step, a row of the table.
run() {
  local name=$1 model=$2 layers=$3; shift 3
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" 2>"$WORK/log" \
    || { tail -20 "$WORK/log" >&2; exit 1; }
  read -r wall user sys rss <"$WORK/time"
  python3 -c "
wall, cpu, rss, layers = $wall, $user + $sys, $rss, $layers
print('%-12s %6d %-22s %8.1f %8.1f %9.0f %8.1f' % ('$model', layers, '$name', wall, cpu, rss / 1024, wall / layers))"
}

gptq() { # gptq MODEL.mlir SIDE
  run "gptq w4g128 ${WINDOWS}x512" "$MODEL_NAME" "$LAYERS" "$BIN/lowbit-opt" "$1" \
    --lowbit-gptq="file=$CALIB windows=$WINDOWS bits=4 group-size=128 side-file=$2" -o "$WORK/gptq.mlir"
  rm -f "$2"
}

if [ "$SCALE" = 1b ]; then
  MODEL_NAME=llama-3.2-1b
  for LAYERS in $LAYERS_1B; do
    "$BIN/lowbit-make-random-gguf" "$WORK/1b.gguf" --shape llama-3.2-1b --layers "$LAYERS" >/dev/null
    "$BIN/lowbit-translate" --import-gguf "$WORK/1b.gguf" -o "$WORK/1b.mlir"
    gptq "$WORK/1b.mlir" "$WORK/1b.gptq.safetensors"
    rm -f "$WORK/1b.gguf"
  done
elif [ "$SCALE" = 8b ]; then
  MODEL_NAME=llama-3-8b
  LAYERS=32
  "$BIN/lowbit-make-random-gguf" "$WORK/8b.gguf" --shape llama-3-8b >/dev/null
  run "import-gguf" "$MODEL_NAME" "$LAYERS" "$BIN/lowbit-translate" --import-gguf "$WORK/8b.gguf" -o "$WORK/8b.mlir"
  run "rtn w4g128" "$MODEL_NAME" "$LAYERS" "$BIN/lowbit-opt" "$WORK/8b.mlir" \
    --lowbit-rtn="bits=4 group-size=128 side-file=$WORK/8b.rtn.safetensors" -o "$WORK/8b.rtn.mlir"
  rm -f "$WORK/8b.rtn.safetensors"
  run "export q4_k_m" "$MODEL_NAME" "$LAYERS" "$BIN/lowbit-translate" --export-gguf --outtype q4_k_m \
    "$WORK/8b.mlir" -o "$WORK/8b.q4_k_m.gguf"
  rm -f "$WORK/8b.q4_k_m.gguf" "$WORK/8b.gguf"
  LAYERS=$GPTQ_LAYERS_8B
  "$BIN/lowbit-make-random-gguf" "$WORK/8b-cut.gguf" --shape llama-3-8b --layers "$LAYERS" >/dev/null
  "$BIN/lowbit-translate" --import-gguf "$WORK/8b-cut.gguf" -o "$WORK/8b-cut.mlir"
  gptq "$WORK/8b-cut.mlir" "$WORK/8b.gptq.safetensors"
else
  echo "SCALE must be 1b or 8b" >&2
  exit 2
fi
