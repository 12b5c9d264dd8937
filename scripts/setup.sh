#!/usr/bin/env bash
# Installs everything lowbit needs on Debian 12 (as root), then configures and
# builds. Safe to run again: installed packages and the build are reused.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git python3
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
  libfuzzer-22-dev libclang-rt-22-dev
  libopenblas-dev liblapacke-dev libsentencepiece-dev
  libprotobuf-dev protobuf-compiler libabsl-dev
  libgtest-dev googletest libbenchmark-dev
)
# Node.js may already come from another repository; only install Debian's if absent.
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# The real llama.cpp (prebuilt, from the npm registry) used by the GGUF tests.
if [ ! -f test/e2e/llamacpp/node_modules/node-llama-cpp/package.json ]; then
  echo "setup: installing node-llama-cpp for the llama.cpp compatibility tests" >&2
  (cd test/e2e/llamacpp && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --no-audit --no-fund)
fi
# llama.cpp picks the CPU kernels of the newest instruction set it finds (AVX-512,
# AMX on some servers), and those round activations differently, so its
# perplexities would depend on the machine. Keep the AVX2 (haswell) build, the
# one our executor's --activations ggml mirrors, and the portable fallbacks.
shopt -s nullglob
for lib in test/e2e/llamacpp/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-cpu-*.so; do
  case $lib in *-haswell.so|*-x64.so|*-sse42.so) ;; *) rm -f "$lib" ;; esac
done
shopt -u nullglob

BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"

# The fuzz targets (fuzz/) need clang, so they have a build tree of their own;
# scripts/test.sh runs each for a fixed number of inputs (ctest -R fuzz).
bash fuzz/build.sh "${FUZZ_BUILD_DIR:-build-fuzz}"
