#!/usr/bin/env bash
# Quick start, command 2: installs what the tests need and runs every test.
#   unit (*.test.ts, parallel), then host (*.host.test.ts: root, namespaces, cgroups; serially),
#   then pg (*.pg.test.ts: PostgreSQL), each phase timed.
source "$(dirname "$0")/lib.sh"
need_root
bash "$WARREN_REPO/scripts/setup.sh" --test
cd "$WARREN_REPO"
phase_start "lint"; npx biome check . ; phase_end
phase_start "typecheck"; npx tsc -b ; phase_end
phase_start "unit tests"; node scripts/run-tests.ts unit ; phase_end
phase_start "host tests (serial)"; node scripts/run-tests.ts host ; phase_end
phase_start "pg tests (serial)"; node scripts/run-tests.ts pg ; phase_end
