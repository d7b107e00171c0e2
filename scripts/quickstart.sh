#!/usr/bin/env bash
# Quick start, command 1: installs everything, puts `warren` on the PATH, creates the
# environment "dev" and opens a root shell in it. Without a TTY, runs the given command there
# instead (e.g. `scripts/quickstart.sh id -u`). Idempotent: a second run re-attaches.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# Setup's own output goes to stderr so that stdout carries only the environment's output.
bash "$here/setup.sh" >&2
if [ $# -gt 0 ]; then
  exec "$here/../bin/warren" up --name dev -- "$@"
elif [ -t 0 ] && [ -t 1 ]; then
  exec "$here/../bin/warren" up --name dev
else
  echo "warren: no TTY; give a command to run in the environment, e.g. scripts/quickstart.sh id -u" >&2
  exec "$here/../bin/warren" up --name dev --detach
fi
