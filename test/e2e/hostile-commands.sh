#!/usr/bin/env bash
# Mistaken commands: outputs that name an input, outputs that are links,
# devices or FIFOs, and options out of range. Every refused command must exit
# non-zero without a signal, name the file or option at fault, leave no
# output behind and leave every input byte-identical.
set -uo pipefail
T=$LOWBIT_TMP/hostile-commands; rm -rf "$T"; mkdir -p "$T"; cd "$T" || exit 1
B=$LOWBIT_BIN
TINY=$LOWBIT_MODELS/tiny-5m
TEXT=$TINY/data/heldout.txt
fails=0; cases=0

mkdir m && cp "$TINY"/*.json "$TINY"/tokenizer.model "$TINY"/model.safetensors m/
"$B/lowbit-translate" --import-hf m -o t.mlir 2>/dev/null || { echo "FAIL set-up: import"; exit 1; }
"$B/lowbit-translate" --export-gguf --outtype q8_0 m -o x.gguf 2>/dev/null || { echo "FAIL set-up: export"; exit 1; }
"$B/lowbit-translate" --export-gguf --outtype f16 m -o f.gguf 2>/dev/null || { echo "FAIL set-up: export f16"; exit 1; }
"$B/lowbit-translate" --import-gguf x.gguf -o g.mlir 2>/dev/null || { echo "FAIL set-up: import gguf"; exit 1; }
"$B/lowbit-translate" --import-gguf f.gguf -o gf.mlir 2>/dev/null || { echo "FAIL set-up: import f16 gguf"; exit 1; }
"$B/lowbit-opt" t.mlir --lowbit-rtn="bits=4 group-size=64 side-file=rtn.safetensors" -o rtn.mlir 2>/dev/null || { echo "FAIL set-up: rtn"; exit 1; }
cp "$TINY/data/calib.txt" calib.txt
ln x.gguf hard.gguf
ln -s m/model.safetensors weights-link.safetensors
ln -s t.mlir t-link.mlir
mkdir existing-dir
printf 'a b' > short.txt
INPUTS=(m/config.json m/tokenizer.model m/tokenizer_config.json m/model.safetensors t.mlir x.gguf g.mlir f.gguf gf.mlir rtn.mlir rtn.safetensors calib.txt short.txt)
sha256sum "${INPUTS[@]}" > "$T/inputs.sha256"

# refuse NAME PATTERN OUTPUT -- command...: the command must fail (status 1..127)
# with stderr matching PATTERN; OUTPUT (a path that did not exist, or "-")
# must not exist afterwards and no temporary may be left; inputs unchanged.
refuse() {
  local name=$1 pattern=$2 out=$3; shift 4
  cases=$((cases+1))
  local before; before=$(ls -A | sort)
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; fails=$((fails+1)); return; fi
  if [ $rc -ge 128 ]; then echo "FAIL $name: killed by signal $((rc-128)): $err"; fails=$((fails+1)); return; fi
  if ! grep -qE -- "$pattern" <<<"$err"; then
    echo "FAIL $name: message does not match /$pattern/: $err"; fails=$((fails+1)); return; fi
  if grep -qE 'PLEASE submit|Stack dump|LLVM ERROR|internal error' <<<"$err"; then
    echo "FAIL $name: crash banner: $err"; fails=$((fails+1)); return; fi
  if [ "$out" != - ] && [ -e "$out" ] && ! grep -qxF "$out" <<<"$before"; then
    echo "FAIL $name: output $out left behind"; fails=$((fails+1)); return; fi
  local after; after=$(ls -A | sort)
  if [ "$before" != "$after" ]; then
    echo "FAIL $name: files appeared: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
    fails=$((fails+1)); return; fi
  if ! sha256sum --quiet -c "$T/inputs.sha256" >/dev/null 2>&1; then
    echo "FAIL $name: an input changed"; fails=$((fails+1))
    sha256sum "${INPUTS[@]}" > "$T/inputs.sha256"; return; fi
  echo "ok   $name: $(head -1 <<<"$err" | cut -c1-150)"
}

# --- outputs that are inputs ---------------------------------------------
SELF='refusing to write: this output is the input'
refuse import-gguf-onto-itself "x.gguf: $SELF" - -- "$B/lowbit-translate" --import-gguf x.gguf -o x.gguf
refuse import-hf-onto-weights "model.safetensors: $SELF" - -- "$B/lowbit-translate" --import-hf m -o m/model.safetensors
refuse import-hf-onto-config "config.json: $SELF" - -- "$B/lowbit-translate" --import-hf m -o m/config.json
refuse import-hf-onto-tokenizer "tokenizer.model: $SELF" - -- "$B/lowbit-translate" --import-hf m -o m/tokenizer.model
refuse export-gguf-onto-weights "model.safetensors: $SELF" - -- "$B/lowbit-translate" --export-gguf m -o m/model.safetensors
refuse export-gguf-onto-ir "t.mlir: $SELF" - -- "$B/lowbit-translate" --export-gguf t.mlir -o t.mlir
refuse export-gguf-onto-hard-link "hard.gguf: $SELF" - -- "$B/lowbit-translate" --export-gguf --outtype q4_0 x.gguf -o hard.gguf
refuse export-gguf-onto-symlinked-input "weights-link.safetensors: $SELF" - -- "$B/lowbit-translate" --export-gguf m -o weights-link.safetensors
refuse export-gguf-onto-ir-weights "x.gguf: $SELF" - -- "$B/lowbit-translate" --export-gguf --outtype q4_0 g.mlir -o x.gguf
refuse opt-onto-itself "t.mlir: $SELF" - -- "$B/lowbit-opt" t.mlir -o t.mlir
refuse opt-onto-link-to-itself "t-link.mlir: $SELF" - -- "$B/lowbit-opt" t.mlir -o t-link.mlir
refuse side-file-onto-weights "model.safetensors: $SELF" - -- "$B/lowbit-opt" t.mlir --lowbit-convert-weights="dtype=f16 side-file=m/model.safetensors" -o o1.mlir
refuse rtn-side-file-onto-weights "model.safetensors: $SELF" - -- "$B/lowbit-opt" t.mlir --lowbit-rtn="bits=4 group-size=64 side-file=m/model.safetensors" -o o2.mlir
refuse quantize-side-file-onto-source "f.gguf: $SELF" - -- "$B/lowbit-opt" gf.mlir --lowbit-gguf-quantize="ftype=q4_0 side-file=f.gguf" -o o3.mlir
refuse rtn-side-file-onto-its-source "rtn.safetensors: $SELF" - -- "$B/lowbit-opt" rtn.mlir --lowbit-convert-weights="dtype=f16 side-file=rtn.safetensors" -o o6.mlir
refuse calibrate-output-onto-text "calib.txt: $SELF" - -- "$B/lowbit-opt" t.mlir --lowbit-calibrate="file=calib.txt output=calib.txt" -o o4.mlir
refuse calibrate-imatrix-onto-weights "model.safetensors: $SELF" - -- "$B/lowbit-opt" t.mlir --lowbit-calibrate="file=calib.txt output=s.pb imatrix-output=m/model.safetensors" -o o5.mlir
refuse compile-onto-gguf "x.gguf: $SELF" - -- "$B/lowbit-compile" x.gguf -o x.gguf
refuse compile-onto-weights "model.safetensors: $SELF" - -- "$B/lowbit-compile" m -o m/model.safetensors
refuse compile-onto-ir "t.mlir: $SELF" - -- "$B/lowbit-compile" t.mlir -o t.mlir
refuse export-gptq-into-model-dir "m: already exists and is not an empty directory" - -- "$B/lowbit-translate" --export-gptq m rtn.mlir
refuse export-awq-into-model-dir "m: already exists and is not an empty directory" - -- "$B/lowbit-translate" --export-awq m rtn.mlir
refuse output-is-directory "existing-dir: is a directory" - -- "$B/lowbit-opt" t.mlir -o existing-dir
refuse output-in-missing-directory "no-such-dir/o.mlir: cannot create output" no-such-dir -- "$B/lowbit-opt" t.mlir -o no-such-dir/o.mlir

# --- options out of range -------------------------------------------------
RUN=("$B/lowbit-run")
refuse temperature-nan "--temperature nan" - -- "${RUN[@]}" generate --temperature nan m
refuse temperature-negative "--temperature -1" - -- "${RUN[@]}" generate --temperature -1 m
refuse temperature-inf "--temperature (inf|INF)" - -- "${RUN[@]}" generate --temperature inf m
refuse top-p-zero "--top-p 0" - -- "${RUN[@]}" generate --top-p 0 m
refuse top-p-nan "--top-p nan" - -- "${RUN[@]}" generate --top-p nan m
refuse top-p-above-one "--top-p 1.5" - -- "${RUN[@]}" generate --top-p 1.5 m
refuse top-k-negative "--top-k -1" - -- "${RUN[@]}" generate --top-k -1 m
refuse tokens-negative "-n -5" - -- "${RUN[@]}" generate -n -5 m
refuse prompt-token-out-of-vocab "--prompt-tokens: invalid token id '99999'" - -- "${RUN[@]}" generate --prompt-tokens 1,99999 m
refuse threads-negative "--threads -1" - -- "${RUN[@]}" generate --threads -1 m
refuse threads-huge "--threads 99999" - -- "${RUN[@]}" generate --threads 99999 m
"$B/lowbit-compile" x.gguf -o x.lbx 2>/dev/null || { echo "FAIL set-up: compile"; exit 1; }
refuse cpus-not-a-number "--cpus: 'a' is not a CPU number" - -- "${RUN[@]}" generate --cpus 0,a x.lbx
refuse cpus-range-backwards "--cpus: '3-1' is not a CPU number" - -- "${RUN[@]}" generate --cpus 3-1 x.lbx
refuse cpus-absent "CPU 4095 is not one of this machine's" - -- "${RUN[@]}" generate --cpus 4095 x.lbx
refuse device-unknown "--device: 'gpu' is not cpu or cuda:N" - -- "${RUN[@]}" generate --device gpu x.lbx
# A CPU artifact does not run on a GPU; a GPU artifact needs a driver and cuda:3.
refuse device-cuda "x.lbx: compiled for .*, a CPU: run it on the CPU" - -- "${RUN[@]}" generate --device cuda:3 x.lbx
"$B/lowbit-compile" m --target=sm_90 -o gpu.lbx 2>/dev/null || { echo "FAIL set-up: compile for sm_90"; exit 1; }
refuse device-cuda-gpu-artifact "gpu.lbx: (no CUDA driver|cuda:3: no such device)" - -- "${RUN[@]}" generate --device cuda:3 gpu.lbx
refuse gpu-artifact-on-cpu "gpu.lbx: compiled for sm_90, an NVIDIA GPU: run it with --device cuda:0" - -- "${RUN[@]}" generate gpu.lbx
refuse chunks-negative "--chunks -5" - -- "${RUN[@]}" perplexity --chunks -5 --file "$TEXT" m
refuse chunks-zero "--chunks 0" - -- "${RUN[@]}" perplexity --chunks 0 --file "$TEXT" m
refuse ctx-one "--ctx 1" - -- "${RUN[@]}" perplexity --ctx 1 --file "$TEXT" m
refuse ctx-two-p2 "--ctx 2: protocol p2" - -- "${RUN[@]}" perplexity --protocol p2 --ctx 2 --file "$TEXT" m
refuse ctx-beyond-model "--ctx 99999 is outside" - -- "${RUN[@]}" perplexity --ctx 99999 --file "$TEXT" m
refuse protocol-unknown "--protocol must be p1 or p2, not 'p3'" - -- "${RUN[@]}" perplexity --protocol p3 --file "$TEXT" m
refuse text-shorter-than-window "fewer than one window" - -- "${RUN[@]}" perplexity --file short.txt m
refuse text-missing "no-such.txt: cannot open" - -- "${RUN[@]}" perplexity --file no-such.txt m
refuse bench-reps-zero "-r 0" - -- "${RUN[@]}" bench -r 0 m
refuse bench-prompt-negative "-p -3" - -- "${RUN[@]}" bench -p -3 m
refuse bench-gen-negative "-n -3" - -- "${RUN[@]}" bench -p 0 -n -3 m
refuse bench-depth-negative "depth -1" - -- "${RUN[@]}" bench -d -1 m
refuse bench-nothing "-p 0 -n 0: nothing to measure" - -- "${RUN[@]}" bench -p 0 -n 0 m
refuse bench-beyond-context "do not fit the context" - -- "${RUN[@]}" bench -p 4000 -n 0 m
refuse compile-target-unknown "--target 'x86-64-v9'" o.lbx -- "$B/lowbit-compile" --target=x86-64-v9 m -o o.lbx
refuse outtype-unknown "q9_9" o.gguf -- "$B/lowbit-translate" --export-gguf --outtype q9_9 m -o o.gguf
refuse rtn-bits-zero "--lowbit-rtn: bits must be 2..8, not 0" o.mlir -- "$B/lowbit-opt" t.mlir --lowbit-rtn="bits=0 side-file=r.safetensors" -o o.mlir
refuse rtn-group-negative "group-size must be positive or -1, not -5" o.mlir -- "$B/lowbit-opt" t.mlir --lowbit-rtn="bits=4 group-size=-5 side-file=r.safetensors" -o o.mlir
refuse rtn-group-not-dividing "group size 100 does not divide" o.mlir -- "$B/lowbit-opt" t.mlir --lowbit-rtn="bits=4 group-size=100 side-file=r.safetensors" -o o.mlir
refuse gguf-quantize-type-unknown "unknown GGUF type 'q9'" o.mlir -- "$B/lowbit-opt" t.mlir --lowbit-gguf-quantize="ftype=q9 side-file=r.gguf" -o o.mlir
refuse bnb-type-unknown "quant-type must be nf4 or fp4, not 'nf5'" o.mlir -- "$B/lowbit-opt" t.mlir --lowbit-bnb-4bit="quant-type=nf5 side-file=r.safetensors" -o o.mlir
refuse calibrate-windows-negative "at least one window, not -3" o.mlir -- "$B/lowbit-opt" t.mlir --lowbit-calibrate="file=calib.txt output=s.pb windows=-3" -o o.mlir

# --- outputs that are links, devices and FIFOs (these succeed) -------------
ok_case() { cases=$((cases+1)); echo "ok   $1"; }
bad_case() { cases=$((cases+1)); echo "FAIL $1"; fails=$((fails+1)); }

ln -s target.mlir dangling.mlir
if "$B/lowbit-opt" t.mlir -o dangling.mlir 2>/dev/null && [ -L dangling.mlir ] && [ -s target.mlir ]; then
  ok_case "symlink-written-through: the link stays a link to the new file"
else bad_case "symlink-written-through"; fi
"$B/lowbit-opt" t.mlir -o target.mlir 2>/dev/null
if "$B/lowbit-opt" t.mlir -o dangling.mlir 2>/dev/null && [ -L dangling.mlir ] && cmp -s t.mlir target.mlir; then
  ok_case "symlink-to-existing-file: the target is replaced, the link kept"
else bad_case "symlink-to-existing-file"; fi
if "$B/lowbit-opt" t.mlir -o /dev/null 2>/dev/null && [ -c /dev/null ]; then
  ok_case "dev-null: written in place, still a device"
else bad_case "dev-null"; fi
if [ "$("$B/lowbit-opt" t.mlir -o /dev/stdout 2>/dev/null | wc -c)" -gt 1000 ]; then
  ok_case "dev-stdout: the IR reaches the pipe"
else bad_case "dev-stdout"; fi
mkfifo fifo
(cat fifo > fifo.out) &
if "$B/lowbit-opt" t.mlir -o fifo 2>/dev/null; wait; [ -p fifo ] && cmp -s fifo.out t.mlir; then
  ok_case "fifo: written in place, still a FIFO"
else bad_case "fifo"; fi
chmod 640 target.mlir
if "$B/lowbit-opt" t.mlir -o target.mlir 2>/dev/null && [ "$(stat -c %a target.mlir)" = 640 ]; then
  ok_case "replaced-file-keeps-permissions"
else bad_case "replaced-file-keeps-permissions: $(stat -c %a target.mlir)"; fi
if sha256sum --quiet -c "$T/inputs.sha256" >/dev/null 2>&1; then ok_case "inputs-unchanged-at-end"
else bad_case "inputs-unchanged-at-end"; fi

# --- an internal error: one line naming lowbit and the input, no LLVM banner,
# still a crash to the caller, and no partial output (under AddressSanitizer
# its own report replaces the handler, so the case is left out there) -------
if [ -z "${LOWBIT_SANITIZED:-}" ]; then
"$B/lowbit-opt" t.mlir --lowbit-calibrate="file=calib.txt output=crash.pb windows=64" -o crash.mlir 2> crash.err &
pid=$!; sleep 2; kill -SEGV $pid; wait $pid; rc=$?
if [ $rc -eq 139 ] && grep -q "^lowbit-opt: internal error (SIGSEGV) while processing 't.mlir'; this is a bug in lowbit" crash.err &&
   ! grep -qE 'PLEASE submit|Stack dump' crash.err && ! ls crash.* 2>/dev/null | grep -qv crash.err; then
  ok_case "crash-handler: $(grep 'internal error' crash.err)"
else bad_case "crash-handler: rc=$rc $(cat crash.err | tail -3)"; fi
fi

echo "$cases cases, $fails failed"
[ $fails -eq 0 ]
