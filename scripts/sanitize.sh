#!/usr/bin/env bash
# Builds lowbit with AddressSanitizer and UndefinedBehaviorSanitizer in
# build-asan/ and runs tests there; any finding fails the run.
#
#   bash scripts/sanitize.sh       the selection CI runs (scripts/test.sh): the
#                                  readers, writers and quantizers' unit tests,
#                                  the runtime's, and the end-to-end tests that
#                                  drive the four tools over tiny-5m and
#                                  damaged copies of it
#   bash scripts/sanitize.sh all   every unit and lit test and every end-to-end
#                                  test on tiny-5m
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-ci}
DIR=${ASAN_BUILD_DIR:-build-asan}
cmake -G Ninja -S . -B "$DIR" -DCMAKE_BUILD_TYPE=Release \
  -DLOWBIT_SANITIZE=address,undefined -DLOWBIT_SHARED_DIR=/nonexistent >/dev/null
# The shared models are left out (LOWBIT_SHARED_DIR above): under the
# sanitizers the 27M model's runs take too long, and tiny-5m covers the code.
# An allocation sized by a hostile value must be refused before it is made:
# anything above 8 GiB is reported as a finding.
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:max_allocation_size_mb=8192:allocator_may_return_null=0
export LOWBIT_SANITIZED=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp:print_suppressions=0

case $MODE in
  ci)
    TARGETS=(lowbit-translate lowbit-run lowbit-opt lowbit-compile LowbitFormatsTests LowbitReaderTests
             LowbitQuantizeTests LowbitImatrixTests LowbitAffineTests
             LowbitAffinePackingTests LowbitBnbTests LowbitRuntimeTests)
    TESTS='^(LowbitFormatsTests|LowbitReaderTests|LowbitQuantizeTests|LowbitImatrixTests|LowbitAffineTests|LowbitAffinePackingTests|LowbitBnbTests|LowbitRuntimeTests|e2e\.tiny-5m\.p2|e2e\.bad-input|e2e\.hostile-files|e2e\.gguf-roundtrip)$'
    ;;
  all)
    TARGETS=(all)
    TESTS='^(Lowbit|lit|runtime|e2e\.)'
    ;;
  *) echo "usage: scripts/sanitize.sh [ci|all]" >&2; exit 2 ;;
esac
start=$(date +%s)
cmake --build "$DIR" -j "$(nproc)" --target "${TARGETS[@]}"
echo "sanitize: built in $(( $(date +%s) - start )) s" >&2
ctest --test-dir "$DIR" --output-on-failure -j 2 -R "$TESTS" -E '^fuzz\.'
echo "sanitize: $MODE done in $(( $(date +%s) - start )) s" >&2
