#!/usr/bin/env bash
# The installed CMake package works for a third-party project.
set -euo pipefail
T=$LOWBIT_TMP/install; rm -rf "$T"; mkdir -p "$T"
cmake --install "$LOWBIT_BUILD" --prefix "$T/prefix" > /dev/null
cmake -G Ninja -S "$LOWBIT_SOURCE/test/install" -B "$T/build" -DCMAKE_PREFIX_PATH="$T/prefix" > /dev/null
cmake --build "$T/build" > /dev/null
out=$("$T/build/consumer")
echo "$out"
grep -q 'lowbit.linear' <<<"$out" && grep -q 'q8_0 block bytes: 34' <<<"$out"
