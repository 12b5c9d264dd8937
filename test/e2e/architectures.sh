#!/usr/bin/env bash
# Tied embeddings, Qwen2 (q/k/v biases, rotate-half rope in GGUF) and Mistral
# variants of the bundled model: each runs in lowbit, exports to GGUF, and the
# real llama.cpp agrees with us on that file (greedy tokens and perplexity).
set -euo pipefail
H=$LOWBIT_E2E/llamacpp
T=$LOWBIT_TMP/architectures; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
TEXT=$TINY/data/heldout.txt
fails=0
for kind in tied qwen2 mistral; do
  python3 "$LOWBIT_E2E/make-variant.py" "$TINY" "$T/$kind" $kind
  "$LOWBIT_BIN/lowbit-translate" --export-gguf --outtype f32 "$T/$kind" -o "$T/$kind.gguf"
  hf=$("$LOWBIT_BIN/lowbit-run" perplexity --json --protocol p2 --chunks 20 --file "$TEXT" "$T/$kind" 2>/dev/null)
  ours=$("$LOWBIT_BIN/lowbit-run" perplexity --json --protocol p2 --chunks 20 --file "$TEXT" "$T/$kind.gguf" 2>/dev/null)
  theirs=$(node "$H/llama-perplexity.mjs" --model "$T/$kind.gguf" --file "$TEXT" --chunks 20 2>/dev/null)
  gen=$("$LOWBIT_BIN/lowbit-run" generate --json --ignore-eos --prompt "And the LORD said" -n 20 "$T/$kind.gguf" 2>/dev/null)
  ids=$(python3 -c 'import json,sys; print(",".join(map(str, json.loads(sys.argv[1])["prompt_tokens"])))' "$gen")
  lgen=$(node "$H/llama-generate.mjs" --model "$T/$kind.gguf" --tokens "$ids" -n 20 2>/dev/null)
  python3 - "$kind" "$hf" "$ours" "$theirs" "$gen" "$lgen" <<'PY' || fails=$((fails+1))
import json, sys
kind = sys.argv[1]
hf, ours, theirs, gen, lgen = (json.loads(a) for a in sys.argv[2:])
ok = abs(hf["perplexity"] - ours["perplexity"]) < 1e-3 and abs(ours["perplexity"] - theirs["ppl"]) <= 0.02
same = sum(1 for a, b in zip(gen["tokens"], lgen["tokens"]) if a == b)
ok &= gen["tokens"] == lgen["tokens"]
print(f"{kind:8s} P2(20 chunks) hf {hf['perplexity']:.4f}  our gguf {ours['perplexity']:.4f}  "
      f"llama.cpp {theirs['ppl']:.4f}  greedy {same}/20  {'ok' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
PY
done
[ $fails -eq 0 ]
