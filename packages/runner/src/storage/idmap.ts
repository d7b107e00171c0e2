// Idmapped bind mounts through the native helper (util-linux 2.38 cannot request them).
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { wrap } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";
import { run } from "../host/run.ts";
import { isMountPoint, readMounts } from "./mountinfo.ts";
import type { IdMap } from "./types.ts";

export interface MountPair {
  src: string;
  dst: string;
}

export function idmapHelperPath(cfg: RunnerConfig): string {
  return path.join(cfg.nativeDir, "warren-idmap");
}

/**
 * Mounts each `src` at `dst` (an existing directory) with ids shifted by `map`: id N in `src`
 * shows as map.hostStart+N. Pairs whose `dst` is already a mount point are skipped, so a retry
 * after a crash finishes the job instead of stacking mounts.
 */
export async function idmapMount(cfg: RunnerConfig, map: IdMap, pairs: MountPair[]): Promise<void> {
  const mounts = readMounts();
  const todo = pairs.filter((p) => !isMountPoint(p.dst, mounts));
  if (todo.length === 0) return;
  const helper = idmapHelperPath(cfg);
  try {
    accessSync(helper, constants.X_OK);
  } catch {
    throw new Error(`idmapped mount: helper ${helper} is missing; build it with scripts/build-native.sh`);
  }
  const args = [String(map.hostStart), String(map.size), ...todo.flatMap((p) => [p.src, p.dst])];
  try {
    await run(helper, args);
  } catch (err) {
    throw wrap(`idmapped mount of ${todo.length} dir(s) at ${map.hostStart}`, err);
  }
}
