#!/usr/bin/env bash
# Importance-matrix quantization of the bundled model: --lowbit-calibrate
# collects llama.cpp's imatrix (also written as a llama.cpp .dat file), the
# imatrix-weighted Q2_K is better than the plain one, llama.cpp runs the file
# and agrees with us (±0.03: Q2_K is where our fp32 matmuls and its integer
# dot products drift most), and an imatrix of another model is refused.
set -euo pipefail
H=$LOWBIT_E2E/llamacpp
T=$LOWBIT_TMP/imatrix; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
TEXT=$TINY/data/heldout.txt
B=$LOWBIT_BIN
"$B/lowbit-translate" --import-hf "$TINY" -o "$T/tiny.mlir"
"$B/lowbit-opt" "$T/tiny.mlir" --lowbit-calibrate="file=$TINY/data/calib.txt windows=64 hessian=false output=$T/stats.pb imatrix-output=$T/imatrix.dat" -o "$T/cal.mlir" 2>/dev/null

ppl() { "$B/lowbit-run" perplexity --json --activations ggml --protocol p2 --file "$TEXT" "$1" 2>/dev/null \
        | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["perplexity"])'; }
fails=0
for source in none stats.pb imatrix.dat; do
  opt=""; [ $source != none ] && opt=" imatrix=$T/$source"
  "$B/lowbit-opt" "$T/cal.mlir" --lowbit-gguf-quantize="ftype=q2_k side-file=$T/side-$source.gguf$opt" -o "$T/q-$source.mlir" 2>/dev/null
  "$B/lowbit-translate" --export-gguf "$T/q-$source.mlir" -o "$T/q2_k-$source.gguf" 2>/dev/null
  eval "p_${source//./_}=$(ppl "$T/q2_k-$source.gguf")"
done
echo "Q2_K P2: no imatrix $p_none, imatrix from stats.pb $p_stats_pb, from imatrix.dat $p_imatrix_dat"
python3 -c "import sys; a,b,c=map(float,sys.argv[1:]); sys.exit(0 if b < a and abs(b-c) < 1e-3 else 1)" \
  "$p_none" "$p_stats_pb" "$p_imatrix_dat" || { echo "MISMATCH: imatrix did not help or the two sources differ"; fails=$((fails+1)); }
theirs=$(node "$H/llama-perplexity.mjs" --fast --model "$T/q2_k-imatrix.dat.gguf" --file "$TEXT" 2>/dev/null \
         | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["ppl"])')
echo "llama.cpp on our imatrix Q2_K file: $theirs (ours $p_imatrix_dat)"
python3 -c "import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b) <= 0.03 else 1)" "$theirs" "$p_imatrix_dat" \
  || { echo "MISMATCH with llama.cpp"; fails=$((fails+1)); }

# An imatrix whose widths do not fit this model, and a stats file of another shape.
python3 - "$T/other.dat" <<'PY'
import struct, sys
name = b'blk.0.attn_q.weight'
data = struct.pack('<i', 1) + struct.pack('<i', len(name)) + name + struct.pack('<ii', 1, 10) + struct.pack('<10f', *[1.0] * 10)
open(sys.argv[1], 'wb').write(data + struct.pack('<ii', 1, 0))
PY
if err=$("$B/lowbit-opt" "$T/cal.mlir" --lowbit-gguf-quantize="ftype=q2_k side-file=$T/out.gguf imatrix=$T/other.dat" 2>&1 >/dev/null); then
  echo "FAIL: mismatched imatrix accepted"; fails=$((fails+1))
elif grep -q "importance vector has 10 values (an imatrix for a different model?)" <<<"$err" && [ ! -e "$T/out.gguf" ]; then
  echo "ok   mismatched imatrix: $(grep -m1 error <<<"$err")"
else
  echo "FAIL: unexpected message or output left: $err"; fails=$((fails+1))
fi
[ $fails -eq 0 ]
