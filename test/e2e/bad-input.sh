#!/usr/bin/env bash
# Corrupt and unsupported inputs: each must fail with a clear message naming
# the file and the problem, a non-zero exit, and no output file left behind.
set -uo pipefail
T=$LOWBIT_TMP/bad-input; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
fails=0

# expect_error NAME PATTERN -- command...: the command must fail, its stderr
# must match PATTERN (extended regex), and $T/out.* must not exist.
expect_error() {
  local name=$1 pattern=$2; shift 3
  rm -f "$T"/out.*
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; fails=$((fails+1)); return; fi
  if ! grep -qE -- "$pattern" <<<"$err"; then
    echo "FAIL $name: message does not match /$pattern/: $err"; fails=$((fails+1)); return; fi
  if ls "$T"/out.* >/dev/null 2>&1; then
    echo "FAIL $name: output left behind: $(ls "$T"/out.*)"; fails=$((fails+1)); return; fi
  if grep -qiE 'stack dump|segmentation|assert' <<<"$err"; then
    echo "FAIL $name: crashed: $err"; fails=$((fails+1)); return; fi
  echo "ok   $name: $(head -1 <<<"$err")"
}

model_copy() { # a writable copy of tiny-5m whose files can be damaged
  rm -rf "$T/$1"; mkdir -p "$T/$1"; cp "$TINY"/*.json "$TINY"/tokenizer.model "$T/$1"/
  cp "$TINY/model.safetensors" "$T/$1/"
}

# --- safetensors -----------------------------------------------------------
model_copy trunc; truncate -s 5000000 "$T/trunc/model.safetensors"
expect_error truncated-safetensors 'trunc/model.safetensors: .*(outside|truncated)' -- \
  "$LOWBIT_BIN/lowbit-translate" --export-gguf "$T/trunc" -o "$T/out.gguf"

# edit_first_tensor FILE PYTHON: rewrites the header entry of the first tensor
# (by name) of a safetensors file with PYTHON acting on dict `t`.
edit_first_tensor() {
  python3 - "$1" "$2" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n])
t = h[sorted(k for k in h if k != '__metadata__')[0]]
exec(sys.argv[2])
hb = json.dumps(h).encode(); hb += b' ' * (-len(hb) % 8)
open(p, 'wb').write(struct.pack('<Q', len(hb)) + hb + b[8+n:])
PY
}

model_copy offsets
edit_first_tensor "$T/offsets/model.safetensors" "t['data_offsets'] = [o + 2**40 for o in t['data_offsets']]"
expect_error offsets-outside-file 'offsets/model.safetensors: tensor .*outside' -- \
  "$LOWBIT_BIN/lowbit-translate" --import-hf "$T/offsets" -o "$T/out.mlir"

model_copy dtype
edit_first_tensor "$T/dtype/model.safetensors" "t['dtype'] = 'Q9'"
expect_error unknown-dtype "dtype/model.safetensors: tensor .*unknown dtype 'Q9'" -- \
  "$LOWBIT_BIN/lowbit-translate" --import-hf "$T/dtype" -o "$T/out.mlir"

# --- config.json and tokenizer ---------------------------------------------
model_copy nokeys
python3 - "$T/nokeys/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); del c['hidden_size']; json.dump(c, open(sys.argv[1], 'w'))
PY
expect_error config-missing-key "nokeys/config.json: missing required key 'hidden_size'" -- \
  "$LOWBIT_BIN/lowbit-run" perplexity --file "$TINY/data/heldout.txt" "$T/nokeys"

model_copy arch
python3 - "$T/arch/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c['model_type'] = 'gpt2'; json.dump(c, open(sys.argv[1], 'w'))
PY
expect_error unsupported-architecture "arch/config.json: unsupported architecture 'gpt2'" -- \
  "$LOWBIT_BIN/lowbit-translate" --import-hf "$T/arch" -o "$T/out.mlir"

# A tokenizer.model with more pieces than the model's vocab_size (4096).
model_copy vocab
python3 - "$T/vocab/tokenizer.model" <<'PY'
import struct, sys
extra = b''
for i in range(10):
    text = f'extra{i}'.encode()
    piece = b'\x0a' + bytes([len(text)]) + text + b'\x15' + struct.pack('<f', -1e4)
    extra += b'\x0a' + bytes([len(piece)]) + piece
data = open(sys.argv[1], 'rb').read()
open(sys.argv[1], 'wb').write(extra + data)
PY
expect_error tokenizer-vocab-mismatch "vocab/tokenizer.model: tokenizer has 4106 pieces but the model's vocab_size is 4096" -- \
  "$LOWBIT_BIN/lowbit-translate" --export-gguf "$T/vocab" -o "$T/out.gguf"

# Weights whose shapes disagree with config.json.
model_copy shapes
python3 - "$T/shapes/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c['vocab_size'] = 5000; json.dump(c, open(sys.argv[1], 'w'))
PY
expect_error weight-shape-mismatch "shapes/model.safetensors: tensor 'model.embed_tokens.weight' has shape \\[4096, 256\\], expected \\[5000, 256\\]" -- \
  "$LOWBIT_BIN/lowbit-run" perplexity --file "$TINY/data/heldout.txt" "$T/shapes"

# --- GGUF ------------------------------------------------------------------
python3 - "$T" <<'PY'
import struct, sys
d = sys.argv[1]
def s(x): return struct.pack('<Q', len(x)) + x
def header(magic=b'GGUF', version=3, ntensors=1, nkv=0):
    return magic + struct.pack('<IQQ', version, ntensors, nkv)
def tinfo(name, dims, typ, off):
    return s(name) + struct.pack('<I', len(dims)) + b''.join(struct.pack('<Q', x) for x in dims) + struct.pack('<IQ', typ, off)
def pad(b, a=32): return b + b'\0' * (-len(b) % a)
good = pad(header() + tinfo(b'token_embd.weight', [32, 1], 0, 0)) + b'\0' * 128
open(f'{d}/magic.gguf', 'wb').write(b'GGUX' + good[4:])
open(f'{d}/count.gguf', 'wb').write(header(ntensors=2**60) + good[24:])
open(f'{d}/align.gguf', 'wb').write(pad(header() + tinfo(b'token_embd.weight', [32, 1], 0, 4)) + b'\0' * 128)
PY
expect_error gguf-wrong-magic 'magic.gguf: .*magic' -- \
  "$LOWBIT_BIN/lowbit-translate" --import-gguf "$T/magic.gguf" -o "$T/out.mlir"
expect_error gguf-absurd-tensor-count 'count.gguf: .*(tensor count|tensors)' -- \
  "$LOWBIT_BIN/lowbit-translate" --import-gguf "$T/count.gguf" -o "$T/out.mlir"
expect_error gguf-misaligned-offset 'align.gguf: .*(align|offset)' -- \
  "$LOWBIT_BIN/lowbit-translate" --import-gguf "$T/align.gguf" -o "$T/out.mlir"

# --- options -----------------------------------------------------------------
expect_error bad-outtype "--outtype: unknown GGUF type" -- \
  "$LOWBIT_BIN/lowbit-translate" --export-gguf --outtype q3_x "$TINY" -o "$T/out.gguf"
expect_error bad-protocol "--protocol must be p1 or p2" -- \
  "$LOWBIT_BIN/lowbit-run" perplexity --protocol p3 --file "$TINY/data/heldout.txt" "$TINY"
expect_error missing-model "nope: no such file" -- \
  "$LOWBIT_BIN/lowbit-run" generate --prompt hi "$T/nope"

echo "$fails failed"
[ $fails -eq 0 ]
