#!/usr/bin/env bash
# Runs one fuzz target over its seed corpus and reports what it did:
#
#   fuzz/run-fuzzer.sh FUZZ_BUILD TARGET [libFuzzer flags...]
#
# prints "TARGET: N executions, C crashes (R exec/s)" and exits non-zero when
# the target crashed (the input is kept in FUZZ_BUILD/crashes/TARGET/) or
# could not run. New inputs the run finds go to $FUZZ_WORK when set (kept, and
# read again by the next run), else to a temporary directory.
set -uo pipefail
fuzz=$1 target=$2; shift 2
bin=$fuzz/bin/$target
seeds=$fuzz/corpus/$target
if [ ! -x "$bin" ]; then
  echo "$target: $bin is missing: build build-fuzz (scripts/setup.sh or bench/fuzz.sh)" >&2
  exit 1
fi
if [ ! -d "$seeds" ]; then
  echo "$target: no seed corpus in $seeds (fuzz/make-corpus.sh)" >&2
  exit 1
fi
# Inputs that once crashed a target (fixed since) run every time.
regressions=$(cd "$(dirname "$0")" && pwd)/regressions/$target
[ -d "$regressions" ] || regressions=
dict=$(cd "$(dirname "$0")" && pwd)/dicts/$target.dict
[ -f "$dict" ] && set -- -dict="$dict" "$@"
crashes=$fuzz/crashes/$target
mkdir -p "$crashes"
work=${FUZZ_WORK:-$(mktemp -d)}
mkdir -p "$work"
log=$(mktemp)
cleanup() { rm -f "$log"; [ -n "${FUZZ_WORK:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

# UBSan findings already abort (-fno-sanitize-recover); a hang over 10 s is a
# finding too.
"$bin" -print_final_stats=1 -timeout=10 -rss_limit_mb=2560 \
  -artifact_prefix="$crashes/" "$@" "$work" "$seeds" $regressions >"$log" 2>&1
rc=$?
execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log" | tail -1)
if [ $rc -ne 0 ]; then
  tail -60 "$log" >&2
  if grep -q 'Test unit written' "$log"; then
    echo "$target: ${execs:-?} executions, 1 crash ($(grep -o "$crashes/[^ ]*" "$log" | tail -1))"
  else
    echo "$target: did not run (exit $rc; log above)"
  fi
  exit 1
fi
echo "$target: ${execs:-?} executions, 0 crashes (${rate:-?} exec/s)"
