#!/usr/bin/env bash
# tiny-5m compiled to an artifact, run by the runtime three ways: the C
# program on the C API (lowbit-generate-c), lowbit-run generate (the C++
# layer) and lowbit-run perplexity / bench. The C API and lowbit-run must
# pick the same greedy ids; perplexity must stay near the interpreter's.
set -euo pipefail
if [[ ! -x "$LOWBIT_BIN/lowbit-compile" ]]; then
  echo "SKIP: $LOWBIT_BIN/lowbit-compile is not built, so there is no artifact to run"
  exit 77
fi
T=$LOWBIT_TMP/runtime-c; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
PROMPT="In the beginning"
"$LOWBIT_BIN/lowbit-compile" "$TINY" --target=native -o "$T/tiny.lbx"

out=$("$LOWBIT_BIN/lowbit-generate-c" "$T/tiny.lbx" "$PROMPT" 16 2)
echo "$out"
c_prompt=$(sed -n 's/^prompt: //p' <<<"$out")
c_ids=$(sed -n 's/^generated: //p' <<<"$out")
[[ -n "$c_ids" ]] || { echo "FAIL: lowbit-generate-c generated nothing"; exit 1; }

ids() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(map(str, d[sys.argv[1]])))' "$1"; }
run=$("$LOWBIT_BIN/lowbit-run" generate --json --threads 2 --prompt "$PROMPT" -n 16 "$T/tiny.lbx")
run_prompt=$(ids prompt_tokens <<<"$run")
run_ids=$(ids tokens <<<"$run")
echo "lowbit-run (artifact):    $run_ids"
interp=$("$LOWBIT_BIN/lowbit-run" generate --json --prompt "$PROMPT" -n 16 "$TINY")
echo "lowbit-run (interpreter): $(ids tokens <<<"$interp")"
if [[ "$c_prompt" != "$run_prompt" || "$c_ids" != "$run_ids" ]]; then
  echo "FAIL: the C API and lowbit-run disagree on the same artifact"
  echo "  C prompt [$c_prompt] ids [$c_ids]"
  echo "  lowbit-run prompt [$run_prompt] ids [$run_ids]"
  exit 1
fi

# One thread and three threads compute the same greedy continuation.
one=$("$LOWBIT_BIN/lowbit-generate-c" "$T/tiny.lbx" "$PROMPT" 16 1 | sed -n 's/^generated: //p')
three=$("$LOWBIT_BIN/lowbit-generate-c" "$T/tiny.lbx" "$PROMPT" 16 3 | sed -n 's/^generated: //p')
[[ "$one" == "$c_ids" && "$three" == "$c_ids" ]] || {
  echo "FAIL: thread counts disagree: 1 [$one] 2 [$c_ids] 3 [$three]"; exit 1; }

# P1 on four windows: the artifact within 2% of the interpreter.
ppl() { "$LOWBIT_BIN/lowbit-run" perplexity --json --protocol p1 --ctx 256 --chunks 4 \
          --file "$TINY/data/heldout.txt" "$@" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])'; }
p_art=$(ppl "$T/tiny.lbx")
p_ref=$(ppl "$TINY")
echo "P1 (ctx 256, 4 windows): artifact $p_art, interpreter $p_ref"
python3 -c "import sys; a,b=$p_art,$p_ref; sys.exit(0 if abs(a-b) <= 0.02*b else 1)" || {
  echo "FAIL: the artifact's perplexity is more than 2% from the interpreter's"; exit 1; }

"$LOWBIT_BIN/lowbit-run" bench -p 64 -n 16 -r 1 "$T/tiny.lbx"
echo "PASS"
