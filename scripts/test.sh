#!/usr/bin/env bash
# Runs every test: unit (gtest), IR (lit) and end-to-end (ctest drives all).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake --build "$BUILD_DIR" -j "$(nproc)"
bash fuzz/build.sh "${FUZZ_BUILD_DIR:-build-fuzz}"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j 2 "$@"
# The same code under AddressSanitizer and UBSan (build-asan/): the selection in
# scripts/sanitize.sh. Skipped when ctest was given a filter.
if [ $# -eq 0 ]; then
  bash scripts/sanitize.sh
fi
