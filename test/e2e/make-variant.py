#!/usr/bin/env python3
"""Writes an architecture variant of a Llama model directory, for tests.

  make-variant.py SRC DST tied     untie -> tied: drop lm_head, tie_word_embeddings
  make-variant.py SRC DST qwen2    model_type qwen2 with random q/k/v biases (bf16)
  make-variant.py SRC DST mistral  model_type mistral (same weights)
"""
import json, os, random, shutil, struct, sys

src, dst, kind = sys.argv[1:4]
os.makedirs(dst, exist_ok=True)
for f in os.listdir(src):
    if os.path.isfile(os.path.join(src, f)) and f != 'model.safetensors':
        shutil.copy(os.path.join(src, f), dst)

raw = open(os.path.join(src, 'model.safetensors'), 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
tensors = {k: (v, data[v['data_offsets'][0]:v['data_offsets'][1]])
           for k, v in header.items() if k != '__metadata__'}
cfg = json.load(open(os.path.join(src, 'config.json')))

def bf16(x):
    return struct.pack('<f', x)[2:4]

if kind == 'tied':
    del tensors['lm_head.weight']
    cfg['tie_word_embeddings'] = True
elif kind == 'qwen2':
    cfg['model_type'] = 'qwen2'
    cfg['architectures'] = ['Qwen2ForCausalLM']
    cfg['attention_bias'] = True
    rng = random.Random(7)
    for l in range(cfg['num_hidden_layers']):
        for p, heads in (('q', cfg['num_attention_heads']), ('k', cfg['num_key_value_heads']),
                         ('v', cfg['num_key_value_heads'])):
            width = heads * cfg['head_dim']
            blob = b''.join(bf16(rng.uniform(-0.3, 0.3)) for _ in range(width))
            tensors[f'model.layers.{l}.self_attn.{p}_proj.bias'] = (
                {'dtype': 'BF16', 'shape': [width]}, blob)
elif kind == 'mistral':
    cfg['model_type'] = 'mistral'
    cfg['architectures'] = ['MistralForCausalLM']
else:
    sys.exit(f'unknown variant {kind}')

out_header, blobs, off = {'__metadata__': {'format': 'pt'}}, [], 0
for name in sorted(tensors):
    info, blob = tensors[name]
    out_header[name] = {'dtype': info['dtype'], 'shape': info['shape'],
                        'data_offsets': [off, off + len(blob)]}
    blobs.append(blob)
    off += len(blob)
hb = json.dumps(out_header, separators=(',', ':')).encode()
hb += b' ' * (-len(hb) % 8)
with open(os.path.join(dst, 'model.safetensors'), 'wb') as f:
    f.write(struct.pack('<Q', len(hb)) + hb + b''.join(blobs))
json.dump(cfg, open(os.path.join(dst, 'config.json'), 'w'), indent=2)
