// crun: about twice as fast as runc to start. On a hybrid cgroup host it runs through
// native/bin/warren-crun-hybrid, which hides /sys/fs/cgroup/unified in a private mount
// namespace so crun sees plain cgroup v1 (see the comment in warren-crun-hybrid.c).
import { rmdir } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { RunnerConfig } from "../host/config.ts";
import { type CgroupLayout, hostCgroupLayout } from "./cgroup-layout.ts";
import { DELIVER_HELPER } from "./deliver-files.ts";
import { OciCliRuntime } from "./oci-cli.ts";

export const CRUN_HYBRID_WRAPPER = "warren-crun-hybrid";

/**
 * Hidden from the unified mount, crun cannot place a container's processes in its cgroup2
 * group, so exec'd processes would miss the environment's PSI. The wrapper joins the group
 * named by WARREN_JOIN_CGROUP before it execs crun, and crun's children inherit it. Only
 * containers named by Warren's convention (<prefix>-<id> in /<prefix>/<prefix>-<id>) get one.
 */
function unifiedGroupOf(cfg: Pick<RunnerConfig, "prefix">, id: string): Record<string, string> | undefined {
  if (!cfg.prefix || !id.startsWith(`${cfg.prefix}-`)) return undefined;
  return { WARREN_JOIN_CGROUP: path.join(UNIFIED_ROOT, cfg.prefix, id) };
}

const UNIFIED_ROOT = "/sys/fs/cgroup/unified";

/** The wrapper made this group, so the driver removes it; crun cannot see it. */
async function removeUnifiedGroup(env: Record<string, string> | undefined): Promise<void> {
  const dir = env?.["WARREN_JOIN_CGROUP"];
  if (!dir) return;
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY") throw e;
      await sleep(20); // the last processes of the group are still exiting
    }
  }
}

export function crunRuntime(
  cfg: Pick<RunnerConfig, "runDir" | "nativeDir"> & Partial<Pick<RunnerConfig, "prefix">>,
  layout: CgroupLayout = hostCgroupLayout(),
): OciCliRuntime {
  const hybrid = layout === "hybrid";
  const binary = hybrid ? path.join(cfg.nativeDir, CRUN_HYBRID_WRAPPER) : "crun";
  return new OciCliRuntime({
    name: "crun",
    binary,
    stateRoot: path.join(cfg.runDir, "crun"),
    deliverHelper: path.join(cfg.nativeDir, DELIVER_HELPER),
    // crun copies the size of a terminal of its own once and never again (resizes were lost).
    consoleSocket: true,
    runningWhileInitLives: true,
    ...(hybrid && cfg.prefix
      ? {
          envFor: (id: string) => unifiedGroupOf({ prefix: cfg.prefix! }, id),
          afterDelete: (id: string) => removeUnifiedGroup(unifiedGroupOf({ prefix: cfg.prefix! }, id)),
        }
      : {}),
  });
}
