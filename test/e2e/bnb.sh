#!/usr/bin/env bash
# bitsandbytes checkpoints of the bundled model. IR quantized by
# --lowbit-bnb-4bit (NF4, NF4 with double quantization, FP4) and by
# --lowbit-llm-int8 is exported with --export-bnb and read back by an
# independent reader written from formats.md §7 (python3, standard library
# only): every tensor's key, dtype and shape, the codebooks, the quant_state
# JSON bytes, config.json, the untouched tensors and the tokenizer. The reader
# dequantizes every 4-bit linear of the checkpoint, and the model with those
# weights has the IR's perplexity to every printed digit; int8 CB and SCB are
# the IR's bytes. A GGUF-imported IR (q/k rows in llama.cpp's order) exports
# the same linears as the Hugging Face route. Inputs the format cannot hold
# fail with a clear message and leave no directory behind.
set -uo pipefail
T=$LOWBIT_TMP/bnb; rm -rf "$T"; mkdir -p "$T"
TINY=$LOWBIT_MODELS/tiny-5m
TEXT=$TINY/data/heldout.txt
B=$LOWBIT_BIN
fails=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; fails=$((fails+1)); }

ppl() { "$B/lowbit-run" perplexity --json --protocol p1 --ctx 512 --chunks 4 --file "$TEXT" "$1" 2>/dev/null \
        | python3 -c 'import json,sys; print("%.6f" % json.load(sys.stdin)["perplexity"])'; }

"$B/lowbit-translate" --import-hf "$TINY" -o "$T/tiny.mlir"
# The reader's weights replace the IR's linears in an all-f32 copy.
"$B/lowbit-opt" "$T/tiny.mlir" --lowbit-convert-weights="dtype=f32 side-file=$T/f32.safetensors" -o "$T/f32.mlir"

# read_checkpoint DIR MODE SIDE OUT: the independent reader. MODE is nf4,
# nf4-dq, fp4 or int8; SIDE is the pass's side file (int8: CB/SCB to compare);
# OUT receives the dequantized 4-bit linears (f32 safetensors).
read_checkpoint() {
python3 - "$1" "$2" "$3" "$4" "$TINY" <<'PY'
import array, json, struct, sys
ckpt, mode, side, out, source = sys.argv[1:6]

def read_st(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', None)
    size = {'F32': 4, 'BF16': 2, 'F16': 2, 'U8': 1, 'I8': 1}
    spans = sorted(t['data_offsets'] for t in header.values())
    end = 0
    for a, b in spans:
        assert a == end, f'{path}: hole or overlap at {a}'
        end = b
    assert 8 + n + end == len(raw), f'{path}: trailing bytes'
    tensors = {}
    for name, t in header.items():
        a, b = t['data_offsets']
        count = 1
        for d in t['shape']:
            count *= d
        assert b - a == count * size[t['dtype']], f'{name}: size'
        tensors[name] = (t['dtype'], t['shape'], raw[8 + n + a:8 + n + b])
    return meta, tensors

def f32(values):  # round doubles to fp32, as the reference computes
    return array.array('f', values)

def floats(data):
    a = array.array('f'); a.frombytes(data); return a

meta, t = read_st(f'{ckpt}/model.safetensors')
assert meta == {'format': 'pt'}, meta
_, src = read_st(f'{source}/model.safetensors')
config = json.load(open(f'{ckpt}/config.json'))
layers = config['num_hidden_layers']
linears = [f'model.layers.{l}.{m}' for l in range(layers) for m in
           ('self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj',
            'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj')]
fourbit = mode != 'int8'
qtype = mode[:3]
nested = mode == 'nf4-dq'
blocksize = 128 if qtype == 'fp4' else 64

# formats.md §7.2 codebooks and dynamic map.
NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
       -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
       0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
       0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]
FP4 = [v / 12 for v in [0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3]]
code = list(f32(NF4 if qtype == 'nf4' else FP4))

want_qc = {'quant_method': 'bitsandbytes', '_load_in_4bit': fourbit, '_load_in_8bit': not fourbit,
           'load_in_4bit': fourbit, 'load_in_8bit': not fourbit,
           'llm_int8_threshold': 1.0 if not fourbit else 6.0, 'llm_int8_skip_modules': None,
           'llm_int8_enable_fp32_cpu_offload': False, 'llm_int8_has_fp16_weight': False,
           'bnb_4bit_quant_type': qtype if fourbit else 'fp4', 'bnb_4bit_use_double_quant': nested,
           'bnb_4bit_compute_dtype': 'bfloat16' if fourbit else 'float32',
           'bnb_4bit_quant_storage': 'uint8'}
assert config['quantization_config'] == want_qc, config['quantization_config']
assert config['torch_dtype'] == 'bfloat16'
for f in ('tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json'):
    assert open(f'{ckpt}/{f}', 'rb').read() == open(f'{source}/{f}', 'rb').read(), f

seen = set()
deq = {}
side_t = read_st(side)[1] if not fourbit else None
for p in linears:
    n, k = src[p + '.weight'][1]
    mine = {name for name in t if name.startswith(p + '.')}
    if not fourbit:
        want = {p + '.weight': ('I8', [n, k]), p + '.SCB': ('F32', [n]), p + '.weight_format': ('U8', [])}
        assert {m: tuple(t[m][:2]) for m in mine} == {m: (d, s) for m, (d, s) in want.items()}, (p, mine)
        assert t[p + '.weight'][2] == side_t[p + '.weight'][2], p
        assert t[p + '.SCB'][2] == side_t[p + '.weight.scb'][2], p
        assert t[p + '.weight_format'][2] == b'\x00'
        seen |= mine
        continue
    count = n * k
    blocks = -(-count // blocksize)
    state_key = f'{p}.weight.quant_state.bitsandbytes__{qtype}'
    want = {p + '.weight': ('U8', [(count + 1) // 2, 1]),
            p + '.weight.absmax': ('U8' if nested else 'F32', [blocks]),
            p + '.weight.quant_map': ('F32', [16]),
            state_key: ('U8', [len(t[state_key][2])])}
    if nested:
        want[p + '.weight.nested_absmax'] = ('F32', [-(-blocks // 256)])
        want[p + '.weight.nested_quant_map'] = ('F32', [256])
    got = {m: (t[m][0], t[m][1]) for m in mine}
    assert got == want, (p, got, want)
    seen |= mine
    state_bytes = t[state_key][2]
    state = json.loads(state_bytes)
    # json.dumps writes back the same bytes: separators, key order, float repr.
    assert json.dumps(state).encode() == state_bytes, state_bytes
    keys = ['quant_type', 'blocksize', 'dtype', 'shape']
    if nested:
        keys += ['nested_blocksize', 'nested_dtype', 'nested_offset']
    assert list(state) == keys, list(state)
    assert (state['quant_type'], state['blocksize'], state['dtype'], state['shape']) == \
        (qtype, blocksize, 'bfloat16', [n, k]), state
    assert list(floats(t[p + '.weight.quant_map'][2])) == code
    if nested:
        assert (state['nested_blocksize'], state['nested_dtype']) == (256, 'float32')
        dmap = floats(t[p + '.weight.nested_quant_map'][2])
        assert dmap[0] == f32([-0.99296875])[0] and dmap[127] == 0 and dmap[255] == 1.0
        assert all(dmap[i] < dmap[i + 1] for i in range(255))
        q8 = t[p + '.weight.absmax'][2]
        nabs = floats(t[p + '.weight.nested_absmax'][2])
        offset = f32([state['nested_offset']])[0]
        absmax = f32([x + offset for x in f32([dmap[q8[b]] * nabs[b // 256] for b in range(blocks)])])
    else:
        absmax = floats(t[p + '.weight.absmax'][2])
    packed = t[p + '.weight'][2]
    idx = bytearray(2 * len(packed))
    idx[0::2] = packed.translate(bytes(b >> 4 for b in range(256)))   # first element: high nibble
    idx[1::2] = packed.translate(bytes(b & 15 for b in range(256)))
    values = array.array('f')
    for b in range(blocks):
        a = absmax[b]
        values.extend(f32([code[i] * a for i in idx[b * blocksize:min(count, (b + 1) * blocksize)]]))
    deq[p + '.weight'] = ([n, k], values.tobytes())

# Everything else is the source's tensor, same dtype and bytes.
for name in set(t) - seen:
    assert name in src and t[name] == src[name], name
assert not [name for name in t if 'outlier' in name]
assert set(src) - {p + '.weight' for p in linears} <= set(t)

if fourbit:
    header, blob, off = {'__metadata__': {'format': 'pt'}}, [], 0
    for name in sorted(deq):
        shape, data = deq[name]
        header[name] = {'dtype': 'F32', 'shape': shape, 'data_offsets': [off, off + len(data)]}
        blob.append(data); off += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(out, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blob))
print(f'{len(linears)} linears, {len(t)} tensors')
PY
}

# with_side IR SIDE OUT: IR whose weight store ends with SIDE.
with_side() {
  python3 - "$1" "$2" "$3" <<'PY'
import re, sys
ir, side, out = sys.argv[1:4]
text = open(ir).read()
text, n = re.subn(r'lowbit\.side_files = \[([^\]]*)\]', lambda m: f'lowbit.side_files = [{m.group(1)}, "{side}"]', text, count=1)
assert n == 1
open(out, 'w').write(text)
PY
}

# fourbit NAME OPTIONS: quantize, export, read back, compare perplexities.
fourbit() {
  local name=$1 mode=$2 opts=$3 dir=$T/$1
  if ! "$B/lowbit-opt" "$T/tiny.mlir" --lowbit-bnb-4bit="$opts side-file=$T/$name.safetensors" -o "$T/$name.mlir" 2>"$T/$name.log"; then
    fail "$name: pass failed: $(grep -m1 error "$T/$name.log")"; return; fi
  if ! "$B/lowbit-translate" --export-bnb "$dir" "$T/$name.mlir" 2>"$T/$name.log"; then
    fail "$name: export failed: $(grep -m1 error "$T/$name.log")"; return; fi
  local summary
  if ! summary=$(read_checkpoint "$dir" "$mode" "$T/$name.safetensors" "$T/$name.deq.safetensors" 2>&1); then
    fail "$name: reader: $(tail -2 <<<"$summary")"; return; fi
  with_side "$T/f32.mlir" "$T/$name.deq.safetensors" "$T/$name.reader.mlir"
  local want got
  want=$(ppl "$T/$name.mlir"); got=$(ppl "$T/$name.reader.mlir")
  if [ -n "$want" ] && [ "$want" = "$got" ]; then ok "$name: $summary; IR $want, reader's weights $got"
  else fail "$name: IR $want, reader's weights $got"; fi
}
fourbit nf4 nf4 "quant-type=nf4"
fourbit nf4-dq nf4-dq "quant-type=nf4 double-quant=true"
fourbit fp4 fp4 "quant-type=fp4 block-size=128"

# LLM.int8(): a low threshold so that outlier columns exist (and are left out).
if "$B/lowbit-opt" "$T/tiny.mlir" --lowbit-calibrate="file=$TEXT output=$T/stats.pb windows=4 hessian=false" \
     --lowbit-llm-int8="threshold=1.0 side-file=$T/int8.safetensors" -o "$T/int8.mlir" 2>"$T/int8.log" \
   && grep -q 'lowbit.split_columns' "$T/int8.mlir" \
   && "$B/lowbit-translate" --export-bnb "$T/int8" "$T/int8.mlir" 2>>"$T/int8.log"; then
  if summary=$(read_checkpoint "$T/int8" int8 "$T/int8.safetensors" "" 2>&1); then
    ok "int8: $summary; CB and SCB are the IR's, outlier columns left out"
  else fail "int8: reader: $(tail -2 <<<"$summary")"; fi
else fail "int8: $(grep -m1 -iE 'error|outlier' "$T/int8.log")"; fi

# The GGUF route: q/k rows come back in Hugging Face's order, so every linear
# is byte for byte the one of the Hugging Face route (from the same f16
# weights).
"$B/lowbit-opt" "$T/tiny.mlir" --lowbit-convert-weights="dtype=f16 side-file=$T/f16.safetensors" -o "$T/tiny16.mlir"
"$B/lowbit-translate" --export-gguf --outtype f16 "$T/tiny16.mlir" -o "$T/tiny16.gguf" 2>/dev/null
"$B/lowbit-translate" --import-gguf "$T/tiny16.gguf" -o "$T/gguf.mlir"
for route in hf gguf; do
  src=$T/tiny16.mlir; [ $route = gguf ] && src=$T/gguf.mlir
  "$B/lowbit-opt" "$src" --lowbit-bnb-4bit="side-file=$T/route-$route.safetensors" 2>/dev/null \
    | sed "s#lowbit.tokenizer = \"[^\"]*\"#lowbit.tokenizer = \"$TINY/tokenizer.model\"#" > "$T/route-$route.mlir"
  "$B/lowbit-translate" --export-bnb "$T/route-$route" "$T/route-$route.mlir" 2>/dev/null
done
python3 - "$T/route-hf/model.safetensors" "$T/route-gguf/model.safetensors" <<'PY' && ok "GGUF-imported IR exports the same linears" || fail "GGUF route differs"
import json, struct, sys
def tensors(path):
    raw = open(path, 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]; h = json.loads(raw[8:8+n])
    return {k: (v['dtype'], v['shape'], raw[8+n+v['data_offsets'][0]:8+n+v['data_offsets'][1]])
            for k, v in h.items() if k != '__metadata__'}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
keys = [k for k in a if '_proj.' in k]
assert len(keys) == 4 * 7 * 4 and all(a[k] == b.get(k) for k in keys), [k for k in keys if a[k] != b.get(k)][:3]
PY

# expect_error NAME PATTERN DIR -- command...: fails, says PATTERN, leaves no DIR.
expect_error() {
  local name=$1 pattern=$2 dir=$3; shift 4
  local err
  if err=$("$@" 2>&1 >/dev/null); then fail "$name: exit 0"; return; fi
  if ! grep -qE -- "$pattern" <<<"$err"; then fail "$name: message does not match /$pattern/: $err"; return; fi
  if ls -d "$dir" "$dir".tmp* >/dev/null 2>&1; then fail "$name: directory left behind"; return; fi
  ok "$name: $(grep -m1 error <<<"$err")"
}
expect_error float-model "not quantized.*--lowbit-bnb-4bit or --lowbit-llm-int8 first" "$T/bad" -- \
  "$B/lowbit-translate" --export-bnb "$T/bad" "$T/tiny.mlir"
# k and v (the 128x256 linears) retyped as int8_row.
sed 's/qweight<128x256, #lowbit.scheme<format = nf4, bits = 4, group_size = 64,/qweight<128x256, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1,/g' \
  "$T/nf4.mlir" > "$T/mixed.mlir"
expect_error mixed "mixes 4-bit .* and LLM.int8\(\)" "$T/bad" -- \
  "$B/lowbit-translate" --export-bnb "$T/bad" "$T/mixed.mlir"
"$B/lowbit-opt" "$T/tiny.mlir" --lowbit-rtn="bits=4 group-size=64 side-file=$T/rtn.safetensors" -o "$T/rtn.mlir" 2>/dev/null
expect_error affine "is affine-encoded; a bitsandbytes checkpoint stores nf4/fp4" "$T/bad" -- \
  "$B/lowbit-translate" --export-bnb "$T/bad" "$T/rtn.mlir"
"$B/lowbit-opt" "$T/gguf.mlir" --lowbit-bnb-4bit="double-quant=true side-file=$T/gguf-dq.safetensors" 2>/dev/null \
  | sed "s#lowbit.tokenizer = \"[^\"]*\"#lowbit.tokenizer = \"$TINY/tokenizer.model\"#" > "$T/gguf-dq.mlir"
expect_error gguf-double-quant "llama.cpp's order .* double-quantized" "$T/bad" -- \
  "$B/lowbit-translate" --export-bnb "$T/bad" "$T/gguf-dq.mlir"
mkdir -p "$T/full"; touch "$T/full/x"
err=$("$B/lowbit-translate" --export-bnb "$T/full" "$T/nf4.mlir" 2>&1) && fail "non-empty directory: exit 0" \
  || { grep -q "already exists and is not an empty directory" <<<"$err" && ok "non-empty directory: $err" \
       || fail "non-empty directory: $err"; }

[ $fails -eq 0 ] && echo "all bnb checks passed" || echo "$fails bnb checks failed"
exit $((fails > 0))
