#!/usr/bin/env bash
# Builds Warren's small native helpers (packages/runner/native/*.c) into native/bin/.
# Static, so they can be bind-mounted into any image. Rebuilds only what changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$WARREN_REPO/packages/runner/native"
mkdir -p bin
for src in *.c; do
  [ -e "$src" ] || continue
  out="bin/${src%.c}"
  # Shared headers (include/*.h) count as sources of every helper.
  newer_header=$(find include -name '*.h' -newer "$out" 2>/dev/null | head -n1 || true)
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ] || [ -n "$newer_header" ]; then
    cc -O2 -Wall -Wextra -Werror -static -o "$out.tmp" "$src"
    mv "$out.tmp" "$out"
  fi
done

# The dial addon (network/dial.ts) is a Node addon, not a static helper: it must run inside the
# runner's own process to hand back a socket. Built against the project's Node 24 headers
# (npm_config_nodedir from lib.sh) with the node-gyp that ships inside npm, so no install step.
addon=dial-addon
node_out="$addon/build/Release/warren_dial.node"
if [ ! -f "$node_out" ] || [ "$addon/dial.c" -nt "$node_out" ] || [ "$addon/binding.gyp" -nt "$node_out" ]; then
  (cd "$addon" && node "$NODE_DIR/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js" rebuild --loglevel=warn)
fi
