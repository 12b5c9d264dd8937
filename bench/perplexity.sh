#!/usr/bin/env bash
# Wall time of a perplexity run: lowbit's reference executor beside the real
# llama.cpp (node-llama-cpp's prebuilt CPU build, 2 threads) on the same GGUF
# file, text and protocol (P2, ctx 512), measured in the same run. llama.cpp's
# --fast figure sums log-probabilities in float and may read ~0.001 low.
#
#   bash bench/perplexity.sh [MODEL_DIR TEXT CHUNKS]
# Defaults: llama-27m on WikiText-2, 150 chunks (needs ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/bin
SHARED=${LOWBIT_SHARED:-../shared}
MODEL=${1:-$SHARED/models/llama-27m}
TEXT=${2:-$SHARED/data/wikitext2-test.txt}
CHUNKS=${3:-150}
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT

"$BIN/lowbit-translate" --export-gguf --outtype f32 "$MODEL" -o "$OUT/model.gguf"
for engine in lowbit llama.cpp; do
  start=$(date +%s.%N)
  if [ $engine = lowbit ]; then
    r=$(OPENBLAS_NUM_THREADS=2 "$BIN/lowbit-run" perplexity --json --protocol p2 --ctx 512 \
          --chunks "$CHUNKS" --file "$TEXT" "$OUT/model.gguf" 2>/dev/null)
    ppl=$(python3 -c 'import json,sys; print("%.4f" % json.loads(sys.argv[1])["perplexity"])' "$r")
  else
    # --fast: node-llama-cpp hands back two logits per position instead of
    # the whole row, so the time is llama.cpp's, not the JS copy's.
    r=$(node test/e2e/llamacpp/llama-perplexity.mjs --fast --model "$OUT/model.gguf" --file "$TEXT" \
          --ctx 512 --chunks "$CHUNKS" 2>/dev/null)
    ppl=$(python3 -c 'import json,sys; print("%.4f" % json.loads(sys.argv[1])["ppl"])' "$r")
  fi
  end=$(date +%s.%N)
  secs=$(python3 -c "print('%.1f' % ($end - $start))")
  eval "t_${engine//./}=$secs"
  printf '%-10s P2 ppl %s  wall %6s s (load + tokenize + evaluate)\n' "$engine" "$ppl" "$secs"
done
python3 -c "print('lowbit / llama.cpp wall-time ratio: %.2f' % ($t_lowbit / $t_llamacpp))"
