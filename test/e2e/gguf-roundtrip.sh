#!/usr/bin/env bash
# GGUF export -> our executor: the exported file gives the same perplexity as
# the Hugging Face directory it came from (P2 on the bundled model), for every
# export type; importing the GGUF back to IR and re-exporting changes nothing.
set -euo pipefail
T=$LOWBIT_TMP/gguf-roundtrip; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
TEXT=$TINY/data/heldout.txt
ppl() { "$LOWBIT_BIN/lowbit-run" perplexity --json --protocol p2 --ctx 512 --file "$TEXT" "$1" 2>/dev/null \
        | python3 -c 'import json,sys; print("%.6f" % json.load(sys.stdin)["perplexity"])'; }
close() { python3 -c "import sys; a,b,t=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b)<=t else 1)" "$@"; }

hf=$(ppl "$TINY"); echo "hf dir:            $hf"
fails=0
for type in f32 bf16 f16 q8_0; do
  "$LOWBIT_BIN/lowbit-translate" --export-gguf --outtype $type "$TINY" -o "$T/tiny-$type.gguf"
  p=$(ppl "$T/tiny-$type.gguf")
  tol=0.0005; [ $type = f16 ] && tol=0.01; [ $type = q8_0 ] && tol=0.05
  if close "$p" "$hf" $tol; then s=ok; else s=MISMATCH; fails=$((fails+1)); fi
  printf '%-5s gguf %12s bytes  ppl %s (hf %s, tol %s) %s\n' $type "$(stat -c %s "$T/tiny-$type.gguf")" "$p" "$hf" $tol $s
done

# GGUF -> IR -> perplexity, and GGUF -> GGUF re-export keeps every tensor byte.
"$LOWBIT_BIN/lowbit-translate" --import-gguf "$T/tiny-f32.gguf" -o "$T/tiny-f32.mlir"
p=$(ppl "$T/tiny-f32.mlir"); echo "imported IR:       $p"
close "$p" "$hf" 0.0005 || { echo "MISMATCH imported IR"; fails=$((fails+1)); }
cp "$T/tiny-f32.gguf" "$T/tiny-copy.gguf"
"$LOWBIT_BIN/lowbit-translate" --export-gguf --outtype f32 "$T/tiny-copy.gguf" -o "$T/tiny-again.gguf"
"$LOWBIT_BIN/lowbit-translate" --export-gguf --outtype q8_0 "$T/tiny-q8_0.gguf" -o "$T/tiny-q8_0-again.gguf"
python3 - "$T/tiny-f32.gguf" "$T/tiny-again.gguf" "$T/tiny-q8_0.gguf" "$T/tiny-q8_0-again.gguf" <<'PY' || fails=$((fails+1))
import sys
# Same size and same tensor bytes (general.name differs, so compare the tails).
for a, b in [(sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])]:
    x, y = open(a, 'rb').read(), open(b, 'rb').read()
    n = 10_000_00 if len(x) > 10_000_00 else len(x) // 2
    ok = x[-n:] == y[-n:]
    print(f"re-export {b.split('/')[-1]}: {'identical tensor data' if ok else 'DIFFERS'}")
    if not ok: sys.exit(1)
PY
[ $fails -eq 0 ]
