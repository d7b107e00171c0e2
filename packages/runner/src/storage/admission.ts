// Admission for new disks. Disk images are sparse, so the host does not lose their size up
// front; admission keeps the promise honest by counting what existing disks may still grow
// into, plus a reserve for the host itself.
import { statfsSync, statSync } from "node:fs";
import path from "node:path";
import { formatSize, WarrenError } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";

/** Bytes an unprivileged writer can still use on the filesystem holding cfg.root. */
export function freeBytes(cfg: RunnerConfig): number {
  // cfg.root may not exist yet on a fresh host; its nearest existing ancestor is the same fs.
  let dir = path.resolve(cfg.root);
  for (;;) {
    try {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    } catch (err) {
      const parent = path.dirname(dir);
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || parent === dir) throw err;
      dir = parent;
    }
  }
}

/** How much a sparse disk image may still grow on the host: its size minus what it occupies. */
export function unclaimedBytes(imagePath: string): number {
  const s = statSync(imagePath);
  return Math.max(0, s.size - s.blocks * 512);
}

/**
 * Throws INSUFFICIENT_DISK unless `requestBytes` fits beside `allocatedBytes` (what existing
 * disks may still grow into, see unclaimedBytes) in the free space less cfg.diskReserveBytes.
 */
export function checkDiskAdmission(
  cfg: RunnerConfig,
  allocatedBytes: number,
  requestBytes: number,
  free: (cfg: RunnerConfig) => number = freeBytes,
): void {
  const freeNow = free(cfg);
  const usable = freeNow - cfg.diskReserveBytes;
  if (allocatedBytes + requestBytes <= usable) return;
  const room = Math.max(0, usable - allocatedBytes);
  throw new WarrenError(
    "INSUFFICIENT_DISK",
    `not enough disk space for a ${formatSize(requestBytes)} disk: ${formatSize(room)} is available ` +
      `(${formatSize(Math.max(0, freeNow))} free on ${cfg.root}, less ${formatSize(cfg.diskReserveBytes)} reserved ` +
      `and ${formatSize(allocatedBytes)} promised to existing disks). ` +
      "Ask for a smaller --disk, or free space on the host (for example by deleting environments you no longer need).",
    { requestBytes, availableBytes: room, allocatedBytes, reserveBytes: cfg.diskReserveBytes },
  );
}
