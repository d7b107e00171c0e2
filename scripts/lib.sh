# Shared helpers for Warren's setup scripts. Sourced, never run.
# Why: setup, test and quickstart must agree on where the toolchain lives.
set -euo pipefail
WARREN_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLCHAIN="$WARREN_REPO/.toolchain"
NODE_DIR="$TOOLCHAIN/node"
export PATH="$NODE_DIR/bin:$PATH"
export npm_config_nodedir="$NODE_DIR"
export npm_config_update_notifier=false
export npm_config_fund=false
export npm_config_audit=false

phase_start() { PHASE_NAME="$1"; PHASE_T0=$(date +%s.%N); echo "==> $1"; }
phase_end() {
  local t1; t1=$(date +%s.%N)
  printf '==> %s done in %.1fs\n' "$PHASE_NAME" "$(echo "$t1 - $PHASE_T0" | bc)"
}
need_root() {
  if [ "$(id -u)" != 0 ]; then echo "warren: run this as root (sudo $0)" >&2; exit 1; fi
}
