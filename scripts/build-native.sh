#!/usr/bin/env bash
# Builds Warren's small native helpers (packages/runner/native/*.c) into native/bin/.
# Static, so they can be bind-mounted into any image. Rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/../packages/runner/native"
mkdir -p bin
for src in *.c; do
  [ -e "$src" ] || continue
  out="bin/${src%.c}"
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
    cc -O2 -Wall -Wextra -Werror -static -o "$out.tmp" "$src"
    mv "$out.tmp" "$out"
  fi
done
