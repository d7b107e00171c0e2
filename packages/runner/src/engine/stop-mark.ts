// "Has this environment's disk changed since its last stop?" The only writers of the disk
// (workspace and writable layer) are the environment's own processes, and they exist only
// between a start and a stop. So a marker written after a clean stop, and removed before any
// start, says "exactly as at the stop" while it is there. Without it (running, failed, crashed,
// or never stopped) the answer is "may have changed": the safe side for `warren rm -f`.
import { rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { HostNames } from "../host/names.ts";

const MARK = "stopped-clean";

const markPath = (names: HostNames) => path.join(names.envDir, MARK);

/** After the container and every process of it are gone. */
export async function markStopped(names: HostNames): Promise<void> {
  await writeFile(markPath(names), `${new Date().toISOString()}\n`, { mode: 0o600 }).catch(
    (err: NodeJS.ErrnoException) => {
      // Never made on this host: nothing to mark, and nothing that could have changed.
      if (err.code !== "ENOENT") throw err;
    },
  );
}

/** Before anything of a start runs. */
export async function clearStopMark(names: HostNames): Promise<void> {
  await rm(markPath(names), { force: true });
}

export async function workspaceDirty(names: HostNames): Promise<boolean> {
  return stat(markPath(names)).then(
    () => false,
    () => true,
  );
}
