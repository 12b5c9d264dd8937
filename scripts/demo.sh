#!/usr/bin/env bash
# The main job on the bundled model (tiny-5m): import to lowbit IR, measure
# perplexity with the llama.cpp protocol, export GGUF, and generate text.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/bin
MODEL=models/tiny-5m
OUT=${OUT_DIR:-build/demo}
mkdir -p "$OUT"

echo "== import $MODEL -> $OUT/tiny-5m.mlir"
"$BIN/lowbit-translate" --import-hf "$MODEL" -o "$OUT/tiny-5m.mlir"
echo "== perplexity (P2, llama.cpp protocol) on the held-out King James text"
"$BIN/lowbit-run" perplexity --protocol p2 --ctx 512 --file "$MODEL/data/heldout.txt" "$OUT/tiny-5m.mlir"
echo "== export GGUF (q4_k_m) -> $OUT/tiny-5m-q4_k_m.gguf"
"$BIN/lowbit-translate" --export-gguf --outtype q4_k_m "$OUT/tiny-5m.mlir" -o "$OUT/tiny-5m-q4_k_m.gguf"
echo "== compile the GGUF for this CPU -> $OUT/tiny-5m-q4_k_m.lbx"
"$BIN/lowbit-compile" "$OUT/tiny-5m-q4_k_m.gguf" --target=native -o "$OUT/tiny-5m-q4_k_m.lbx"
echo "== perplexity (P2) of the compiled artifact"
"$BIN/lowbit-run" perplexity --protocol p2 --ctx 512 --file "$MODEL/data/heldout.txt" "$OUT/tiny-5m-q4_k_m.lbx"
echo "== generate with the compiled artifact"
"$BIN/lowbit-run" generate --prompt "And God said" -n 40 "$OUT/tiny-5m-q4_k_m.lbx"
