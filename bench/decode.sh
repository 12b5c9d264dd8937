#!/usr/bin/env bash
# Decode speed of compiled artifacts (.lbx) beside llama.cpp's llama-bench,
# in the same run, on the same GGUF files: pp (one PP-token batch) and tg
# (TG single-token steps) tokens/s, best of REPS, THREADS threads. Also: the
# IR interpreter's tg on llama-27m (for the runtime/interpreter ratio), a
# STREAM-like read bandwidth and the share of it each decode reaches
# (bytes a decode step streams x tg t/s / bandwidth), load time, time to
# first token and resident memory (lowbit-lbx-probe), and lowbit-compile's
# wall time and peak memory (/usr/bin/time -v).
#
#   bash bench/decode.sh                       # everything (long)
#   MODELS=llama-27m TARGETS=x86-64-v4 REPS=1 bash bench/decode.sh
#   MODELS=tinyllama-1.1b FORMATS_1B=q4_k_m PP=128 TG=32 bash bench/decode.sh
#
# Models (MODELS, space separated):
#   llama-27m       ../shared/models/llama-27m exported to FORMATS_27M
#                   (default "q4_k_m q8_0 f16") by lowbit-translate
#   tinyllama-1.1b  random weights of TinyLlama-1.1B shapes (22 layers, hidden
#                   2048, ffn 5632, 32/4 heads, vocab 32000) from
#                   lowbit-make-random-gguf (F16), then FORMATS_1B (default
#                   "q4_k_m q4_0 q8_0 q6_k w4g128 nf4"): GGUF types are exported
#                   by lowbit-translate; w4g128 is --lowbit-rtn (bits=4
#                   group-size=128) and nf4 --lowbit-bnb-4bit (nf4,
#                   double-quant) on the imported IR: no llama.cpp peer.
# Environment: TARGETS ("x86-64-v3 x86-64-v4"), REPS (3), THREADS (2),
#   PP (512), TG (128), INTERP_TG (16: tg steps of the interpreter run; 0
#   skips it), LAYERS (decoder layers of the random model; default all 22),
#   PROBE_PROMPT (PP: prompt tokens of the time-to-first-token probe),
#   LLAMA_BENCH (llama-bench binary; default build-llamacpp/bin/llama-bench,
#   built there from the source bundle of the npm package when missing and
#   BUILD_LLAMA=1; empty or missing: lowbit only), BUILD_DIR (build),
#   WORK (BUILD_DIR/decode-bench: models are kept there between runs),
#   OUT_JSON (WORK/decode.json), KEEP (1: keep the generated models),
#   NO_MMAP (0; 1: weights loaded into memory on both sides, lowbit-run
#   --no-mmap (2 MiB pages) and llama-bench --load-mode none, instead of read in
#   place from the file mapping),
#   DEPTH (2000: tg at this cache depth, llama-bench -d, for the 1.1B
#   formats in DEPTH_FORMATS, default "q4_k_m"; 0 skips), DEPTH_TG (32).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
BIN=$BUILD_DIR/bin
SHARED=${LOWBIT_SHARED:-../shared}
MODELS=${MODELS:-llama-27m tinyllama-1.1b}
FORMATS_27M=${FORMATS_27M:-q4_k_m q8_0 f16}
FORMATS_1B=${FORMATS_1B:-q4_k_m q4_0 q8_0 q6_k w4g128 nf4}
export DEPTH=${DEPTH:-2000}
DEPTH_FORMATS=${DEPTH_FORMATS:-q4_k_m}
DEPTH_TG=${DEPTH_TG:-32}
TARGETS=${TARGETS:-x86-64-v3 x86-64-v4}
REPS=${REPS:-3}
THREADS=${THREADS:-2}
PP=${PP:-512}
TG=${TG:-128}
INTERP_TG=${INTERP_TG:-16}
PROBE_PROMPT=${PROBE_PROMPT:-$PP}
WORK=${WORK:-$BUILD_DIR/decode-bench}
OUT_JSON=${OUT_JSON:-$WORK/decode.json}
KEEP=${KEEP:-1}
LLAMA_BENCH=${LLAMA_BENCH-build-llamacpp/bin/llama-bench}
BUNDLE=test/e2e/llamacpp/node_modules/node-llama-cpp/llama/gitRelease.bundle
export LOWBIT_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
LOWBIT_LOAD=() LLAMA_LOAD=()
if [ "${NO_MMAP:-0}" = 1 ]; then LOWBIT_LOAD=(--no-mmap); LLAMA_LOAD=(--load-mode none); fi

[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 1; }
for t in lowbit-compile lowbit-run lowbit-translate lowbit-opt lowbit-make-random-gguf lowbit-lbx-probe; do
  [ -x "$BIN/$t" ] || { echo "missing $BIN/$t (cmake --build $BUILD_DIR --target $t)" >&2; exit 1; }
done
mkdir -p "$WORK/bin"
# Run on a copy of the tools: the build directory may be relinked meanwhile.
for t in lowbit-compile lowbit-run lowbit-translate lowbit-opt lowbit-make-random-gguf lowbit-lbx-probe; do
  cp "$BIN/$t" "$WORK/bin/$t.tmp-copy" && mv "$WORK/bin/$t.tmp-copy" "$WORK/bin/$t"
done
BIN=$WORK/bin
ROWS=$WORK/rows.jsonl
: >"$ROWS"
log() { echo "[decode.sh] $*" >&2; }

# llama-bench from the exact source the npm package carries, built for the
# machine: natively, except on CPUs with AMX, where the native build's AMX
# matmul crashes on batches of quantized weights (every pp run): there every
# x86 extension up to AVX-512 VNNI/VBMI/BF16 and AVX-VNNI is enabled by hand
# and AMX left off (its AVX-512 kernels, its best working build).
if [ -n "$LLAMA_BENCH" ] && [ ! -x "$LLAMA_BENCH" ] && [ "${BUILD_LLAMA:-0}" = 1 ]; then
  log "building llama-bench from $BUNDLE"
  rm -rf build-llamacpp
  git clone -q "$BUNDLE" build-llamacpp/src
  isa=(-DGGML_NATIVE=ON)
  if grep -qw amx_int8 /proc/cpuinfo && grep -qw avx512_vnni /proc/cpuinfo; then
    isa=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
         -DGGML_BMI2=ON -DGGML_AVX_VNNI=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON
         -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF
         -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)
  fi
  cmake -S build-llamacpp/src -B build-llamacpp/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    "${isa[@]}" -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build build-llamacpp/build --target llama-bench -j"$THREADS" >/dev/null
  mkdir -p build-llamacpp/bin
  cp build-llamacpp/build/bin/llama-bench build-llamacpp/bin/
fi
if [ -n "$LLAMA_BENCH" ] && [ ! -x "$LLAMA_BENCH" ]; then
  log "no llama-bench at $LLAMA_BENCH: lowbit only (set LLAMA_BENCH, or BUILD_LLAMA=1)"
  LLAMA_BENCH=
fi

# Read bandwidth, same run.
cc -O3 -march=native -pthread bench/stream_read.c -o "$WORK/stream-read"
BW_JSON=$("$WORK/stream-read" "$THREADS" 1024 10)
log "read bandwidth: $BW_JSON"

# GGUF tensor bytes a decode step streams: all tensors but token_embd (one
# row of it). Sizes from consecutive data offsets (no type table needed).
gguf_bytes_per_token() {
  python3 - "$1" <<'EOF'
import os, struct, sys
path = sys.argv[1]
f = open(path, 'rb')
def rd(fmt): return struct.unpack('<' + fmt, f.read(struct.calcsize(fmt)))[0]
def rs(): n = rd('Q'); return f.read(n).decode('utf-8', 'replace')
SIZES = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}
def skip(t):
    if t == 8: rs()
    elif t == 9:
        et, n = rd('I'), rd('Q')
        if et in SIZES: f.seek(n * struct.calcsize(SIZES[et]), 1)
        else:
            for _ in range(n): skip(et)
    else: f.seek(struct.calcsize(SIZES[t]), 1)
assert f.read(4) == b'GGUF'
rd('I'); nt, nkv = rd('Q'), rd('Q')
align = 32
for _ in range(nkv):
    k, t = rs(), rd('I')
    if k == 'general.alignment' and t == 4: align = rd('I')
    else: skip(t)
infos = []
for _ in range(nt):
    name = rs(); nd = rd('I'); dims = [rd('Q') for _ in range(nd)]
    rd('I'); infos.append((rd('Q'), name, dims))
start = (f.tell() + align - 1) // align * align
end = os.path.getsize(path) - start
infos.sort()
total = emb = 0
for i, (off, name, dims) in enumerate(infos):
    size = (infos[i + 1][0] if i + 1 < len(infos) else end) - off
    total += size
    if name == 'token_embd.weight': emb = size; rows = dims[1] if len(dims) > 1 else 1
print(total - emb + (emb // rows if emb else 0))
EOF
}

# llama-bench -o json: best sample of pp and tg.
llama_bench() {
  local gguf=$1 out=$2
  "$LLAMA_BENCH" -m "$gguf" "${LLAMA_LOAD[@]}" -t "$THREADS" -p "$PP" -n "$TG" -r "$REPS" -o json >"$out" 2>"$out.log" && return 0
  # A native build on a CPU with AMX can crash in its AMX matmul (batches
  # only): keep tg then.
  log "llama-bench failed (rc $?) on $gguf: $(tail -3 "$out.log"); retrying tg only (-p 0)"
  "$LLAMA_BENCH" -m "$gguf" "${LLAMA_LOAD[@]}" -t "$THREADS" -p 0 -n "$TG" -r "$REPS" -o json >"$out" 2>>"$out.log" || {
    log "llama-bench -p 0 failed too on $gguf"; echo '[]' >"$out"; }
}
# tg at cache depth DEPTH (llama-bench -d), when asked for this model/format.
wants_depth() { [ "$DEPTH" -gt 0 ] && [ "$1" = tinyllama-1.1b ] && [[ " $DEPTH_FORMATS " == *" $2 "* ]]; }

# One .lbx of one source for one target: compile, bench, probe; one row.
measure() {
  local model=$1 format=$2 src=$3 gguf=$4 target=$5 llama_json=$6
  local tag=$model-$format-$target lbx=$WORK/$model-$format-$target.lbx
  log "$tag: compile"
  if ! /usr/bin/time -v -o "$WORK/$tag.time" "$BIN/lowbit-compile" "$src" --target="$target" -o "$lbx" \
       >"$WORK/$tag.compile.log" 2>&1; then
    log "$tag: lowbit-compile failed: $(tail -5 "$WORK/$tag.compile.log")"
    python3 -c 'import json,sys; print(json.dumps({"model":sys.argv[1],"format":sys.argv[2],"target":sys.argv[3],"error":"lowbit-compile: "+sys.argv[4]}))' \
      "$model" "$format" "$target" "$(tail -3 "$WORK/$tag.compile.log")" >>"$ROWS"
    return 0
  fi
  log "$tag: lowbit-run bench -p $PP -n $TG -r $REPS"
  /usr/bin/time -f '%e %U %S' -o "$WORK/$tag.bench.time" \
  "$BIN/lowbit-run" bench "${LOWBIT_LOAD[@]}" -p "$PP" -n "$TG" -r "$REPS" --threads "$THREADS" --json "$lbx" \
    >"$WORK/$tag.bench.json" 2>"$WORK/$tag.bench.log" || {
    log "$tag: lowbit-run bench failed: $(tail -3 "$WORK/$tag.bench.log")"; echo '{}' >"$WORK/$tag.bench.json"; }
  log "$tag: probe (prompt $PROBE_PROMPT)"
  "$BIN/lowbit-lbx-probe" "$lbx" --threads "$THREADS" --prompt "$PROBE_PROMPT" --decode 8 \
    >"$WORK/$tag.probe.json" 2>"$WORK/$tag.probe.log" || {
    log "$tag: probe failed: $(tail -3 "$WORK/$tag.probe.log")"; echo '{}' >"$WORK/$tag.probe.json"; }
  rm -f "$WORK/$tag.depth.json" # an earlier run's, which this run may not repeat
  if wants_depth "$model" "$format"; then
    log "$tag: tg$DEPTH_TG at depth $DEPTH"
    "$BIN/lowbit-run" bench "${LOWBIT_LOAD[@]}" -p 0 -n "$DEPTH_TG" -d "$DEPTH" -r "$REPS" --threads "$THREADS" --json "$lbx" \
      >"$WORK/$tag.depth.json" 2>"$WORK/$tag.depth.log" || echo '{}' >"$WORK/$tag.depth.json"
  fi
  local gbpt=""
  [ -n "$gguf" ] && gbpt=$(gguf_bytes_per_token "$gguf")
  python3 - "$model" "$format" "$target" "$lbx" "$WORK/$tag.time" "$WORK/$tag.bench.json" \
    "$WORK/$tag.probe.json" "$llama_json" "${gbpt:-0}" "$PP" "$TG" >>"$ROWS" <<'EOF'
import json, os, re, sys
model, fmt, target, lbx, timef, benchf, probef, llamaf, gbpt, pp, tg = sys.argv[1:]
row = {"model": model, "format": fmt, "target": target, "lbx_bytes": os.path.getsize(lbx)}
t = open(timef).read()
m = re.search(r'Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)', t)
parts = [float(x) for x in m.group(1).split(':')]
row["compile_s"] = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
row["compile_peak_mb"] = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', t).group(1)) / 1024
b = json.load(open(benchf))
for r in b.get("results", []):
    key = "pp" if r["test"].startswith("pp") else "tg"
    row["lowbit_" + key] = r["tokens_per_second"]
try:
    w, u, sy = (float(x) for x in open(benchf.replace(".bench.json", ".bench.time")).read().split()[-3:])
    row["bench_cpu_share"] = (u + sy) / w  # cores the bench process got on average (THREADS at most)
except (OSError, ValueError): pass
depthf = benchf.replace(".bench.json", ".depth.json")
if os.path.exists(depthf):
    row["depth"] = int(os.environ.get("DEPTH", "0"))
    for r in json.load(open(depthf)).get("results", []):
        row["lowbit_tg_depth"] = r["tokens_per_second"]
    if os.path.exists(llamaf + ".depth"):
        for r in json.load(open(llamaf + ".depth")):
            row["llama_tg_depth"] = max(r.get("samples_ts") or [r["avg_ts"]])
p = json.load(open(probef))
for k in ("bytes_per_token", "load_s", "first_token_s", "ttft_from_start_s", "prompt"):
    if k in p: row[k] = p[k]
for k in ("rss_after_load_kb", "rss_after_first_token_kb", "rss_peak_kb"):
    if k in p: row[k.replace("_kb", "_mb")] = p[k] / 1024
if llamaf and os.path.exists(llamaf):
    for r in json.load(open(llamaf)):
        best = max(r.get("samples_ts") or [r["avg_ts"]])
        if r["n_prompt"] > 0 and r["n_gen"] == 0: row["llama_pp"] = best
        if r["n_gen"] > 0 and r["n_prompt"] == 0: row["llama_tg"] = best
    if int(gbpt): row["gguf_bytes_per_token"] = int(gbpt)
print(json.dumps(row))
EOF
}

for model in $MODELS; do
  case $model in
    llama-27m)
      formats=$FORMATS_27M
      for f in $formats; do
        gguf=$WORK/$model-$f.gguf
        [ -s "$gguf" ] || { log "$model: export $f"; "$BIN/lowbit-translate" --export-gguf --outtype "$f" \
          "$SHARED/models/llama-27m" -o "$gguf" 2>"$WORK/$model-$f.export.log"; }
      done
      ;;
    tinyllama-1.1b)
      formats=$FORMATS_1B
      base=$WORK/$model-f16.gguf
      if [ ! -s "$base" ]; then
        log "$model: random F16 GGUF${LAYERS:+ ($LAYERS layers)}"
        "$BIN/lowbit-make-random-gguf" "$base" --shape tinyllama-1.1b ${LAYERS:+--layers "$LAYERS"} >&2
      fi
      for f in $formats; do
        case $f in
          w4g128|nf4)
            [ -s "$WORK/$model.mlir" ] || "$BIN/lowbit-translate" --import-gguf "$base" -o "$WORK/$model.mlir"
            if [ ! -s "$WORK/$model-$f.mlir" ]; then
              log "$model: $f"
              if [ "$f" = w4g128 ]; then
                pass="--lowbit-rtn=bits=4 group-size=128 side-file=$ROOT/$WORK/$model-$f.safetensors"
              else
                pass="--lowbit-bnb-4bit=quant-type=nf4 double-quant=true side-file=$ROOT/$WORK/$model-$f.safetensors"
              fi
              /usr/bin/time -f '%e s, %M kB' "$BIN/lowbit-opt" "$WORK/$model.mlir" "$pass" -o "$WORK/$model-$f.mlir" >&2
            fi ;;
          f16) ;;
          *)
            gguf=$WORK/$model-$f.gguf
            [ -s "$gguf" ] || { log "$model: export $f"; "$BIN/lowbit-translate" --export-gguf --outtype "$f" \
              "$base" -o "$gguf" 2>"$WORK/$model-$f.export.log"; } ;;
        esac
      done
      ;;
    *) echo "unknown model $model (llama-27m, tinyllama-1.1b)" >&2; exit 1 ;;
  esac

  for f in $formats; do
    case $f in
      w4g128|nf4) src=$WORK/$model-$f.mlir gguf= ;;
      *) src=$WORK/$model-$f.gguf gguf=$src ;;
    esac
    llama_json=
    if [ -n "$gguf" ] && [ -n "$LLAMA_BENCH" ]; then
      llama_json=$WORK/$model-$f.llama.json
      log "$model-$f: llama-bench -t $THREADS -p $PP -n $TG -r $REPS"
      llama_bench "$gguf" "$llama_json"
      if wants_depth "$model" "$f"; then
        log "$model-$f: llama-bench tg$DEPTH_TG at depth $DEPTH"
        "$LLAMA_BENCH" -m "$gguf" "${LLAMA_LOAD[@]}" -t "$THREADS" -p 0 -n "$DEPTH_TG" -d "$DEPTH" -r "$REPS" -o json \
          >"$llama_json.depth" 2>"$llama_json.depth.log" || echo '[]' >"$llama_json.depth"
      fi
    fi
    for target in $TARGETS; do
      measure "$model" "$f" "$src" "$gguf" "$target" "$llama_json"
    done
  done

  # The IR interpreter on the same GGUF, for the runtime/interpreter ratio.
  if [ "$model" = llama-27m ] && [ "$INTERP_TG" -gt 0 ]; then
    f=$(echo $formats | cut -d' ' -f1)
    log "$model-$f: interpreter tg$INTERP_TG"
    "$BIN/lowbit-run" bench -p 0 -n "$INTERP_TG" -r 1 --json "$WORK/$model-$f.gguf" >"$WORK/interp.json" 2>"$WORK/interp.log" \
      && python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(json.dumps({"model":sys.argv[2],"format":sys.argv[3],"target":"interpreter","interp_tg":r["tokens_per_second"],"interp_tokens":r["tokens"]}))' \
         "$WORK/interp.json" "$model" "$f" >>"$ROWS" \
      || log "interpreter failed: $(tail -3 "$WORK/interp.log")"
  fi
  [ "$KEEP" = 1 ] || rm -f "$WORK/$model"-*.gguf "$WORK/$model"*.mlir "$WORK/$model"-*.safetensors "$WORK/$model"-*.lbx
done

# Report: markdown to stdout, JSON to OUT_JSON.
python3 - "$ROWS" "$OUT_JSON" "$BW_JSON" "$THREADS" "$PP" "$TG" "$REPS" <<'EOF'
import json, sys
rowsf, outf, bwj, threads, pp, tg, reps = sys.argv[1:]
bw = json.loads(bwj)
gbs = bw["read_gb_per_s"]
rows = [json.loads(l) for l in open(rowsf) if l.strip()]
interp = {(r["model"], r["format"]): r for r in rows if r.get("target") == "interpreter"}
runs = [r for r in rows if r.get("target") != "interpreter"]
for r in runs:
    if r.get("lowbit_tg") and r.get("bytes_per_token"):
        r["lowbit_bw_pct"] = 100 * r["bytes_per_token"] * r["lowbit_tg"] / (gbs * 1e9)
    if r.get("llama_tg") and r.get("gguf_bytes_per_token"):
        r["llama_bw_pct"] = 100 * r["gguf_bytes_per_token"] * r["llama_tg"] / (gbs * 1e9)
    for k in ("pp", "tg", "tg_depth"):
        if r.get("lowbit_" + k) and r.get("llama_" + k):
            r["ratio_" + k] = r["lowbit_" + k] / r["llama_" + k]
    i = interp.get((r["model"], r["format"]))
    if i and r.get("lowbit_tg"):
        r["runtime_over_interpreter_tg"] = r["lowbit_tg"] / i["interp_tg"]
load = open("/proc/loadavg").read().split()[:3]
json.dump({"loadavg_end": load, "cpus": __import__("os").cpu_count(), "threads": int(threads), "pp": int(pp), "tg": int(tg), "reps": int(reps),
           "bandwidth": bw, "rows": rows}, open(outf, "w"), indent=1)

def f(v, d=1):
    return "—" if v is None else f"{v:.{d}f}"
print(f"read bandwidth ({threads} threads): {gbs:.1f} GB/s; best of {reps}; pp{pp} / tg{tg}; "
      f"load average at the end {' '.join(load)} on {__import__('os').cpu_count()} CPUs\n")
print(f"| model | format | target | lowbit pp{pp} | llama.cpp pp{pp} | ratio | lowbit tg{tg} | llama.cpp tg{tg} | ratio "
      "| MB/token | lowbit % BW | llama.cpp % BW | load s | TTFT s | RSS load MB | RSS 1st tok MB | compile s | compile peak MB | bench CPU share |")
print("|" + "---|" * 19)
for r in runs:
    if "error" in r:
        print(f"| {r['model']} | {r['format']} | {r['target']} | error: {r['error'][:120]} |" + " |" * 15)
        continue
    print(f"| {r['model']} | {r['format']} | {r['target']} | {f(r.get('lowbit_pp'))} | {f(r.get('llama_pp'))} | {f(r.get('ratio_pp'),2)} "
          f"| {f(r.get('lowbit_tg'))} | {f(r.get('llama_tg'))} | {f(r.get('ratio_tg'),2)} "
          f"| {f((r.get('bytes_per_token') or 0)/1e6)} | {f(r.get('lowbit_bw_pct'))} | {f(r.get('llama_bw_pct'))} "
          f"| {f(r.get('load_s'),3)} | {f(r.get('first_token_s'),3)} | {f(r.get('rss_after_load_mb'),0)} | {f(r.get('rss_after_first_token_mb'),0)} "
          f"| {f(r.get('compile_s'))} | {f(r.get('compile_peak_mb'),0)} | {f(r.get('bench_cpu_share'),2)} |")
for (m, fm), i in interp.items():
    best = max((r.get("lowbit_tg") or 0 for r in runs if r["model"] == m and r["format"] == fm), default=0)
    print(f"\nIR interpreter, {m} {fm}: tg{i['interp_tokens']} {i['interp_tg']:.1f} t/s; best compiled tg {best:.1f} t/s "
          f"= {best / i['interp_tg']:.2f}x the interpreter")
for r in runs:
    if r.get("lowbit_tg_depth"):
        print(f"\nlong context, {r['model']} {r['format']} {r['target']}: tg at depth {r.get('depth', '')}"
              f" lowbit {f(r.get('lowbit_tg_depth'))} t/s, llama.cpp {f(r.get('llama_tg_depth'))} t/s,"
              f" ratio {f(r.get('ratio_tg_depth'), 2)}")
print(f"\nTTFT: prefill of a {runs[0].get('prompt', '?') if runs else '?'}-token prompt plus the first token's sampling, after load. JSON: {outf}")
EOF
