#!/usr/bin/env bash
# usage: check-perplexity.sh EXPECTED TOLERANCE [EXPECTED_WINDOWS EXPECTED_SCORED] -- lowbit-run perplexity args...
# Runs lowbit-run perplexity --json and checks the result against the anchor.
set -euo pipefail
expected=$1 tol=$2; shift 2
windows="" scored=""
if [ "$1" != "--" ]; then windows=$1 scored=$2; shift 2; fi
shift # --
out=$("$LOWBIT_BIN/lowbit-run" perplexity --json "$@")
echo "$out"
python3 - "$out" "$expected" "$tol" "$windows" "$scored" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); exp = float(sys.argv[2]); tol = float(sys.argv[3])
ok = abs(r["perplexity"] - exp) <= tol
print(f"perplexity {r['perplexity']:.4f}, anchor {exp} ± {tol}: {'ok' if ok else 'MISMATCH'}")
if sys.argv[4]:
    ok &= r["windows"] == int(sys.argv[4]) and r["scored_tokens"] == int(sys.argv[5])
    print(f"windows {r['windows']} (want {sys.argv[4]}), scored {r['scored_tokens']} (want {sys.argv[5]})")
sys.exit(0 if ok else 1)
PY
