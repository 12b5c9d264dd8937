#!/usr/bin/env bash
# Makes the seed corpora of the fuzz targets:
#
#   fuzz/make-corpus.sh [FUZZ_BUILD [MAIN_BUILD]]   -> FUZZ_BUILD/corpus/<Target>/
#
# Seeds come from real files: the bundled models/tiny-5m, and what the tools of
# the main build make from it (GGUF exports of every block type, calibration
# statistics and an imatrix, GPTQ/AWQ checkpoints, a compiled artifact), kept
# in FUZZ_BUILD/corpus-src. lowbit-fuzz-seeds (built with the fuzzers) shrinks
# them: libFuzzer mutates small inputs best. Does nothing when the corpus is
# newer than the seed maker and this script.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz=$(realpath -m "${1:-$root/build-fuzz}")
main=$(realpath -m "${2:-$root/build}")
seeds=$fuzz/bin/lowbit-fuzz-seeds
tiny=$root/models/tiny-5m
src=$fuzz/corpus-src
out=$fuzz/corpus

die() { echo "make-corpus: $*" >&2; exit 1; }
[ -x "$seeds" ] || die "$seeds is missing: build the fuzzers first (scripts/setup.sh, or bench/fuzz.sh)"
for tool in lowbit-translate lowbit-opt lowbit-compile; do
  [ -x "$main/bin/$tool" ] || die "$main/bin/$tool is missing: build the main tree first"
done
if [ -f "$out/.done" ] && [ "$out/.done" -nt "$seeds" ] && [ "$out/.done" -nt "$0" ]; then
  exit 0
fi

# Real files made from tiny-5m by the main build's tools (kept between runs).
mkdir -p "$src"
B=$main/bin
run() { "$@" >"$src/log" 2>&1 || { cat "$src/log" >&2; die "failed: $*"; }; }
for t in q4_k_m q5_k_m q3_k_m q2_k q6_k q4_0 q4_1 q5_0 q5_1 q8_0 f16 bf16; do
  [ -f "$src/tiny-$t.gguf" ] || run "$B/lowbit-translate" --export-gguf --outtype "$t" "$tiny" -o "$src/tiny-$t.gguf"
done
[ -f "$src/tiny.mlir" ] || run "$B/lowbit-translate" --import-hf "$tiny" -o "$src/tiny.mlir"
if [ ! -f "$src/stats.pb" ] || [ ! -f "$src/imatrix.dat" ]; then
  run "$B/lowbit-opt" "$src/tiny.mlir" --lowbit-calibrate="file=$tiny/data/calib.txt windows=2 hessian=true output=$src/stats.pb imatrix-output=$src/imatrix.dat" -o "$src/calibrated.mlir"
fi
if [ ! -d "$src/gptq-w4" ] || [ ! -d "$src/gptq-w3-v2" ] || [ ! -d "$src/awq-w4" ]; then
  run "$B/lowbit-opt" "$src/tiny.mlir" --lowbit-rtn="bits=4 group-size=128 side-file=$src/w4.safetensors" -o "$src/w4.mlir"
  run "$B/lowbit-opt" "$src/tiny.mlir" --lowbit-rtn="bits=3 group-size=64 sym=true side-file=$src/w3.safetensors" -o "$src/w3.mlir"
  rm -rf "$src/gptq-w4" "$src/gptq-w3-v2" "$src/awq-w4"
  run "$B/lowbit-translate" --export-gptq "$src/gptq-w4" "$src/w4.mlir"
  run "$B/lowbit-translate" --export-gptq "$src/gptq-w3-v2" --gptq-format=gptq_v2 "$src/w3.mlir"
  run "$B/lowbit-translate" --export-awq "$src/awq-w4" "$src/w4.mlir"
fi
[ -f "$src/tiny.lbx" ] || run "$B/lowbit-compile" "$src/tiny-q4_k_m.gguf" --target=x86-64-v3 -o "$src/tiny.lbx"
[ -f "$src/tiny-both.lbx" ] ||
  run "$B/lowbit-compile" "$src/tiny-q4_k_m.gguf" --target=x86-64-v3,sm_90 -o "$src/tiny-both.lbx"

rm -rf "$out"
mkdir -p "$out"
ggufs=("$src/tiny-q4_k_m.gguf")
for f in "$src"/tiny-*.gguf; do [ "$f" = "${ggufs[0]}" ] || ggufs+=("$f"); done
"$seeds" safetensors "$out/SafetensorsFuzzer" "$tiny/model.safetensors" "$src/w4.safetensors" \
  "$src/gptq-w4/model.safetensors" "$src/awq-w4/model.safetensors"
"$seeds" gguf "$out/GgufFuzzer" "${ggufs[@]}"
"$seeds" ggml "$out/GgmlDequantizeFuzzer" "$tiny/model.safetensors" "${ggufs[@]}"
mkdir -p "$out/HfConfigFuzzer"
cp "$tiny/config.json" "$out/HfConfigFuzzer/tiny-5m.json"
for d in gptq-w4 gptq-w3-v2 awq-w4; do cp "$src/$d/config.json" "$out/HfConfigFuzzer/$d.json"; done
"$seeds" tokenizer "$out/TokenizerFuzzer" "$tiny/tokenizer.model" "$tiny/tokenizer_config.json"
"$seeds" imatrix "$out/ImatrixFuzzer" "$src/imatrix.dat"
"$seeds" stats "$out/CalibrationStatsFuzzer" "$src/stats.pb"
cp "$src/imatrix.dat" "$out/CalibrationStatsFuzzer"/*.pb "$out/ImatrixFuzzer/" # imatrix= reads both
"$seeds" checkpoint "$out/CheckpointImportFuzzer" "$tiny" "$src/gptq-w4" "$src/gptq-w3-v2" "$src/awq-w4"
"$seeds" artifact "$out/ArtifactFuzzer" "$src/tiny.lbx" "$src/tiny-both.lbx"
touch "$out/.done"
