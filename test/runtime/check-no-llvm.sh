#!/usr/bin/env bash
# The runtime links neither MLIR nor LLVM: no undefined mlir::/llvm:: symbol
# in the given libraries and binaries, and no libMLIR/libLLVM among a
# binary's shared-library dependencies.
set -euo pipefail
status=0
for f in "$@"; do
  bad=$(nm -u --demangle "$f" 2>/dev/null | grep -E '(mlir|llvm)::' || true)
  if [[ -n "$bad" ]]; then
    echo "$f: undefined MLIR/LLVM symbols:"; echo "$bad" | head -20
    status=1
  fi
  if readelf -d "$f" >/dev/null 2>&1; then
    needed=$(readelf -d "$f" | grep NEEDED | grep -Ei 'lib(mlir|llvm)' || true)
    if [[ -n "$needed" ]]; then
      echo "$f: depends on $needed"; status=1
    fi
  fi
  [[ $status == 0 ]] && echo "$f: no MLIR/LLVM"
done
exit $status
