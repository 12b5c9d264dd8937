#!/usr/bin/env bash
# Hostile model files: sizes of zero, negative or absurd, mistyped keys, layer
# counts that disagree with the weights, damaged GGUF metadata and tensor
# tables, NaN/Inf weights and IR whose attributes point outside the model.
# Every value must be checked before anything divides by it or allocates by
# it: each refused command exits non-zero without a signal, names the file
# (or tensor) at fault, leaves no output behind and leaves its inputs
# byte-identical.
set -uo pipefail
# Absolute, since the cases run inside $T.
B=$(cd "$LOWBIT_BIN" && pwd) || exit 1
TINY=$(cd "$LOWBIT_MODELS/tiny-5m" && pwd) || exit 1
T=$LOWBIT_TMP/hostile-files; rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
T=$(pwd)
TEXT=$TINY/data/heldout.txt
fails=0; cases=0

# A regression here means allocating by a hostile value: fail fast instead of
# exhausting the machine. (Sanitizer builds reserve terabytes of address
# space, so they go without the limit.)
if ! grep -q AddressSanitizer "$B/lowbit-translate" 2>/dev/null; then
  LIMIT_KB=${HOSTILE_VMEM_KB:-16000000}
else
  LIMIT_KB=unlimited
fi

# refuse NAME PATTERN INPUTS -- command...: the command must fail (status
# 1..127, within 5 minutes) with stderr matching PATTERN (extended regex); no
# out.* may be left in $T nor any new file; INPUTS (a space-separated list of
# files and directories) must be byte-identical afterwards.
# Address space is capped so an allocation sized by a hostile value fails
# fast. AddressSanitizer reserves terabytes of shadow memory and caps sizes
# itself (max_allocation_size_mb, set by scripts/sanitize.sh), so not there.
limit_memory() {
  if [ -z "${LOWBIT_SANITIZED:-}" ]; then ulimit -v "$LIMIT_KB"; fi
}

refuse() {
  local name=$1 pattern=$2 inputs=$3; shift 4
  cases=$((cases+1))
  rm -f out.*
  local before sums; before=$(ls -A | sort)
  # shellcheck disable=SC2086
  sums=$(find $inputs -type f -print0 | sort -z | xargs -0 sha256sum)
  local err rc
  err=$( (limit_memory; timeout 300 "$@") 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; fails=$((fails+1)); return; fi
  if [ $rc -eq 124 ]; then echo "FAIL $name: timed out"; fails=$((fails+1)); return; fi
  if [ $rc -ge 128 ]; then
    echo "FAIL $name: killed by signal $((rc-128)): $(tail -3 <<<"$err")"; fails=$((fails+1)); return; fi
  if grep -qE 'PLEASE submit|Stack dump|LLVM ERROR|out of memory|Assertion' <<<"$err"; then
    echo "FAIL $name: crash banner: $(head -5 <<<"$err")"; fails=$((fails+1)); return; fi
  if ! grep -qE -- "$pattern" <<<"$err"; then
    echo "FAIL $name: message does not match /$pattern/: $(grep -v '^[a-z0-9 _-]*: [0-9]*/[0-9]*,' <<<"$err" | head -5)"
    fails=$((fails+1)); return; fi
  if ls out.* >/dev/null 2>&1; then
    echo "FAIL $name: output left behind: $(ls out.*)"; fails=$((fails+1)); return; fi
  local after; after=$(ls -A | sort)
  if [ "$before" != "$after" ]; then
    echo "FAIL $name: files appeared: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
    fails=$((fails+1)); return; fi
  # shellcheck disable=SC2086
  if [ "$sums" != "$(find $inputs -type f -print0 | sort -z | xargs -0 sha256sum)" ]; then
    echo "FAIL $name: an input changed"; fails=$((fails+1)); return; fi
  echo "ok   $name: $(grep -E -- "$pattern" <<<"$err" | head -1 | cut -c1-160)"
}

# warns NAME PATTERN -- command...: the command must succeed and print a
# warning matching PATTERN exactly once.
warns() {
  local name=$1 pattern=$2; shift 3
  cases=$((cases+1))
  local err rc
  err=$( (limit_memory; timeout 300 "$@") 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL $name: exit $rc: $(tail -3 <<<"$err")"; fails=$((fails+1)); return; fi
  local n; n=$(grep -cE -- "$pattern" <<<"$err")
  if [ "$n" -ne 1 ]; then
    echo "FAIL $name: warning /$pattern/ printed $n times: $err"; fails=$((fails+1)); return; fi
  echo "ok   $name: $(grep -E -- "$pattern" <<<"$err" | cut -c1-160)"
}

model_copy() { # a writable copy of tiny-5m whose files can be damaged
  rm -rf "$1"; mkdir -p "$1"; cp "$TINY"/*.json "$TINY"/tokenizer.model "$TINY/model.safetensors" "$1"/
}

# config_edit DIR PYTHON: rewrites DIR/config.json with PYTHON acting on dict c.
config_edit() {
  python3 - "$1/config.json" "$2" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
exec(sys.argv[2])
open(p, 'w').write(json.dumps(c))
PY
}

# config_case NAME PYTHON: a copy of tiny-5m named NAME with config.json edited.
config_case() { model_copy "$1"; config_edit "$1" "$2"; }

# tensor_edit FILE NAME PYTHON: rewrites the safetensors header entry of
# tensor NAME with PYTHON acting on dict t (h is the whole header).
tensor_edit() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n])
t = h[sys.argv[2]]
exec(sys.argv[3])
hb = json.dumps(h).encode(); hb += b' ' * (-len(hb) % 8)
open(p, 'wb').write(struct.pack('<Q', len(hb)) + hb + b[8+n:])
PY
}

# poison FILE TENSOR INDEX BITS: sets element INDEX of bf16 tensor TENSOR to
# the bf16 bit pattern BITS (0x7fc0 NaN, 0x7f80 +Inf).
poison() {
  python3 - "$@" <<'PY'
import json, struct, sys
p, name, index, bits = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4], 0)
b = bytearray(open(p, 'rb').read())
n = struct.unpack('<Q', b[:8])[0]; t = json.loads(b[8:8+n])[name]
assert t['dtype'] == 'BF16'
at = 8 + n + t['data_offsets'][0] + 2 * index
b[at:at+2] = struct.pack('<H', bits)
open(p, 'wb').write(b)
PY
}

# A GGUF editor: loads a file into g (version, kv: key -> (type, value),
# tensors: [{name, dims, type, offset}], data, align), runs PYTHON, writes it.
# g['patch'] = [(needle, skip, fmt, value)] overwrites raw bytes after the
# first occurrence of needle, for counts no well-formed file can state.
cat > gguf_edit.py <<'PY'
import struct, sys
SZ = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?',
      10: '<Q', 11: '<q', 12: '<d'}
def load(p):
    b = open(p, 'rb').read(); pos = 24
    ver, nt, nkv = struct.unpack_from('<IQQ', b, 4)
    def rs():
        nonlocal pos
        n, = struct.unpack_from('<Q', b, pos); pos += 8; s = b[pos:pos+n]; pos += n; return s
    def rv(t):
        nonlocal pos
        if t == 8: return rs()
        v, = struct.unpack_from(SZ[t], b, pos); pos += struct.calcsize(SZ[t]); return v
    kv = {}
    for _ in range(nkv):
        k = rs().decode(); t, = struct.unpack_from('<I', b, pos); pos += 4
        if t == 9:
            et, n = struct.unpack_from('<IQ', b, pos); pos += 12
            kv[k] = (9, (et, [rv(et) for _ in range(n)]))
        else:
            kv[k] = (t, rv(t))
    ts = []
    for _ in range(nt):
        name = rs().decode(); nd, = struct.unpack_from('<I', b, pos); pos += 4
        dims = list(struct.unpack_from('<%dQ' % nd, b, pos)); pos += 8 * nd
        ty, off = struct.unpack_from('<IQ', b, pos); pos += 12
        ts.append(dict(name=name, dims=dims, type=ty, offset=off))
    align = kv.get('general.alignment', (4, 32))[1]
    start = (pos + align - 1) // align * align
    return dict(version=ver, kv=kv, tensors=ts, data=b[start:], align=align, patch=[])
def enc(t, v):
    if t == 8: return struct.pack('<Q', len(v)) + v
    if t == 9:
        et, xs = v
        return struct.pack('<IQ', et, len(xs)) + b''.join(enc(et, x) for x in xs)
    return struct.pack(SZ[t], v)
def save(g, p):
    out = b'GGUF' + struct.pack('<IQQ', g['version'], len(g['tensors']), len(g['kv']))
    for k, (t, v) in g['kv'].items():
        out += struct.pack('<Q', len(k)) + k.encode() + struct.pack('<I', t) + enc(t, v)
    for x in g['tensors']:
        out += struct.pack('<Q', len(x['name'])) + x['name'].encode() + struct.pack('<I', len(x['dims']))
        out += b''.join(struct.pack('<Q', d) for d in x['dims']) + struct.pack('<IQ', x['type'], x['offset'])
    out += b'\0' * (-len(out) % g['align'])
    out = bytearray(out + g['data'])
    for needle, skip, fmt, value in g['patch']:
        at = out.index(needle) + len(needle) + skip
        struct.pack_into(fmt, out, at, value)
    open(p, 'wb').write(out)
def tensor(g, name):
    return next(x for x in g['tensors'] if x['name'] == name)
g = load(sys.argv[1]); exec(sys.argv[3]); save(g, sys.argv[2])
PY
gguf_edit() { python3 gguf_edit.py "$1" "$2" "$3"; }

# --- set-up ------------------------------------------------------------------
model_copy m
"$B/lowbit-translate" --import-hf m -o t.mlir 2>/dev/null || { echo "FAIL set-up: import"; exit 1; }
"$B/lowbit-translate" --export-gguf --outtype q8_0 m -o x.gguf 2>/dev/null || { echo "FAIL set-up: export"; exit 1; }
gguf_edit x.gguf same.gguf '' && cmp -s x.gguf same.gguf || { echo "FAIL set-up: the GGUF editor does not round-trip"; exit 1; }
rm same.gguf

# --- config.json: sizes ------------------------------------------------------
config_case heads0 "c['num_attention_heads'] = 0"
refuse config-heads-zero 'heads0/config.json: num_attention_heads must be positive \(got 0\)' heads0 -- \
  "$B/lowbit-translate" --import-hf heads0 -o out.mlir
refuse config-heads-zero-run 'heads0/config.json: num_attention_heads must be positive' heads0 -- \
  "$B/lowbit-run" perplexity --file "$TEXT" heads0
refuse config-heads-zero-compile 'heads0/config.json: num_attention_heads must be positive' heads0 -- \
  "$B/lowbit-compile" heads0 -o out.lbx
config_case heads-neg "c['num_attention_heads'] = -4; del c['head_dim']"
refuse config-heads-negative 'heads-neg/config.json: num_attention_heads must be positive \(got -4\)' heads-neg -- \
  "$B/lowbit-translate" --export-gguf heads-neg -o out.gguf
config_case kv0 "c['num_key_value_heads'] = 0"
refuse config-kv-heads-zero 'kv0/config.json: num_key_value_heads must be positive \(got 0\)' kv0 -- \
  "$B/lowbit-translate" --export-gguf kv0 -o out.gguf
config_case kv3 "c['num_key_value_heads'] = 3"
refuse config-kv-heads-not-dividing 'kv3/config.json: num_attention_heads 4 is not a multiple of num_key_value_heads 3' kv3 -- \
  "$B/lowbit-run" generate --prompt hi -n 1 kv3
config_case hidden "c['hidden_size'] = 250; del c['head_dim']"
refuse config-hidden-not-divisible 'hidden/config.json: hidden_size 250 is not a multiple of num_attention_heads 4' hidden -- \
  "$B/lowbit-translate" --import-hf hidden -o out.mlir
config_case hdodd "c['head_dim'] = 63"
refuse config-head-dim-odd 'hdodd/config.json: head_dim 63 must be even' hdodd -- \
  "$B/lowbit-translate" --import-hf hdodd -o out.mlir
config_case layers0 "c['num_hidden_layers'] = 0"
refuse config-layers-zero 'layers0/config.json: num_hidden_layers must be positive' layers0 -- \
  "$B/lowbit-translate" --import-hf layers0 -o out.mlir
config_case layers-huge "c['num_hidden_layers'] = 2**40"
refuse config-layers-huge 'layers-huge/config.json: num_hidden_layers 1099511627776 is too large' layers-huge -- \
  "$B/lowbit-run" generate --prompt hi -n 1 layers-huge
config_case layers-many "c['num_hidden_layers'] = 100000000"
refuse config-layers-beyond-weights 'layers-many/config.json: num_hidden_layers is 100000000, but the weight files hold 4 layer' layers-many -- \
  "$B/lowbit-translate" --import-hf layers-many -o out.mlir
config_case vocab-huge "c['vocab_size'] = 2**40"
refuse config-vocab-huge 'vocab-huge/config.json: vocab_size 1099511627776 is too large' vocab-huge -- \
  "$B/lowbit-translate" --export-gguf vocab-huge -o out.gguf
# In range, but far beyond the embedding: the tokenizer must not be padded to it.
config_case vocab-big "c['vocab_size'] = 500000000"
refuse config-vocab-beyond-embedding "vocab-big/model.safetensors: tensor 'model.embed_tokens.weight' has shape \\[4096, 256\\], expected \\[500000000, 256\\]" vocab-big -- \
  "$B/lowbit-run" generate --prompt hi -n 1 vocab-big
config_case vocab0 "c['vocab_size'] = 0"
refuse config-vocab-zero 'vocab0/config.json: vocab_size must be positive' vocab0 -- \
  "$B/lowbit-translate" --import-hf vocab0 -o out.mlir
config_case theta-neg "c['rope_parameters']['rope_theta'] = -1.0; c['rope_theta'] = -1.0"
refuse config-rope-theta-negative 'theta-neg/config.json: rope_theta must be positive and finite' theta-neg -- \
  "$B/lowbit-translate" --import-hf theta-neg -o out.mlir
config_case theta-nan "c['rope_theta'] = float('nan')"
refuse config-rope-theta-nan 'theta-nan/config.json: invalid JSON' theta-nan -- \
  "$B/lowbit-translate" --import-hf theta-nan -o out.mlir
config_case eps-neg "c['rms_norm_eps'] = -1e-5"
refuse config-rms-eps-negative 'eps-neg/config.json: rms_norm_eps must be positive and finite' eps-neg -- \
  "$B/lowbit-run" perplexity --file "$TEXT" eps-neg
config_case bos "c['bos_token_id'] = 99999"
refuse config-bos-outside-vocab 'bos/config.json: bos_token_id 99999 is outside the vocabulary' bos -- \
  "$B/lowbit-translate" --import-hf bos -o out.mlir

# --- config.json: mistyped keys ---------------------------------------------
config_case mistyped "c['hidden_size'] = '256'"
refuse config-mistyped-required "mistyped/config.json: key 'hidden_size' must be an integer, got string" mistyped -- \
  "$B/lowbit-translate" --import-hf mistyped -o out.mlir
config_case mistyped-kv "c['num_key_value_heads'] = '2'"
refuse config-mistyped-optional "mistyped-kv/config.json: key 'num_key_value_heads' must be an integer, got string" mistyped-kv -- \
  "$B/lowbit-run" generate --prompt hi -n 1 mistyped-kv
config_case mistyped-tie "c['tie_word_embeddings'] = 'false'"
refuse config-mistyped-bool "mistyped-tie/config.json: key 'tie_word_embeddings' must be a boolean, got string" mistyped-tie -- \
  "$B/lowbit-translate" --export-gguf mistyped-tie -o out.gguf
config_case mistyped-theta "c['rope_parameters']['rope_theta'] = '10000'"
refuse config-mistyped-nested "mistyped-theta/config.json: key 'rope_parameters.rope_theta' must be a number, got string" mistyped-theta -- \
  "$B/lowbit-translate" --import-hf mistyped-theta -o out.mlir
config_case mistyped-float "c['intermediate_size'] = 768.5"
refuse config-mistyped-fraction "mistyped-float/config.json: key 'intermediate_size' must be an integer, got number 768.5" mistyped-float -- \
  "$B/lowbit-translate" --import-hf mistyped-float -o out.mlir

# --- config.json against the weights ----------------------------------------
config_case fewer "c['num_hidden_layers'] = 2"
refuse config-fewer-layers-than-weights "fewer/config.json: num_hidden_layers is 2, but .*fewer/model.safetensors holds tensors of layers up to 3: 'model.layers.2" fewer -- \
  "$B/lowbit-translate" --import-hf fewer -o out.mlir
refuse config-fewer-layers-export "fewer/config.json: num_hidden_layers is 2, but" fewer -- \
  "$B/lowbit-translate" --export-gguf fewer -o out.gguf
config_case more "c['num_hidden_layers'] = 6"
refuse config-more-layers-than-weights "more/config.json: num_hidden_layers is 6, but the weight files hold 4 layer\\(s\\) \\(there is no 'model.layers.4" more -- \
  "$B/lowbit-run" perplexity --file "$TEXT" more

# --- quantize_config of a GPTQ checkpoint -----------------------------------
"$B/lowbit-opt" t.mlir --lowbit-rtn="bits=4 group-size=64 side-file=$T/rtn.safetensors" -o rtn.mlir 2>/dev/null &&
  "$B/lowbit-translate" --export-gptq gq rtn.mlir 2>/dev/null || { echo "FAIL set-up: gptq checkpoint"; exit 1; }
for f in config.json quantize_config.json; do
  python3 - gq/$f <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
q = c.get('quantization_config', c)
q['group_size'] = '64'
open(p, 'w').write(json.dumps(c))
PY
done
refuse quantize-config-mistyped "gq/config.json: key 'group_size' must be an integer, got string" gq -- \
  "$B/lowbit-translate" --import-hf gq -o out.mlir --side-file "$T/out.side.safetensors"

# --- safetensors ---------------------------------------------------------------
model_copy overflow
tensor_edit overflow/model.safetensors model.norm.weight "t['shape'] = [2**32, 2**32, 2**32]"
refuse safetensors-shape-overflow "overflow/model.safetensors: tensor 'model.norm.weight': (size of shape|element count of the shape) overflows" overflow -- \
  "$B/lowbit-translate" --import-hf overflow -o out.mlir
model_copy zerodim
tensor_edit zerodim/model.safetensors model.norm.weight "t['shape'] = [2**62, 3, 0]; t['data_offsets'] = [t['data_offsets'][0]] * 2"
refuse safetensors-element-count-overflow "zerodim/model.safetensors: tensor 'model.norm.weight': (element count of the shape overflows|data starts)" zerodim -- \
  "$B/lowbit-translate" --import-hf zerodim -o out.mlir
model_copy dup
python3 - dup/model.safetensors <<'PY'
import json, struct, sys
p = sys.argv[1]; b = open(p, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]; text = b[8:8+n].decode().rstrip()
h = json.loads(text)
# A second entry for the embedding pointing at lm_head's bytes: a JSON parser
# keeps one of the two silently.
extra = json.dumps(h['lm_head.weight'])
hb = (text[:-1] + ', "model.embed_tokens.weight": ' + extra + '}').encode()
hb += b' ' * (-len(hb) % 8)
open(p, 'wb').write(struct.pack('<Q', len(hb)) + hb + b[8+n:])
PY
refuse safetensors-duplicate-name "dup/model.safetensors: duplicate tensor name 'model.embed_tokens.weight'" dup -- \
  "$B/lowbit-translate" --import-hf dup -o out.mlir

# --- GGUF metadata -------------------------------------------------------------
gguf_edit x.gguf head0.gguf "g['kv']['llama.attention.head_count'] = (4, 0)"
refuse gguf-head-count-zero 'head0.gguf: llama.attention.head_count must be positive \(got 0\)' head0.gguf -- \
  "$B/lowbit-translate" --import-gguf head0.gguf -o out.mlir
refuse gguf-head-count-zero-run 'head0.gguf: llama.attention.head_count must be positive' head0.gguf -- \
  "$B/lowbit-run" generate --prompt hi -n 1 head0.gguf
refuse gguf-head-count-zero-compile 'head0.gguf: llama.attention.head_count must be positive' head0.gguf -- \
  "$B/lowbit-compile" head0.gguf -o out.lbx
gguf_edit x.gguf head0nokey.gguf "g['kv']['llama.attention.head_count'] = (4, 0); del g['kv']['llama.attention.key_length']"
refuse gguf-head-count-zero-derived 'head0nokey.gguf: llama.attention.head_count must be positive' head0nokey.gguf -- \
  "$B/lowbit-translate" --export-gguf head0nokey.gguf -o out.gguf
gguf_edit x.gguf kv0.gguf "g['kv']['llama.attention.head_count_kv'] = (4, 0)"
refuse gguf-head-count-kv-zero 'kv0.gguf: llama.attention.head_count_kv must be positive' kv0.gguf -- \
  "$B/lowbit-run" perplexity --file "$TEXT" kv0.gguf
gguf_edit x.gguf blocks.gguf "g['kv']['llama.block_count'] = (4, 0xffffffff)"
refuse gguf-block-count-huge 'blocks.gguf: llama.block_count 4294967295 is too large' blocks.gguf -- \
  "$B/lowbit-translate" --import-gguf blocks.gguf -o out.mlir
gguf_edit x.gguf blocks2.gguf "g['kv']['llama.block_count'] = (4, 1000000)"
refuse gguf-block-count-beyond-weights 'blocks2.gguf: llama.block_count is 1000000, but the weight files hold 4 layer' blocks2.gguf -- \
  "$B/lowbit-compile" blocks2.gguf -o out.lbx
gguf_edit x.gguf blocks3.gguf "g['kv']['llama.block_count'] = (4, 3)"
refuse gguf-block-count-below-weights "blocks3.gguf: llama.block_count is 3, but .*blocks3.gguf holds tensors of layers up to 3: 'blk.3" blocks3.gguf -- \
  "$B/lowbit-translate" --import-gguf blocks3.gguf -o out.mlir
gguf_edit x.gguf embd0.gguf "g['kv']['llama.embedding_length'] = (4, 0)"
refuse gguf-embedding-length-zero 'embd0.gguf: llama.embedding_length must be positive' embd0.gguf -- \
  "$B/lowbit-translate" --import-gguf embd0.gguf -o out.mlir
gguf_edit x.gguf ctx.gguf "g['kv']['llama.context_length'] = (4, 0xffffffff)"
refuse gguf-context-length-huge 'ctx.gguf: llama.context_length 4294967295 is too large' ctx.gguf -- \
  "$B/lowbit-run" generate --prompt hi -n 1 ctx.gguf
gguf_edit x.gguf rope.gguf "g['kv']['llama.rope.dimension_count'] = (4, 32)"
refuse gguf-rope-dims-partial 'rope.gguf: llama.rope.dimension_count is 32 but the head dimension is 64' rope.gguf -- \
  "$B/lowbit-translate" --import-gguf rope.gguf -o out.mlir
gguf_edit x.gguf theta.gguf "g['kv']['llama.rope.freq_base'] = (6, float('nan'))"
refuse gguf-rope-freq-nan 'theta.gguf: llama.rope.freq_base must be positive and finite \(got nan\)' theta.gguf -- \
  "$B/lowbit-translate" --import-gguf theta.gguf -o out.mlir
gguf_edit x.gguf eps.gguf "g['kv']['llama.attention.layer_norm_rms_epsilon'] = (6, -1e-5)"
refuse gguf-rms-eps-negative 'eps.gguf: llama.attention.layer_norm_rms_epsilon must be positive' eps.gguf -- \
  "$B/lowbit-translate" --export-gguf eps.gguf -o out.gguf
gguf_edit x.gguf mistyped.gguf "g['kv']['llama.attention.head_count'] = (8, b'4')"
refuse gguf-mistyped-value "mistyped.gguf: metadata key 'llama.attention.head_count' has type string, expected u32" mistyped.gguf -- \
  "$B/lowbit-translate" --import-gguf mistyped.gguf -o out.mlir
gguf_edit x.gguf array.gguf "g['patch'].append((b'tokenizer.ggml.tokens', 8, '<Q', 2**40))"
refuse gguf-array-count-huge "array.gguf: .*array of 1099511627776 string elements of key 'tokenizer.ggml.tokens'" array.gguf -- \
  "$B/lowbit-translate" --import-gguf array.gguf -o out.mlir
gguf_edit x.gguf string.gguf "g['patch'].append((b'general.name', 4, '<Q', 2**60))"
refuse gguf-string-length-huge "string.gguf: truncated file: string value of key 'general.name'" string.gguf -- \
  "$B/lowbit-run" generate --prompt hi -n 1 string.gguf
gguf_edit x.gguf vocab.gguf "g['kv']['llama.vocab_size'] = (4, 100000000)"
refuse gguf-vocab-beyond-embedding "vocab.gguf: tensor 'token_embd.weight' has shape \\[4096, 256\\], expected \\[100000000, 256\\]" vocab.gguf -- \
  "$B/lowbit-translate" --import-gguf vocab.gguf -o out.mlir

# --- GGUF tensor table -----------------------------------------------------------
gguf_edit x.gguf overlap.gguf "tensor(g, 'blk.0.attn_q.weight')['offset'] = tensor(g, 'blk.0.attn_norm.weight')['offset']"
refuse gguf-overlapping-tensors "overlap.gguf: tensor 'blk.0.attn_norm.weight' data .* overlaps tensor 'blk.0.attn_q.weight'" overlap.gguf -- \
  "$B/lowbit-translate" --import-gguf overlap.gguf -o out.mlir
# An f32 norm retyped to f64 doubles in size and runs into its neighbour.
gguf_edit x.gguf retyped.gguf "tensor(g, 'blk.0.attn_norm.weight')['type'] = 28"
refuse gguf-retyped-tensor-overlaps "retyped.gguf: tensor 'blk.0.attn_norm.weight' data \\(offset [0-9]+, 2048 bytes\\) overlaps" retyped.gguf -- \
  "$B/lowbit-run" perplexity --file "$TEXT" retyped.gguf
gguf_edit x.gguf ndims.gguf "tensor(g, 'output_norm.weight')['dims'] = [256, 1, 1, 1, 1]"
refuse gguf-ndims-5 "ndims.gguf: tensor 'output_norm.weight' has n_dims 5" ndims.gguf -- \
  "$B/lowbit-translate" --import-gguf ndims.gguf -o out.mlir
gguf_edit x.gguf dim0.gguf "tensor(g, 'output_norm.weight')['dims'] = [0]"
refuse gguf-dim-zero "dim0.gguf: tensor 'output_norm.weight' has shape \\[0\\], expected \\[256\\]" dim0.gguf -- \
  "$B/lowbit-translate" --import-gguf dim0.gguf -o out.mlir
gguf_edit x.gguf dimhuge.gguf "tensor(g, 'output_norm.weight')['dims'] = [2**32, 2**32, 2**32]"
refuse gguf-dims-overflow "dimhuge.gguf: tensor 'output_norm.weight': element count overflows" dimhuge.gguf -- \
  "$B/lowbit-translate" --import-gguf dimhuge.gguf -o out.mlir
gguf_edit x.gguf misaligned.gguf "tensor(g, 'output_norm.weight')['offset'] += 4"
refuse gguf-misaligned-offset "misaligned.gguf: tensor 'output_norm.weight' has data offset [0-9]+, not a multiple of the alignment 32" misaligned.gguf -- \
  "$B/lowbit-translate" --export-gguf misaligned.gguf -o out.gguf

# --- tokenizer files -------------------------------------------------------------
model_copy tok-garbage
head -c 65536 /dev/urandom > tok-garbage/tokenizer.model
refuse tokenizer-garbage 'tok-garbage/tokenizer.model: (not a SentencePiece model|corrupt SentencePiece model|cannot load tokenizer)' tok-garbage -- \
  "$B/lowbit-translate" --import-hf tok-garbage -o out.mlir
model_copy tok-huge
# A piece whose length field claims 2^62 bytes.
printf '\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x40' > tok-huge/tokenizer.model
cat "$TINY/tokenizer.model" >> tok-huge/tokenizer.model
refuse tokenizer-huge-length 'tok-huge/tokenizer.model: (not a SentencePiece model|corrupt SentencePiece model)' tok-huge -- \
  "$B/lowbit-run" generate --prompt hi -n 1 tok-huge
model_copy tokcfg
printf '{"add_bos_token": tru' > tokcfg/tokenizer_config.json
refuse tokenizer-config-garbage 'tokcfg/tokenizer_config.json: invalid JSON' tokcfg -- \
  "$B/lowbit-run" generate --prompt hi -n 1 tokcfg
model_copy tokcfg2
python3 -c "import json,sys; json.dump({'add_bos_token': 'yes'}, open(sys.argv[1], 'w'))" tokcfg2/tokenizer_config.json
refuse tokenizer-config-mistyped "tokcfg2/tokenizer_config.json: key 'add_bos_token' must be a boolean" tokcfg2 -- \
  "$B/lowbit-translate" --export-gguf tokcfg2 -o out.gguf

# --- NaN / Inf weights -------------------------------------------------------------
NANMSG="tensor 'model.layers.1.self_attn.q_proj.weight' has a non-finite value \\(nan\\) at row 3, column 5"
INFMSG="tensor 'model.layers.2.mlp.down_proj.weight' has a non-finite value \\(inf\\) at row 7, column 11"
model_copy nan; poison nan/model.safetensors model.layers.1.self_attn.q_proj.weight $((3*256+5)) 0x7fc0
model_copy inf; poison inf/model.safetensors model.layers.2.mlp.down_proj.weight $((7*768+11)) 0x7f80
model_copy nanhead; poison nanhead/model.safetensors lm_head.weight 12345 0x7fc0
"$B/lowbit-translate" --import-hf nan -o nan.mlir 2>/dev/null &&
  "$B/lowbit-translate" --import-hf inf -o inf.mlir 2>/dev/null &&
  "$B/lowbit-translate" --import-hf nanhead -o nanhead.mlir 2>/dev/null || { echo "FAIL set-up: NaN models"; exit 1; }
refuse nan-export-gguf-q4_k_m "$NANMSG" nan -- \
  "$B/lowbit-translate" --export-gguf --outtype q4_k_m nan -o out.gguf
refuse inf-export-gguf-q4_k_m "$INFMSG" inf -- \
  "$B/lowbit-translate" --export-gguf --outtype q4_k_m inf -o out.gguf
refuse nan-export-gguf-f16 "$NANMSG" "nan nan.mlir" -- \
  "$B/lowbit-translate" --export-gguf --outtype f16 nan.mlir -o out.gguf
refuse nan-rtn "$NANMSG" "nan nan.mlir" -- \
  "$B/lowbit-opt" nan.mlir --lowbit-rtn="side-file=$T/out.side.safetensors" -o out.mlir
refuse inf-rtn "$INFMSG" "inf inf.mlir" -- \
  "$B/lowbit-opt" inf.mlir --lowbit-rtn="side-file=$T/out.side.safetensors" -o out.mlir
refuse nan-gguf-quantize "$NANMSG" "nan nan.mlir" -- \
  "$B/lowbit-opt" nan.mlir --lowbit-gguf-quantize="ftype=q4_k_m side-file=$T/out.side.gguf" -o out.mlir
refuse inf-gguf-quantize "$INFMSG" "inf inf.mlir" -- \
  "$B/lowbit-opt" inf.mlir --lowbit-gguf-quantize="ftype=q4_k_m side-file=$T/out.side.gguf" -o out.mlir
refuse nan-bnb-4bit "$NANMSG" "nan nan.mlir" -- \
  "$B/lowbit-opt" nan.mlir --lowbit-bnb-4bit="side-file=$T/out.side.safetensors" -o out.mlir
refuse nan-gptq "$NANMSG" "nan nan.mlir" -- \
  "$B/lowbit-opt" nan.mlir --lowbit-gptq="file=$TEXT windows=1 window-length=16 side-file=$T/out.side.safetensors" -o out.mlir
refuse nan-awq "$NANMSG" "nan nan.mlir" -- \
  "$B/lowbit-opt" nan.mlir --lowbit-awq="file=$TEXT windows=1 window-length=16 side-file=$T/out.side.safetensors" -o out.mlir
refuse nan-compile "$NANMSG" nan -- \
  "$B/lowbit-compile" nan -o out.lbx
# The linears quantize; the float lm_head is what the exports refuse.
"$B/lowbit-opt" nanhead.mlir --lowbit-rtn="bits=4 group-size=64 side-file=$T/nanhead-rtn.safetensors" -o nanhead-rtn.mlir 2>/dev/null ||
  { echo "FAIL set-up: RTN of nanhead"; exit 1; }
refuse nan-export-gptq "tensor 'lm_head.weight' has a non-finite value \\(nan\\)" "nanhead nanhead-rtn.mlir nanhead-rtn.safetensors" -- \
  "$B/lowbit-translate" --export-gptq out.gptq nanhead-rtn.mlir
refuse nan-export-awq "tensor 'lm_head.weight' has a non-finite value \\(nan\\)" "nanhead nanhead-rtn.mlir nanhead-rtn.safetensors" -- \
  "$B/lowbit-translate" --export-awq out.awq nanhead-rtn.mlir
warns nan-run-warns "warning: .*nan: weight 'model.layers.1.self_attn.q_proj.weight' holds NaN or infinite values" -- \
  "$B/lowbit-run" generate --prompt hi -n 1 nan

# --- IR ------------------------------------------------------------------------------
sed 's/layer = 3 : i64/layer = 1000000000000 : i64/' t.mlir > layer.mlir
grep -q 'layer = 1000000000000' layer.mlir || { echo "FAIL set-up: layer.mlir"; exit 1; }
refuse ir-attention-layer-run "layer.mlir:[0-9]+:[0-9]+: error: 'lowbit.attention' op layer 1000000000000 is outside the model's 4 layers" "layer.mlir m" -- \
  "$B/lowbit-run" generate --prompt hi -n 1 layer.mlir
refuse ir-attention-layer-compile "'lowbit.attention' op layer 1000000000000 is outside the model's 4 layers" "layer.mlir m" -- \
  "$B/lowbit-compile" layer.mlir -o out.lbx
refuse ir-attention-layer-opt "'lowbit.attention' op layer 1000000000000 is outside the model's 4 layers" "layer.mlir m" -- \
  "$B/lowbit-opt" layer.mlir --lowbit-rtn="side-file=$T/out.side.safetensors" -o out.mlir
sed 's/num_layers = 4,/num_layers = 2147483647,/; s/layer = 3 : i64/layer = 2000000000 : i64/' t.mlir > layer2.mlir
refuse ir-attention-layer-sparse "lowbit.attention has layer 2000000000, outside \\[0, 4\\)" "layer2.mlir m" -- \
  "$B/lowbit-run" generate --prompt hi -n 1 layer2.mlir
sed 's/vocab_size = 4096,/vocab_size = 1000000000,/' t.mlir > vocab.mlir
refuse ir-vocab-beyond-embedding "tensor 'model.embed_tokens.weight' has shape \\[4096, 256\\], expected \\[1000000000, 256\\]" "vocab.mlir m" -- \
  "$B/lowbit-translate" --export-gguf vocab.mlir -o out.gguf
refuse ir-vocab-beyond-embedding-calibrate "tensor 'model.embed_tokens.weight' has shape \\[4096, 256\\], expected \\[1000000000, 256\\]" "vocab.mlir m" -- \
  "$B/lowbit-opt" vocab.mlir --lowbit-calibrate="file=$TEXT windows=1 window-length=16 output=$T/out.stats.pb" -o out.mlir
refuse ir-vocab-beyond-embedding-awq "tensor 'model.embed_tokens.weight' has shape \\[4096, 256\\], expected \\[1000000000, 256\\]" "vocab.mlir m" -- \
  "$B/lowbit-opt" vocab.mlir --lowbit-awq="file=$TEXT windows=1 window-length=16 side-file=$T/out.side.safetensors" -o out.mlir

echo "$cases cases, $fails failed"
[ $fails -eq 0 ]
