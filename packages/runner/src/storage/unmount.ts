// Unmounting that converges: unmount whole trees deepest first, retry a busy mount briefly,
// and detach lazily only as a last resort so teardown never wedges on a stray reference.
import { setTimeout as sleep } from "node:timers/promises";
import { wrap } from "@warren/protocol";
import { run } from "../host/run.ts";
import { isMountPoint, mountsUnder } from "./mountinfo.ts";

const BUSY_RETRIES = 5;
const BUSY_DELAY_MS = 100;

/** Unmounts one mount point; no-op if nothing is mounted there. */
export async function unmountOne(mountPoint: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    if (!isMountPoint(mountPoint)) return;
    const res = await run("umount", [mountPoint], { allowFail: true });
    if (res.code === 0) continue; // a mount may be stacked on the same path; check again
    const busy = /busy/i.test(res.stderr);
    if (busy && attempt < BUSY_RETRIES) {
      await sleep(BUSY_DELAY_MS * (attempt + 1));
      continue;
    }
    if (busy) {
      // Still busy after retries (e.g. a process holding a cwd inside): detach it from the tree
      // so names can be reused; the kernel frees it when the last reference goes.
      await run("umount", ["--lazy", mountPoint]).catch((err) => {
        throw wrap(`unmount ${mountPoint}`, err);
      });
      continue;
    }
    throw wrap(`unmount ${mountPoint}`, new Error(res.stderr.trim() || `umount exit ${res.code}`));
  }
}

/** Unmounts everything mounted at `dir` or below it, deepest first. */
export async function unmountTree(dir: string): Promise<void> {
  for (const mp of mountsUnder(dir)) await unmountOne(mp);
}
