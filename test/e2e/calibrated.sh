#!/usr/bin/env bash
# GPTQ and AWQ on the bundled model, calibrated on its KJV calibration text:
# each beats round-to-nearest at the same bits and group size (P1 on the
# held-out text), whether GPTQ's Hessians come from layer-by-layer
# calibration or from a saved statistics file, and a real act-order GPTQ
# model survives the GPTQ checkpoint round trip with the same perplexity.
set -uo pipefail
T=$LOWBIT_TMP/calibrated; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
CALIB=$TINY/data/calib.txt
TEXT=$TINY/data/heldout.txt
B=$LOWBIT_BIN
W=64 # calibration windows of 512 tokens
fails=0

ppl() { "$B/lowbit-run" perplexity --json --protocol p1 --ctx 512 --file "$TEXT" "$1" 2>/dev/null \
        | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["perplexity"])'; }
quantize() { # NAME PASS-WITH-OPTIONS
  "$B/lowbit-opt" "$T/tiny.mlir" "--$2" -o "$T/$1.mlir" 2>"$T/$1.log" \
    || { echo "FAIL $1: $(grep -m1 error "$T/$1.log")"; fails=$((fails+1)); }
}
below() { # NAME PPL BOUND-NAME BOUND
  if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$2" "$4"; then
    echo "ok   $1 $2 < $3 $4"
  else
    echo "FAIL $1 $2 is not below $3 $4"; fails=$((fails+1))
  fi
}

"$B/lowbit-translate" --import-hf "$TINY" -o "$T/tiny.mlir"
echo "float: $(ppl "$T/tiny.mlir")"
for bits in 4 3; do
  quantize rtn$bits "lowbit-rtn=bits=$bits group-size=128 side-file=$T/rtn$bits.safetensors"
  quantize gptq$bits "lowbit-gptq=file=$CALIB windows=$W bits=$bits side-file=$T/gptq$bits.safetensors"
  quantize awq$bits "lowbit-awq=file=$CALIB windows=$W bits=$bits side-file=$T/awq$bits.safetensors"
  rtn=$(ppl "$T/rtn$bits.mlir")
  below "GPTQ w${bits}g128" "$(ppl "$T/gptq$bits.mlir")" "RTN" "$rtn"
  below "AWQ w${bits}g128" "$(ppl "$T/awq$bits.mlir")" "RTN" "$rtn"
done
quantize awqgptq3 "lowbit-awq=file=$CALIB windows=$W bits=3 gptq=true side-file=$T/awqgptq3.safetensors"
below "AWQ+GPTQ w3g128" "$(ppl "$T/awqgptq3.mlir")" "RTN" "$rtn"

# One calibration, many runs: the float model's Hessians from a statistics file.
"$B/lowbit-opt" "$T/tiny.mlir" --lowbit-calibrate="file=$CALIB windows=$W output=$T/stats.pb" -o "$T/cal.mlir" 2>/dev/null
"$B/lowbit-opt" "$T/cal.mlir" --lowbit-gptq="sequential=false bits=3 side-file=$T/gptq3s.safetensors" -o "$T/gptq3s.mlir" 2>/dev/null \
  || { echo "FAIL GPTQ from statistics"; fails=$((fails+1)); }
below "GPTQ w3g128 from statistics" "$(ppl "$T/gptq3s.mlir")" "RTN" "$rtn"
# The module remembers the calibration text: no file= needed afterwards.
"$B/lowbit-opt" "$T/cal.mlir" --lowbit-pipeline="name=gptq-w4g128-act-order side-file=$T/act.safetensors" -o "$T/act.mlir" 2>/dev/null \
  || { echo "FAIL act-order GPTQ from the recorded calibration text"; fails=$((fails+1)); }
act=$(ppl "$T/act.mlir")
below "GPTQ act-order w4g128" "$act" "RTN w4" "$(ppl "$T/rtn4.mlir")"

# A real act-order model through the GPTQ checkpoint format and back.
"$B/lowbit-translate" "$T/act.mlir" --export-gptq "$T/act-ckpt" 2>/dev/null \
  && "$B/lowbit-translate" --import-hf "$T/act-ckpt" -o "$T/act-back.mlir" 2>/dev/null \
  || { echo "FAIL act-order checkpoint round trip"; fails=$((fails+1)); }
back=$(ppl "$T/act-back.mlir")
# Checkpoints store the float tensors in fp16 (tiny-5m is bf16): equal to
# 3 decimals, not bit for bit.
if python3 -c "import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) < 2e-3 else 1)" "$act" "$back"; then
  echo "ok   act-order checkpoint: $back (IR $act)"
else
  echo "FAIL act-order checkpoint: $back (IR $act)"; fails=$((fails+1))
fi
[ $fails -eq 0 ]
