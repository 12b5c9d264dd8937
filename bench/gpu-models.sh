#!/usr/bin/env bash
# Prepares the whole-model GPU check that bench/gpu.sh runs on a GPU machine
# (which has no MLIR/LLVM): GPU artifacts of the bundled model and of
# llama-27m, their CPU artifacts' P2 perplexity measured here by the same
# program, and that program (lowbit-gpu-model-bench, the runtime alone) with
# the one library it needs beyond the C and C++ runtimes. Everything lands in
# OUT (default build-gpu-models), which a GPU machine's run carries along.
#
#   bash bench/gpu-models.sh          # after scripts/setup.sh
#
# Models (each compiled for TARGET, default sm_90, and for this CPU):
#   tiny-rtn       tiny-5m, RTN w4g128 (the GPTQ/AWQ layout: q4g128 kernels)
#   tiny-f16       tiny-5m, float weights (f16 kernels)
#   tiny-q4_k_m    tiny-5m as a GGUF Q4_K_M (q4k and q6k kernels, q8k rounding)
#   tiny-q8_0      tiny-5m as a GGUF Q8_0 (q8g32 kernels, q80 rounding)
#   tiny-gptq-act  tiny-5m, act-order GPTQ w4g128 on its calibration text
#                  (q4g128 kernels behind column permutations)
#   llama27m-q4_k_m  llama-27m from ../shared as a GGUF Q4_K_M (skipped without it)
# A GPU run carries at most 64 MiB: these take about 51. MODELS=NAME,... picks
# others among them and tiny-rtn8 (RTN w8g128: q8g128 kernels), tiny-nf4
# (bitsandbytes NF4: lut4 kernels), llama27m-rtn (27 MiB), llama27m-q8_0
# (29 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${LOWBIT_BIN:-build/bin}
OUT=${OUT:-build-gpu-models}
TARGET=${TARGET:-sm_90}
SHARED=${LOWBIT_SHARED:-../shared}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
rm -rf "$OUT"; mkdir -p "$OUT/lib"

for tool in lowbit-translate lowbit-opt lowbit-compile lowbit-gpu-model-bench; do
  [[ -x $B/$tool ]] || { echo "gpu-models.sh: $B/$tool is missing; build first (scripts/setup.sh)" >&2; exit 1; }
done
cp "$B/lowbit-gpu-model-bench" "$OUT/"
# The one shared library beyond libc/libstdc++ (a GPU image may lack it).
ldd "$B/lowbit-gpu-model-bench" | awk '/libsentencepiece/ {print $3}' | xargs -r -I{} cp -L {} "$OUT/lib/"

# name, source model, quantization (rtn, float or a GGUF type), text, chunks
TINY_TEXT=models/tiny-5m/data/heldout.txt
available=("tiny-rtn models/tiny-5m rtn $TINY_TEXT 66"
           "tiny-f16 models/tiny-5m float $TINY_TEXT 66"
           "tiny-q4_k_m models/tiny-5m q4_k_m $TINY_TEXT 66"
           "tiny-q8_0 models/tiny-5m q8_0 $TINY_TEXT 66"
           "tiny-gptq-act models/tiny-5m gptq-act $TINY_TEXT 66"
           "tiny-rtn8 models/tiny-5m rtn8 $TINY_TEXT 66"
           "tiny-nf4 models/tiny-5m nf4 $TINY_TEXT 66")
if [[ -d $SHARED/models/llama-27m && -f $SHARED/data/wikitext2-test.txt ]]; then
  cp "$SHARED/data/wikitext2-test.txt" "$OUT/"
  for quant in q4_k_m rtn q8_0; do
    available+=("llama27m-$quant $SHARED/models/llama-27m $quant $OUT/wikitext2-test.txt 150")
  done
else
  echo "gpu-models.sh: $SHARED/models/llama-27m not present: llama-27m skipped" >&2
fi
wanted=,${MODELS:-tiny-rtn,tiny-f16,tiny-q4_k_m,tiny-q8_0,tiny-gptq-act,llama27m-q4_k_m},
models=()
for entry in "${available[@]}"; do
  [[ $wanted == *",${entry%% *},"* ]] && models+=("$entry")
done
: >"$OUT/models.txt"
for entry in "${models[@]}"; do
  read -r name source quant text chunks <<<"$entry"
  echo "gpu-models.sh: $name" >&2
  "$B/lowbit-translate" --import-hf "$source" -o "$TMP/$name-float.mlir" 2>/dev/null
  ir=$TMP/$name-float.mlir
  if [[ $quant == q* ]]; then
    # A GGUF file as llama-quantize's mix makes it; lowbit-compile reads it.
    "$B/lowbit-translate" --export-gguf --outtype "$quant" "$source" -o "$TMP/$name.gguf" 2>/dev/null
    ir=$TMP/$name.gguf
  elif [[ $quant != float ]]; then
    case $quant in
      rtn) pass="--lowbit-rtn=bits=4 group-size=128" ;;
      rtn8) pass="--lowbit-rtn=bits=8 group-size=128" ;;
      gptq-act) pass="--lowbit-gptq=file=$source/data/calib.txt bits=4 group-size=128 act-order=true" ;;
      nf4) pass="--lowbit-bnb-4bit=quant-type=nf4 double-quant=true" ;;
    esac
    "$B/lowbit-opt" "$ir" "$pass side-file=$TMP/$name.safetensors" -o "$TMP/$name.mlir" 2>/dev/null
    ir=$TMP/$name.mlir
  fi
  "$B/lowbit-compile" "$ir" --target="$TARGET" -o "$OUT/$name.lbx"
  "$B/lowbit-compile" "$ir" --target=native -o "$TMP/$name-cpu.lbx" 2>/dev/null
  ref=$("$B/lowbit-gpu-model-bench" --cpu --text "$text" --chunks "$chunks" "$name=$TMP/$name-cpu.lbx")
  # models.txt: NAME TEXT CHUNKS REFERENCE (text relative to the repository root)
  echo "$name $text $chunks ${ref#*=}" >>"$OUT/models.txt"
  echo "gpu-models.sh: $name CPU artifact P2 ${ref#*=}" >&2
done
du -sh "$OUT"
echo "gpu-models.sh: ready in $OUT; bench/gpu.sh runs it on a GPU"
