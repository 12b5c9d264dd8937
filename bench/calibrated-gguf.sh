#!/usr/bin/env bash
# Calibrated GGUF files (--lowbit-gguf-quantize with an importance matrix,
# with GPTQ rounding inside the blocks, ...) against llama.cpp's own mix:
# for each file type and variant, the file's bytes, the seconds lowbit took
# (calibration included) and protocol P2 perplexity computed by the real
# llama.cpp (node-llama-cpp) on the file, 150 chunks of wikitext2-test.
#
#   bash bench/calibrated-gguf.sh [FTYPES] [VARIANTS]
#   bash bench/calibrated-gguf.sh "q4_k_m q3_k_m q2_k" "plain imatrix gptq"
# Variants: plain (llama-quantize without imatrix), imatrix (llama-quantize
# with an imatrix of calib.txt), gptq (GPTQ inside the blocks, then
# coordinate descent), gptq-no-descent, gptq-act-order, gptq-float (aimed at
# the float model's outputs: the gptq-* recipes), awq-gptq and awq-gptq-float
# (AWQ scales for the mix folded in, then GPTQ), budget-imatrix and
# budget-gptq (the mix's bytes, per-tensor types from measured sensitivity).
# Environment: MODEL (../shared/models/llama-27m), TEXT (wikitext2-test),
# CHUNKS (150), WINDOWS (128 calibration windows of 512 tokens of calib.txt),
# THREADS (2), BUILD_DIR (build), KEEP (a directory to keep the files in),
# FAST=1 (llama-perplexity.mjs --fast: about 3x quicker, sums in float).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/bin
SHARED=${LOWBIT_SHARED:-../shared}
MODEL=${MODEL:-$SHARED/models/llama-27m}
TEXT=${TEXT:-$SHARED/data/wikitext2-test.txt}
CHUNKS=${CHUNKS:-150}
WINDOWS=${WINDOWS:-128}
THREADS=${THREADS:-2}
FTYPES=${1:-q4_k_m q3_k_m q2_k}
VARIANTS=${2:-plain imatrix gptq}
CALIB=$SHARED/data/calib.txt
LLAMA=test/e2e/llamacpp/llama-perplexity.mjs
export OPENBLAS_NUM_THREADS=$THREADS LOWBIT_THREADS=$THREADS

[ -f test/e2e/llamacpp/node_modules/node-llama-cpp/package.json ] ||
  { echo "needs node-llama-cpp (bash scripts/setup.sh installs it)" >&2; exit 1; }
WORK=$(mktemp -d "${BUILD_DIR:-build}/calibrated-gguf.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

"$BIN/lowbit-translate" --import-hf "$MODEL" -o "$WORK/model.mlir"
calibration="file=$CALIB windows=$WINDOWS"
if [[ " $VARIANTS " == *" imatrix "* || " $VARIANTS " == *" budget-imatrix "* ]]; then
  start=$(date +%s.%N)
  "$BIN/lowbit-opt" "$WORK/model.mlir" --lowbit-calibrate="$calibration hessian=false output=$WORK/stats.pb" \
    -o "$WORK/cal.mlir" 2>/dev/null
  imatrix_s=$(python3 -c "import time; print('%.1f' % (time.time() - $start))")
  echo "imatrix: calibration took $imatrix_s s" >&2
fi

printf '%-8s %-16s %12s %9s %10s\n' ftype variant bytes seconds "P2 ppl"
for ftype in $FTYPES; do
  for variant in $VARIANTS; do
    case $variant in
      plain) options="" ;;
      imatrix) options=" imatrix=$WORK/stats.pb" ;;
      gptq) options=" gptq=true $calibration" ;;
      gptq-act-order) options=" gptq=true act-order=true $calibration" ;;
      gptq-float) options=" gptq=true float-targets=true $calibration" ;;
      gptq-no-descent) options=" gptq=true descent-sweeps=0 $calibration" ;;
      budget-imatrix) options=" budget=$ftype imatrix=$WORK/stats.pb $calibration" ;;
      budget-gptq) options=" budget=$ftype gptq=true $calibration" ;;
      awq-gptq) options=" gptq=true $calibration" ;;
      awq-gptq-float) options=" gptq=true float-targets=true $calibration" ;;
      *) echo "unknown variant '$variant'" >&2; exit 2 ;;
    esac
    start=$(date +%s.%N)
    awq=()
    [[ $variant == awq-gptq* ]] &&
      awq=(--lowbit-awq="ftype=$ftype $calibration side-file=$WORK/fold.safetensors")
    "$BIN/lowbit-opt" "$WORK/model.mlir" "${awq[@]}" \
      --lowbit-gguf-quantize="ftype=$ftype side-file=$WORK/side.gguf$options" \
      -o "$WORK/q.mlir" 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
    seconds=$(python3 -c "import time; print('%.1f' % (time.time() - $start))")
    [[ $variant == *imatrix ]] && seconds="$seconds+$imatrix_s"
    out=$WORK/$ftype-$variant.gguf
    "$BIN/lowbit-translate" --export-gguf "$WORK/q.mlir" -o "$out" 2>/dev/null
    ppl=$(node "$LLAMA" ${FAST:+--fast} --model "$out" --file "$TEXT" --chunks "$CHUNKS" 2>/dev/null |
          python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["ppl"])')
    printf '%-8s %-16s %12d %9s %10s\n' "$ftype" "$variant" "$(stat -c %s "$out")" "$seconds" "$ppl"
    [ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$out" "$KEEP/"
    rm -f "$WORK/side.gguf" "$out"
  done
done
