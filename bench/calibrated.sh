#!/usr/bin/env bash
# Calibrated quantization recipes (--lowbit-pipeline) end to end: wall and CPU
# seconds and peak memory of lowbit-opt on THREADS threads, calibration
# included (128 windows of 512 tokens of calib.txt unless WINDOWS is set),
# then, with EVAL=1, protocol P1 perplexity of the result on each text of
# TEXTS. The reference implementations run on a GPU; anchors.md has their
# perplexities.
#
#   bash bench/calibrated.sh [RECIPES]          e.g. "gptq-w4g128 awq-w4g128"
#   MODEL=llama-3.2-1b WINDOWS=8 bash bench/calibrated.sh gptq-w4g128
#   MODEL=llama-3.2-1b LAYERS=2 WINDOWS=8 bash bench/calibrated.sh awq-w4g128
# MODEL: a HF directory (default ../shared/models/llama-27m), or
# "llama-3.2-1b" for a random F16 model of those shapes (timing only; made
# by lowbit-make-random-gguf, about 2.5 GB under $BUILD_DIR, deleted after).
# Environment: THREADS (2), WINDOWS (128), EVAL (0), TEXTS (wikitext2-test
# eval-indist), BUILD_DIR (build), LAYERS (decoder layers of the random
# model; default all 16: per-layer time is uniform, so fewer layers time a
# slow recipe in proportion).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/bin
SHARED=${LOWBIT_SHARED:-../shared}
MODEL=${MODEL:-$SHARED/models/llama-27m}
THREADS=${THREADS:-2}
WINDOWS=${WINDOWS:-128}
EVAL=${EVAL:-0}
TEXTS=${TEXTS:-wikitext2-test eval-indist}
RECIPES=${1:-rtn-w4g128 gptq-w4g128 gptq-w4g128-act-order awq-w4g128 awq-gptq-w4g128 rtn-w3g128 gptq-w3g128 awq-w3g128 awq-gptq-w3g128 gptq-w2g64}
CALIB=$SHARED/data/calib.txt
export OPENBLAS_NUM_THREADS=$THREADS LOWBIT_THREADS=$THREADS

[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 1; }
WORK=$(mktemp -d "${BUILD_DIR:-build}/calibrated-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ "$MODEL" = llama-3.2-1b ]; then
  "$BIN/lowbit-make-random-gguf" "$WORK/model.gguf" --shape llama-3.2-1b ${LAYERS:+--layers "$LAYERS"}
  "$BIN/lowbit-translate" --import-gguf "$WORK/model.gguf" -o "$WORK/model.mlir"
else
  "$BIN/lowbit-translate" --import-hf "$MODEL" -o "$WORK/model.mlir"
fi

printf '%-24s %9s %9s %9s' recipe wall_s cpu_s peak_MB
[ "$EVAL" = 1 ] && for t in $TEXTS; do printf ' %16s' "P1 $t"; done
echo
for recipe in $RECIPES; do
  case $recipe in rtn-*) calib="" ;; *) calib=" file=$CALIB" ;; esac
  # Calibrated passes take windows= too; the pipeline uses the defaults, so
  # spell the pass out when WINDOWS differs.
  pipeline="--lowbit-pipeline=name=$recipe$calib side-file=$WORK/$recipe.safetensors"
  if [ "$WINDOWS" != 128 ] && [ -n "$calib" ]; then
    # --dump-pass-pipeline also runs the pipeline: on an empty module that
    # fails at once, after the dump.
    pass=$(echo 'module {}' | "$BIN/lowbit-opt" - "$pipeline" --dump-pass-pipeline -o /dev/null 2>&1 \
           | sed -n 's/.*\(lowbit-[a-z]*{[^}]*}\).*/\1/p' | head -1 || true)
    [ -n "$pass" ] || { echo "cannot expand recipe $recipe" >&2; exit 1; }
    pipeline="--pass-pipeline=builtin.module(${pass%\}} windows=$WINDOWS})"
  fi
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" \
    "$BIN/lowbit-opt" "$WORK/model.mlir" "$pipeline" -o "$WORK/$recipe.mlir" 2>"$WORK/log" \
    || { cat "$WORK/log" >&2; exit 1; }
  read -r wall user sys rss <"$WORK/time"
  printf '%-24s %9.1f %9.1f %9.0f' "$recipe" "$wall" "$(python3 -c "print($user + $sys)")" "$(python3 -c "print($rss / 1024)")"
  if [ "$EVAL" = 1 ]; then
    for t in $TEXTS; do
      p=$("$BIN/lowbit-run" perplexity --json --protocol p1 --ctx 512 --file "$SHARED/data/$t.txt" \
            "$WORK/$recipe.mlir" 2>/dev/null | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["perplexity"])')
      printf ' %16s' "$p"
    done
  fi
  echo
  rm -f "$WORK/$recipe.safetensors"
done
