#!/usr/bin/env bash
# Fuzzes every reader of outside bytes:
#
#   bench/fuzz.sh SECONDS [TARGET...]
#
# Builds build-fuzz (clang-22, -DLOWBIT_FUZZ=ON; fuzz/build.sh) and the main
# tools the seeds are made with when needed, makes the seed corpora
# (fuzz/make-corpus.sh), then runs each target alone (one job) for SECONDS and
# prints its executions and crashes. Inputs that reach new code accumulate in
# build-fuzz/findings/TARGET and seed the next run; a crashing input is kept in
# build-fuzz/crashes/TARGET. Extra libFuzzer flags: FUZZ_FLAGS="-dict=...".
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: bench/fuzz.sh SECONDS [TARGET...]}
shift
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
BUILD_DIR=${BUILD_DIR:-build}

bash fuzz/build.sh "$FUZZ_BUILD" || exit 1
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release || exit 1
fi
cmake --build "$BUILD_DIR" --target lowbit-translate lowbit-opt lowbit-compile -j "$(nproc)" || exit 1
bash fuzz/make-corpus.sh "$FUZZ_BUILD" "$BUILD_DIR" || exit 1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in "$FUZZ_BUILD"/corpus/*/; do targets+=("$(basename "$d")"); done
fi
failed=0
for t in "${targets[@]}"; do
  FUZZ_WORK=$FUZZ_BUILD/findings/$t bash fuzz/run-fuzzer.sh "$FUZZ_BUILD" "$t" \
    -max_total_time="$seconds" ${FUZZ_FLAGS:-} || failed=$((failed + 1))
done
[ $failed -eq 0 ]
