#!/usr/bin/env bash
# Compiled artifacts (.lbx) of the bundled model, run by the runtime:
#  1. every GGUF type: P2 perplexity within ±0.02 of llama.cpp's on the same GGUF;
#  2. Q8_0 and Q4_K_M: the same 32 greedy tokens as llama.cpp (or, past a near
#     tie after at least 16, those of the interpreter with its rounding);
#  3. every other weight format the IR holds (affine RTN and act-order GPTQ,
#     NF4/FP4 with double quantization, LLM.int8, f16, bf16): P1 and P2 within
#     0.3% of the IR interpreter's on the same IR;
#  4. both CPU targets where the CPU has them, and clear errors on bad input.
set -euo pipefail
H=$LOWBIT_E2E/llamacpp
T=$LOWBIT_TMP/compile; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
TEXT=$TINY/data/heldout.txt
CHUNKS=${CHUNKS:-12}   # for the comparisons with the interpreter
fails=0
target=native

ppl() { "$LOWBIT_BIN/lowbit-run" perplexity --json --protocol "$1" --chunks "${3:-$CHUNKS}" --file "$TEXT" "$2" 2>/dev/null; }
compare() { # label ours theirs tolerance(abs|rel) value
  python3 - "$@" <<'PY'
import json, sys
label, a, b, kind, tol = sys.argv[1], json.loads(sys.argv[2])["perplexity"], json.loads(sys.argv[3]), sys.argv[4], float(sys.argv[5])
b = b.get("ppl", b.get("perplexity"))
d = abs(a - b) if kind == "abs" else abs(a - b) / b
ok = d <= tol
print(f"{label:28s} artifact {a:.4f}  reference {b:.4f}  diff {d:.4g} (<= {tol:g} {kind})  {'ok' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
PY
}

# 1. GGUF types against llama.cpp, P2 over the whole held-out text (66
# windows: on the first dozen the two differ by up to 0.04 through float
# rounding order alone, over the whole text by at most 0.007).
for type in f32 f16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k_m q4_k_m q5_k_m q6_k; do
  "$LOWBIT_BIN/lowbit-translate" --export-gguf --outtype $type "$TINY" -o "$T/$type.gguf" 2>/dev/null
  "$LOWBIT_BIN/lowbit-compile" "$T/$type.gguf" --target=$target -o "$T/$type.lbx" 2>/dev/null
  theirs=$(node "$H/llama-perplexity.mjs" --fast --model "$T/$type.gguf" --file "$TEXT" 2>/dev/null) || theirs='{"ppl": -1}'
  compare "gguf $type vs llama.cpp" "$(ppl p2 "$T/$type.lbx" 66)" "$theirs" abs 0.02 || fails=$((fails+1))
done

# 2. Greedy generation against llama.cpp: the same 32 tokens, or, where the
# two part on a near tie, the same tokens up to there (at least 16) and
# after it the IR interpreter's with llama.cpp's activation rounding
# (--activations=ggml), the exact reference of that arithmetic.
for type in q8_0 q4_k_m; do
  prompt="In the beginning God created"
  ours=$("$LOWBIT_BIN/lowbit-run" generate --json --ignore-eos --prompt "$prompt" -n 32 "$T/$type.lbx" 2>/dev/null)
  ids=$(python3 -c 'import json,sys; print(",".join(map(str, json.loads(sys.argv[1])["prompt_tokens"])))' "$ours")
  theirs=$(node "$H/llama-generate.mjs" --model "$T/$type.gguf" --tokens "$ids" -n 32 2>/dev/null)
  interp=$("$LOWBIT_BIN/lowbit-run" generate --json --ignore-eos --activations=ggml --prompt "$prompt" -n 32 "$T/$type.gguf" 2>/dev/null)
  python3 - "$type" "$ours" "$theirs" "$interp" <<'PY' || fails=$((fails+1))
import json, sys
a, b, c = (json.loads(x)["tokens"] for x in sys.argv[2:5])
same = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
if a == b and len(a) == 32:
    print(f"generate {sys.argv[1]}: the same 32 tokens as llama.cpp")
    sys.exit(0)
ok = len(a) == 32 and same >= 16 and a == c
print(f"generate {sys.argv[1]}: the same first {same} tokens as llama.cpp, then "
      + ("the interpreter's (llama.cpp rounding) tokens: a near tie" if ok else
         f"DIFFERS: {a} vs llama.cpp {b} and interpreter {c}"))
sys.exit(0 if ok else 1)
PY
done

# 3. IR formats against the interpreter.
OPT=$LOWBIT_BIN/lowbit-opt
"$LOWBIT_BIN/lowbit-translate" --import-hf "$TINY" -o "$T/tiny.mlir"
CAL=$TINY/data/calib.txt
"$OPT" "$T/tiny.mlir" --lowbit-rtn="bits=4 group-size=128 side-file=$T/rtn4.safetensors" -o "$T/rtn4.mlir" 2>/dev/null
"$OPT" "$T/tiny.mlir" --lowbit-rtn="bits=8 group-size=64 side-file=$T/rtn8.safetensors" -o "$T/rtn8.mlir" 2>/dev/null
"$OPT" "$T/tiny.mlir" --lowbit-rtn="bits=3 group-size=32 side-file=$T/rtn3.safetensors" -o "$T/rtn3.mlir" 2>/dev/null
"$OPT" "$T/tiny.mlir" --lowbit-gptq="file=$CAL bits=4 group-size=64 act-order=true side-file=$T/gptq.safetensors" -o "$T/gptq.mlir" 2>/dev/null
"$OPT" "$T/tiny.mlir" --lowbit-bnb-4bit="quant-type=nf4 double-quant=true side-file=$T/nf4.safetensors" -o "$T/nf4.mlir" 2>/dev/null
"$OPT" "$T/tiny.mlir" --lowbit-bnb-4bit="quant-type=fp4 side-file=$T/fp4.safetensors" -o "$T/fp4.mlir" 2>/dev/null
"$OPT" "$T/tiny.mlir" --lowbit-calibrate="file=$CAL windows=16 output=$T/stats.pb" -o "$T/cal.mlir" 2>/dev/null
"$OPT" "$T/cal.mlir" --lowbit-llm-int8="threshold=1.0 side-file=$T/int8.safetensors" -o "$T/int8.mlir" 2>/dev/null
"$OPT" "$T/tiny.mlir" --lowbit-convert-weights="dtype=f16 side-file=$T/f16.safetensors" -o "$T/f16.mlir" 2>/dev/null
for ir in rtn4 rtn8 rtn3 gptq nf4 fp4 int8 f16 tiny; do
  "$LOWBIT_BIN/lowbit-compile" "$T/$ir.mlir" --target=$target -o "$T/$ir.lbx" 2>/dev/null
  for p in p1 p2; do
    compare "$ir $p vs interpreter" "$(ppl $p "$T/$ir.lbx")" "$(ppl $p "$T/$ir.mlir")" rel 0.003 ||
      fails=$((fails+1))
  done
done

# Tied embeddings, Qwen2 (q/k/v biases) and Mistral variants, from the Hugging
# Face directory and from its GGUF.
for kind in tied qwen2 mistral; do
  python3 "$LOWBIT_E2E/make-variant.py" "$TINY" "$T/$kind" $kind
  "$LOWBIT_BIN/lowbit-translate" --export-gguf --outtype q8_0 "$T/$kind" -o "$T/$kind.gguf" 2>/dev/null
  for src in "$T/$kind" "$T/$kind.gguf"; do
    "$LOWBIT_BIN/lowbit-compile" "$src" --target=$target -o "$T/variant.lbx" 2>/dev/null
    label=hf; [[ $src == *.gguf ]] && label=gguf
    compare "$kind $label p2 vs interpreter" "$(ppl p2 "$T/variant.lbx")" "$(ppl p2 "$src")" rel 0.003 ||
      fails=$((fails+1))
  done
done

# 4. Both targets where this CPU runs them.
for t in x86-64-v3 x86-64-v4; do
  if [ $t = x86-64-v4 ] && ! grep -qw avx512_vnni /proc/cpuinfo; then
    echo "x86-64-v4: this CPU lacks AVX-512 VNNI, skipped"; continue; fi
  "$LOWBIT_BIN/lowbit-compile" "$T/q4_k_m.gguf" --target=$t -o "$T/q4_k_m-$t.lbx" 2>/dev/null
  compare "q4_k_m $t vs native" "$(ppl p2 "$T/q4_k_m-$t.lbx")" "$(ppl p2 "$T/q4_k_m.lbx")" abs 0.02 ||
    fails=$((fails+1))
done

# Bad input: each fails with a message naming the problem, no crash, no output.
expect_error() { # pattern command...
  local pattern=$1; shift
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [ $rc -ge 1 ] && [ $rc -lt 128 ] && grep -qi -- "$pattern" <<<"$out"; then
    echo "bad input ok: $pattern"
  else
    echo "BAD INPUT NOT REPORTED (rc $rc, want '$pattern'): $out"; fails=$((fails+1))
  fi
}
head -c 100000 "$T/q8_0.lbx" > "$T/truncated.lbx"
expect_error "truncated" "$LOWBIT_BIN/lowbit-run" generate --prompt hi -n 2 "$T/truncated.lbx"
expect_error "token id" "$LOWBIT_BIN/lowbit-run" generate --prompt-tokens 1,99999 -n 2 "$T/q8_0.lbx"
expect_error "target" "$LOWBIT_BIN/lowbit-compile" "$T/q8_0.gguf" --target=armv9 -o "$T/bad.lbx"
[ ! -e "$T/bad.lbx" ] || { echo "a failed compile left $T/bad.lbx"; fails=$((fails+1)); }

echo "compile: $fails failure(s)"
[ "$fails" = 0 ]
