#!/usr/bin/env bash
# Exits 77 (ctest: skipped) when ../shared models and data are not beside the checkout.
[ -d "$LOWBIT_SHARED/models/llama-27m" ] && [ -f "$LOWBIT_SHARED/data/wikitext2-test.txt" ] || {
  echo "skipped: $LOWBIT_SHARED not present"; exit 77; }
