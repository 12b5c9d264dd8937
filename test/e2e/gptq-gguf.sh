#!/usr/bin/env bash
# GPTQ rounding inside ggml blocks (aimed at the float model's outputs, then
# coordinate descent: what the gptq-* recipes run) on the bundled model: for Q4_K_M and Q2_K
# the file has llama-quantize's per-tensor types (the same bytes as the
# imatrix file), the real llama.cpp loads and runs it, its P2 perplexity is
# below llama.cpp's own file (anchors.md) and below our imatrix file, and
# llama.cpp agrees with our ggml-mirroring executor on it. A size-budgeted
# mix at the same mix's bytes (budget=, importance-weighted) is no larger than
# the imatrix file, runs in llama.cpp and beats the imatrix file too.
set -euo pipefail
H=$LOWBIT_E2E/llamacpp
T=$LOWBIT_TMP/gptq-gguf; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
TEXT=$TINY/data/heldout.txt
CAL="file=$TINY/data/calib.txt windows=32"
B=$LOWBIT_BIN
"$B/lowbit-translate" --import-hf "$TINY" -o "$T/tiny.mlir"
"$B/lowbit-opt" "$T/tiny.mlir" --lowbit-calibrate="$CAL hessian=false output=$T/stats.pb" -o /dev/null 2>/dev/null

ours() { "$B/lowbit-run" perplexity --json --activations ggml --protocol p2 --file "$TEXT" "$1" 2>/dev/null \
         | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["perplexity"])'; }
theirs() { node "$H/llama-perplexity.mjs" --fast --model "$1" --file "$TEXT" 2>/dev/null \
           | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["ppl"])'; }
below() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }
near() { python3 -c "import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) <= 0.03 else 1)" "$1" "$2"; }

fails=0
# llama.cpp's P2 on its own files (anchors.md, tiny-5m).
for entry in q4_k_m:32.8248 q2_k:41.5794; do
  ftype=${entry%%:*} anchor=${entry#*:}
  "$B/lowbit-opt" "$T/tiny.mlir" --lowbit-gguf-quantize="ftype=$ftype side-file=$T/im.gguf imatrix=$T/stats.pb" -o "$T/im.mlir" 2>/dev/null
  "$B/lowbit-translate" --export-gguf "$T/im.mlir" -o "$T/$ftype-imatrix.gguf" 2>/dev/null
  "$B/lowbit-opt" "$T/tiny.mlir" --lowbit-gguf-quantize="ftype=$ftype gptq=true float-targets=true $CAL side-file=$T/gptq.gguf" -o "$T/gptq.mlir" 2>/dev/null
  "$B/lowbit-translate" --export-gguf "$T/gptq.mlir" -o "$T/$ftype-gptq.gguf" 2>/dev/null
  im=$(ours "$T/$ftype-imatrix.gguf") gq=$(ours "$T/$ftype-gptq.gguf") ll=$(theirs "$T/$ftype-gptq.gguf")
  echo "$ftype P2: llama.cpp's file $anchor, our imatrix file $im, GPTQ file $gq (llama.cpp on it: $ll)"
  [ "$(stat -c %s "$T/$ftype-imatrix.gguf")" = "$(stat -c %s "$T/$ftype-gptq.gguf")" ] ||
    { echo "FAIL: $ftype GPTQ file size differs from the imatrix file"; fails=$((fails+1)); }
  below "$ll" "$anchor" || { echo "FAIL: $ftype GPTQ does not beat llama.cpp's file"; fails=$((fails+1)); }
  below "$gq" "$im" || { echo "FAIL: $ftype GPTQ does not beat the imatrix file"; fails=$((fails+1)); }
  near "$ll" "$gq" || { echo "FAIL: $ftype llama.cpp and lowbit disagree on the GPTQ file"; fails=$((fails+1)); }

  "$B/lowbit-opt" "$T/tiny.mlir" --lowbit-gguf-quantize="ftype=$ftype budget=$ftype imatrix=$T/stats.pb $CAL side-file=$T/budget.gguf" -o "$T/budget.mlir" 2>"$T/budget.log"
  "$B/lowbit-translate" --export-gguf "$T/budget.mlir" -o "$T/$ftype-budget.gguf" 2>/dev/null
  bu=$(ours "$T/$ftype-budget.gguf") lb=$(theirs "$T/$ftype-budget.gguf")
  echo "$ftype P2: budgeted mix at its bytes $bu (llama.cpp on it: $lb); $(grep '^budget:' "$T/budget.log")"
  [ "$(stat -c %s "$T/$ftype-budget.gguf")" -le "$(stat -c %s "$T/$ftype-imatrix.gguf")" ] ||
    { echo "FAIL: $ftype budgeted file is larger than the imatrix file"; fails=$((fails+1)); }
  below "$lb" "$im" || { echo "FAIL: $ftype budgeted mix does not beat the imatrix file"; fails=$((fails+1)); }
  near "$lb" "$bu" || { echo "FAIL: $ftype llama.cpp and lowbit disagree on the budgeted file"; fails=$((fails+1)); }
done
[ $fails -eq 0 ]
