#!/usr/bin/env bash
# The real llama.cpp (node-llama-cpp's prebuilt library) loads our GGUF export
# of the bundled model; its greedy continuation equals ours token for token
# (F32), and its perplexity on our file equals ours. Q8_0 agreement is reported.
set -euo pipefail
H=$LOWBIT_E2E/llamacpp
if [ ! -d "$H/node_modules/node-llama-cpp" ]; then
  echo "node-llama-cpp is not installed (run scripts/setup.sh)"; exit 1
fi
T=$LOWBIT_TMP/llamacpp; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
for type in f32 q8_0; do
  "$LOWBIT_BIN/lowbit-translate" --export-gguf --outtype $type "$TINY" -o "$T/tiny-$type.gguf"
done

fails=0
prompts=("In the beginning God created" "And the LORD spake unto Moses, saying" "The meaning of the word")
for type in f32 q8_0; do
  agree=0 total=0
  for p in "${prompts[@]}"; do
    ours=$("$LOWBIT_BIN/lowbit-run" generate --json --ignore-eos --prompt "$p" -n 20 "$T/tiny-$type.gguf" 2>/dev/null)
    ids=$(python3 -c 'import json,sys; print(",".join(map(str, json.loads(sys.argv[1])["prompt_tokens"])))' "$ours")
    theirs=$(node "$H/llama-generate.mjs" --model "$T/tiny-$type.gguf" --tokens "$ids" -n 20 2>/dev/null)
    read -r same n <<<"$(python3 - "$ours" "$theirs" <<'PY'
import json, sys
a = json.loads(sys.argv[1])["tokens"]; b = json.loads(sys.argv[2])["tokens"]
n = min(len(a), len(b)); same = 0
while same < n and a[same] == b[same]: same += 1
print(same, n)
PY
)"
    agree=$((agree+same)); total=$((total+n))
    echo "$type  prompt '$p': $same/$n tokens identical"
    if [ $type = f32 ] && { [ "$same" != "$n" ] || [ "$n" != 20 ]; }; then
      echo "  ours:   $ours"; echo "  theirs: $theirs"; fails=$((fails+1)); fi
  done
  echo "$type: llama.cpp and lowbit agree on $agree/$total greedy tokens"
done

# Perplexity, protocol P2, whole held-out text: llama.cpp on our F32 file vs our executor.
ours=$("$LOWBIT_BIN/lowbit-run" perplexity --json --protocol p2 --ctx 512 --file "$TINY/data/heldout.txt" "$T/tiny-f32.gguf" 2>/dev/null)
theirs=$(node "$H/llama-perplexity.mjs" --model "$T/tiny-f32.gguf" --file "$TINY/data/heldout.txt" --ctx 512 2>/dev/null)
python3 - "$ours" "$theirs" <<'PY' || fails=$((fails+1))
import json, sys
a = json.loads(sys.argv[1]); b = json.loads(sys.argv[2])
print(f"P2 perplexity of our F32 GGUF: lowbit {a['perplexity']:.4f}, llama.cpp {b['ppl']:.4f} (anchor 32.1885)")
sys.exit(0 if abs(a['perplexity'] - b['ppl']) <= 0.02 and abs(b['ppl'] - 32.1885) <= 0.02 else 1)
PY
[ $fails -eq 0 ]
