#!/usr/bin/env bash
# Quantization throughput: lowbit's GGUF export beside llama.cpp's
# llama_model_quantize (node-llama-cpp's prebuilt libllama, via
# lowbit-llama-quantize), both on THREADS threads, on a random F16 model with
# TinyLlama-1.1B shapes, measured in the same run. Prints wall seconds (best
# of REPS runs), CPU seconds (user + system, of that run), peak RSS (which
# counts the pages of lowbit's memory-mapped input), output sizes, and whether
# every tensor of the two outputs is byte-identical (compared by name;
# metadata and tensor order differ). On a shared machine compare the CPU
# seconds too (cpu_ratio): other load inflates wall time, not CPU time.
#
#   bash bench/quantize.sh [TYPES]      e.g. "q8_0 q4_k_m"
# Environment: THREADS (2), REPS (1), BUILD_DIR (build), LAYERS (22).
# Needs: ninja -C build lowbit-translate lowbit-make-random-gguf
#        lowbit-llama-quantize. Scratch files (~2.2 GB input plus one pair of
# outputs) live under $BUILD_DIR and are deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
BIN=$BUILD/bin
THREADS=${THREADS:-2}
LAYERS=${LAYERS:-22}
REPS=${REPS:-1}
TYPES=${1:-q8_0 q4_0 q6_k q4_k_m q2_k}

for tool in lowbit-translate lowbit-make-random-gguf lowbit-llama-quantize; do
  [ -x "$BIN/$tool" ] || { echo "missing $BIN/$tool (build it first)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time)" >&2; exit 1; }

WORK=$(mktemp -d "$BUILD/quantize-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

ftype_id() {
  case $1 in
    q4_0) echo 2 ;; q8_0) echo 7 ;; q2_k) echo 10 ;; q4_k_m) echo 15 ;;
    q6_k) echo 18 ;; *) echo "unknown type $1" >&2; exit 1 ;;
  esac
}

echo "generating F16 model ($LAYERS layers, TinyLlama-1.1B shapes) ..." >&2
"$BIN/lowbit-make-random-gguf" --layers "$LAYERS" "$WORK/f16.gguf" >&2
IN="$WORK/f16.gguf"

# timed NAME CMD...: runs CMD REPS times under GNU time; sets SECS (best
# wall time), CPU and PEAK_MB (of that run). The input is read first so that
# every run starts with it in the page cache (this VM's cache does not
# reliably keep 2.2 GB between runs).
timed() {
  local log="$WORK/$1.log"; shift
  local rc rep secs kb usr sys
  SECS=
  for ((rep = 0; rep < REPS; ++rep)); do
    cat "$IN" > /dev/null
    rc=0
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" "$@" > "$log" 2>&1 || rc=$?
    if [ $rc != 0 ]; then
      echo "command failed ($rc): $*" >&2
      tail -5 "$log" >&2
      [ $rc = 77 ] && exit 77
      exit 1
    fi
    read -r secs kb usr sys < "$WORK/time"
    if [ -z "$SECS" ] || awk -v a="$secs" -v b="$SECS" 'BEGIN { exit !(a < b) }'; then
      SECS=$secs
      CPU=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
      PEAK_MB=$((kb / 1024))
    fi
  done
}

rows=()
for t in $TYPES; do
  id=$(ftype_id "$t")
  echo "== $t: llama.cpp ..." >&2
  timed llama-$t "$BIN/lowbit-llama-quantize" "$IN" "$WORK/llama.gguf" "$id" "$THREADS"
  l_s=$SECS l_cpu=$CPU l_mb=$PEAK_MB
  echo "== $t: lowbit ..." >&2
  timed lowbit-$t env LOWBIT_THREADS="$THREADS" "$BIN/lowbit-translate" \
    --export-gguf --outtype "$t" "$IN" -o "$WORK/lowbit.gguf"
  b_s=$SECS b_cpu=$CPU b_mb=$PEAK_MB
  l_bytes=$(stat -c %s "$WORK/llama.gguf")
  b_bytes=$(stat -c %s "$WORK/lowbit.gguf")
  if cmp_out=$("$BIN/lowbit-llama-quantize" --compare "$WORK/llama.gguf" "$WORK/lowbit.gguf"); then
    same=yes
  else
    same="NO ($(echo "$cmp_out" | tail -1))"
  fi
  ratio=$(awk -v a="$l_s" -v b="$b_s" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  cpu_ratio=$(awk -v a="$l_cpu" -v b="$b_cpu" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  rows+=("$(printf '%-7s %8s %8s %7sx %8s %8s %7sx %9s %9s %13s %13s  %s' \
    "$t" "$l_s" "$b_s" "$ratio" "$l_cpu" "$b_cpu" "$cpu_ratio" "$l_mb" "$b_mb" "$l_bytes" "$b_bytes" "$same")")
  rm -f "$WORK/llama.gguf" "$WORK/lowbit.gguf"
done

echo "input: $(stat -c %s "$IN") bytes F16; $THREADS threads; $(nproc) cores; best of $REPS;" \
  "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %8s %8s %8s %8s %8s %8s %9s %9s %13s %13s  %s\n' type wall_llm wall_lb speedup \
  cpu_llm cpu_lb cpu_ratio peakMB_llm peakMB_lb bytes_llm bytes_lb tensors_identical
for r in "${rows[@]}"; do echo "$r"; done
