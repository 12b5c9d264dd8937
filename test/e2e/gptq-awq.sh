#!/usr/bin/env bash
# GPTQ and AWQ checkpoints of the bundled model. RTN-quantized IR (several
# bits, group sizes, sym/asym, and an act-order variant with a g_idx) is
# exported with --export-gptq / --export-awq, imported back, and run: the
# re-imported IR, the checkpoint directory itself and a GGUF (f32) made from
# the checkpoint all have the same perplexity as the IR it came from, to
# every printed digit. Inputs the formats cannot hold fail with a clear
# message and leave no directory behind.
set -uo pipefail
T=$LOWBIT_TMP/gptq-awq; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
TEXT=$TINY/data/heldout.txt
B=$LOWBIT_BIN
fails=0

ppl() { "$B/lowbit-run" perplexity --json --protocol p1 --ctx 512 --chunks 16 --file "$TEXT" "$1" 2>/dev/null \
        | python3 -c 'import json,sys; print("%.6f" % json.load(sys.stdin)["perplexity"])'; }

"$B/lowbit-translate" --import-hf "$TINY" -o "$T/tiny.mlir"
# The checkpoints keep unquantized tensors in fp16; tiny-5m is bf16, and 215
# of its tiny values are not fp16 values. Start from fp16 so the comparison
# is exact.
"$B/lowbit-opt" "$T/tiny.mlir" --lowbit-convert-weights="dtype=f16 side-file=$T/f16.safetensors" -o "$T/tiny16.mlir"

# same NAME REFERENCE MODEL...: every MODEL's perplexity equals REFERENCE's.
same() {
  local name=$1 ref=$2; shift 2
  local want got line="" ok=1
  want=$(ppl "$ref")
  for m in "$@"; do
    got=$(ppl "$m")
    line+=" $(basename "$m")=$got"
    [ -n "$got" ] && [ "$got" = "$want" ] || ok=0
  done
  if [ -n "$want" ] && [ $ok -eq 1 ]; then echo "ok   $name: IR $want,$line"
  else echo "FAIL $name: IR $want,$line"; fails=$((fails+1)); fi
}

# roundtrip NAME IR KIND [FLAGS...]: export, re-import, compare.
roundtrip() {
  local name=$1 ir=$2 kind=$3; shift 3
  local dir=$T/$name
  if ! "$B/lowbit-translate" --export-"$kind" "$dir" "$@" "$ir" 2>"$T/$name.log"; then
    echo "FAIL $name: export failed: $(grep -m1 error "$T/$name.log")"; fails=$((fails+1)); return; fi
  if ! "$B/lowbit-translate" --import-hf "$dir" -o "$T/$name.mlir" 2>"$T/$name.log"; then
    echo "FAIL $name: import failed: $(grep -m1 error "$T/$name.log")"; fails=$((fails+1)); return; fi
  same "$name" "$ir" "$T/$name.mlir" "$dir"
}

rtn() { # rtn NAME OPTIONS
  "$B/lowbit-opt" "$T/tiny16.mlir" --lowbit-rtn="$2 side-file=$T/$1.safetensors" -o "$T/$1.mlir" 2>/dev/null
}
rtn w4 "bits=4 group-size=128"
rtn w4sym "bits=4 group-size=64 sym=true"
rtn w8sym "bits=8 group-size=128 sym=true"
rtn w3sym "bits=3 group-size=128 sym=true"
rtn w2 "bits=2 group-size=64"
rtn w4chan "bits=4 group-size=-1"

roundtrip gptq-w4 "$T/w4.mlir" gptq
roundtrip gptq-w4-v2 "$T/w4.mlir" gptq --gptq-format=gptq_v2
roundtrip gptq-w4sym "$T/w4sym.mlir" gptq
roundtrip gptq-w8sym "$T/w8sym.mlir" gptq
roundtrip gptq-w3sym "$T/w3sym.mlir" gptq
roundtrip gptq-w2-v2 "$T/w2.mlir" gptq --gptq-format=gptq_v2
roundtrip gptq-w4chan "$T/w4chan.mlir" gptq
roundtrip awq-w4 "$T/w4.mlir" awq
roundtrip awq-w4sym "$T/w4sym.mlir" awq

# Checkpoints convert into one another: v1 -> v2, AWQ -> GPTQ.
"$B/lowbit-translate" --export-gptq "$T/v1-to-v2" --gptq-format=gptq_v2 "$T/gptq-w4" 2>/dev/null
"$B/lowbit-translate" --export-gptq "$T/awq-to-gptq" "$T/awq-w4" 2>/dev/null
same converted "$T/w4.mlir" "$T/v1-to-v2" "$T/awq-to-gptq"

# IR imported from a GGUF file has q/k rows in llama.cpp's order; its
# checkpoint is byte for byte the one of the Hugging Face route.
"$B/lowbit-translate" --export-gguf --outtype f16 "$TINY" -o "$T/tiny16.gguf" 2>/dev/null
"$B/lowbit-translate" --import-gguf "$T/tiny16.gguf" -o "$T/gguf.mlir"
"$B/lowbit-opt" "$T/gguf.mlir" --lowbit-rtn="bits=4 group-size=128 side-file=$T/gguf-w4.safetensors" -o "$T/gguf-w4.mlir" 2>/dev/null
sed -i "s#lowbit.tokenizer = \"[^\"]*\"#lowbit.tokenizer = \"$TINY/tokenizer.model\"#" "$T/gguf-w4.mlir"
"$B/lowbit-translate" --export-gptq "$T/gguf-route" "$T/gguf-w4.mlir" 2>/dev/null
cmp -s "$T/gguf-route/model.safetensors" "$T/gptq-w4/model.safetensors" \
  && echo "ok   GGUF-imported IR gives the same checkpoint bytes" \
  || { echo "FAIL GGUF-imported IR gives a different checkpoint"; fails=$((fails+1)); }

# The sym 4-bit v1 checkpoint stores every zero as 0x77777777.
python3 - "$T/gptq-w4sym/model.safetensors" <<'PY' || { echo "FAIL v1 sym zero words"; fails=$((fails+1)); }
import json, struct, sys
raw = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]; h = json.loads(raw[8:8+n])
t = h['model.layers.0.self_attn.q_proj.qzeros']; a, b = t['data_offsets']
words = set(struct.unpack(f'<{(b-a)//4}I', raw[8+n+a:8+n+b]))
print(f"ok   v1 sym 4-bit qzeros words: {sorted(hex(w) for w in words)}" if words == {0x77777777} else f"words {words}")
sys.exit(0 if words == {0x77777777} else 1)
PY

# GGUF from a GPTQ checkpoint: the affine weights dequantize exactly to f32
# (the GGUF's q/k rows are in llama.cpp's rope order, which rounds apart in
# the last digits, hence ±1e-4).
if "$B/lowbit-translate" --export-gguf --outtype f32 "$T/gptq-w4" -o "$T/gptq-w4.gguf" 2>/dev/null; then
  a=$(ppl "$T/w4.mlir"); b=$(ppl "$T/gptq-w4.gguf")
  if python3 -c "import sys; sys.exit(0 if abs(float('$a') - float('$b')) <= 1e-4 else 1)" 2>/dev/null; then
    echo "ok   gguf-from-gptq: IR $a, GGUF f32 from the checkpoint $b"
  else echo "FAIL gguf-from-gptq: IR $a, GGUF $b"; fails=$((fails+1)); fi
else echo "FAIL gguf-from-gptq: export failed"; fails=$((fails+1)); fi

# Act-order: every linear of the 4-bit IR gets a g_idx grouping its columns
# in a shuffled order (as GPTQ desc_act does) and act_order = true.
python3 - "$T/w4.safetensors" "$T/gidx.safetensors" <<'PY'
import json, random, struct, sys
raw = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]; h = json.loads(raw[8:8+n])
out, blobs, off = {}, [], 0
rng = random.Random(1)
for name, t in sorted(h.items()):
    if name == '__metadata__' or name.endswith(('.scales', '.zeros')): continue
    rows, cols = t['shape']; G = cols // h[name + '.scales']['shape'][1]
    perm = list(range(cols)); rng.shuffle(perm); g = [0] * cols
    for pos, k in enumerate(perm): g[k] = pos // G
    blob = struct.pack(f'<{cols}i', *g)
    out[name + '.g_idx'] = {'dtype': 'I32', 'shape': [cols], 'data_offsets': [off, off + len(blob)]}
    blobs.append(blob); off += len(blob)
hb = json.dumps(out, separators=(',', ':')).encode(); hb += b' ' * (-len(hb) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(hb)) + hb + b''.join(blobs))
PY
sed -e 's/act_order = false/act_order = true/g' \
    -e "s#\"$T/w4.safetensors\"\]#\"$T/w4.safetensors\", \"$T/gidx.safetensors\"]#" "$T/w4.mlir" > "$T/w4act.mlir"
roundtrip gptq-w4-act-order "$T/w4act.mlir" gptq
grep -q '"desc_act": true' "$T/gptq-w4-act-order/config.json" \
  && echo "ok   act-order checkpoint says desc_act = true" \
  || { echo "FAIL act-order checkpoint lacks desc_act = true"; fails=$((fails+1)); }
a=$(ppl "$T/w4.mlir"); b=$(ppl "$T/w4act.mlir")
[ "$a" != "$b" ] && echo "ok   g_idx is honoured (w4 $a, shuffled groups $b)" \
  || { echo "FAIL g_idx ignored: same perplexity $a"; fails=$((fails+1)); }

# An asymmetric zero of 0 fits GPTQ v2 but not v1 (whose fields hold zero - 1).
python3 - "$T/w4.safetensors" "$T/zero0.safetensors" <<'PY'
import json, struct, sys
raw = bytearray(open(sys.argv[1], 'rb').read()); n = struct.unpack('<Q', raw[:8])[0]; h = json.loads(raw[8:8+n])
a = h['model.layers.1.mlp.up_proj.weight.zeros']['data_offsets'][0]
raw[8+n+a:8+n+a+4] = struct.pack('<f', 0.0)
open(sys.argv[2], 'wb').write(raw)
PY
sed "s#$T/w4.safetensors#$T/zero0.safetensors#" "$T/w4.mlir" > "$T/zero0.mlir"
roundtrip gptq-zero0-v2 "$T/zero0.mlir" gptq --gptq-format=gptq_v2

# --- inputs the formats cannot hold ------------------------------------------
# expect_error NAME PATTERN -- command...: fails, says PATTERN, leaves no
# $T/out* (the output directory or its temporary).
expect_error() {
  local name=$1 pattern=$2; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; fails=$((fails+1)); rm -rf "$T"/out*; return; fi
  if ! grep -qE -- "$pattern" <<<"$err"; then
    echo "FAIL $name: message does not match /$pattern/: $err"; fails=$((fails+1)); return; fi
  if ls -d "$T"/out* >/dev/null 2>&1; then
    echo "FAIL $name: output left behind: $(ls -d "$T"/out*)"; fails=$((fails+1)); rm -rf "$T"/out*; return; fi
  if grep -qiE 'stack dump|segmentation|assert' <<<"$err"; then
    echo "FAIL $name: crashed: $err"; fails=$((fails+1)); return; fi
  echo "ok   $name: $(grep -m1 error <<<"$err")"
}
X="$B/lowbit-translate"
expect_error awq-3bit '3-bit codes; AWQ GEMM checkpoints store 4-bit codes only' -- $X --export-awq "$T/out" "$T/w3sym.mlir"
expect_error awq-act-order 'act-order .*AWQ has contiguous groups only' -- $X --export-awq "$T/out" "$T/w4act.mlir"
expect_error float-model 'is not quantized; .*run a quantization pass first' -- $X --export-gptq "$T/out" "$T/tiny.mlir"
expect_error float-model-awq 'is not quantized; .*run a quantization pass first' -- $X --export-awq "$T/out" "$TINY"
sed 's/group_size = 128/group_size = 64/g' "$T/w4.mlir" > "$T/badgroup.mlir"
expect_error bad-group "scales' of shape \[256, 4\]" -- $X --export-gptq "$T/out" "$T/badgroup.mlir"
expect_error v1-zero-0 'zero point 0.*use the "gptq_v2" format' -- $X --export-gptq "$T/out" "$T/zero0.mlir"
expect_error bad-gptq-format "--gptq-format must be gptq or gptq_v2, not 'v3'" -- $X --export-gptq "$T/out" --gptq-format=v3 "$T/w4.mlir"
mkdir -p "$T/out-existing"; touch "$T/out-existing/keep"
err=$($X --export-gptq "$T/out-existing" "$T/w4.mlir" 2>&1 >/dev/null)
if [ $? -ne 0 ] && grep -q "already exists and is not an empty directory" <<<"$err" && [ "$(ls "$T/out-existing")" = keep ]; then
  echo "ok   existing directory: $(grep -m1 error <<<"$err")"; rm -rf "$T/out-existing"
else echo "FAIL existing directory: $err"; fails=$((fails+1)); fi

# Damaged checkpoints are refused on import, naming the file and tensor.
cp -r "$T/gptq-w4" "$T/damaged"
python3 - "$T/damaged/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n])
h['model.layers.0.self_attn.q_proj.g_idx']['dtype'] = 'F32'
hb = json.dumps(h).encode(); hb += b' ' * (-len(hb) % 8)
open(p, 'wb').write(struct.pack('<Q', len(hb)) + hb + b[8+n:])
PY
expect_error damaged-g_idx "model.safetensors: model.layers.0.self_attn.q_proj: tensor '.*g_idx' must be int32" -- $X --import-hf "$T/damaged" -o "$T/out.mlir"
expect_error import-to-stdout 'quantized checkpoint; .*give -o FILE or --side-file FILE' -- $X --import-hf "$T/gptq-w4"
ls -d "$T"/*.tmp-* >/dev/null 2>&1 && { echo "FAIL temporary directories left: $(ls -d "$T"/*.tmp-*)"; fails=$((fails+1)); }
[ $fails -eq 0 ]
