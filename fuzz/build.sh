#!/usr/bin/env bash
# Configures (once) and builds the fuzz targets in their own clang build tree;
# only what they need is compiled (target lowbit-fuzzers, no MLIR):
#
#   fuzz/build.sh [FUZZ_BUILD]          (default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
if [ ! -f "$dir/build.ninja" ]; then
  CC=${FUZZ_CC:-clang-22} CXX=${FUZZ_CXX:-clang++-22} \
    cmake -G Ninja -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DLOWBIT_FUZZ=ON
fi
cmake --build "$dir" --target lowbit-fuzzers -j "$(nproc)"
