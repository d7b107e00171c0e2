// Admission for new disks. Disk images are sparse, so the host does not lose their size up
// front; admission keeps the promise honest by counting what existing disks may still grow
// into, plus a reserve for the host itself.
import { statfsSync, statSync } from "node:fs";
import path from "node:path";
import { formatSize, WarrenError } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";

/** Bytes an unprivileged writer can still use on the filesystem holding cfg.root. */
export function freeBytes(cfg: RunnerConfig): number {
  return diskSpace(cfg).freeBytes;
}

/** Free (for an unprivileged writer) and total bytes of the filesystem holding cfg.root. */
export function diskSpace(cfg: RunnerConfig): { freeBytes: number; totalBytes: number } {
  // cfg.root may not exist yet on a fresh host; its nearest existing ancestor is the same fs.
  let dir = path.resolve(cfg.root);
  for (;;) {
    try {
      const s = statfsSync(dir);
      return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch (err) {
      const parent = path.dirname(dir);
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || parent === dir) throw err;
      dir = parent;
    }
  }
}

/** The floor's minimum, and its share of the filesystem: whichever is larger applies. */
export const DISK_FLOOR_MIN_BYTES = 5 * 1024 ** 3;
export const DISK_FLOOR_FRACTION = 0.05;

/**
 * Free disk below which the runner takes no new environment (the host guard reports it
 * unschedulable, naming the figures): cfg.diskFloorBytes ($WARREN_DISK_FLOOR) when set, else
 * max(5 GiB, 5 % of the filesystem). Disks are overcommitted (sparse, promised several times
 * over), so this is what keeps the environments already admitted room to grow.
 */
export function diskFloorBytes(cfg: Pick<RunnerConfig, "diskFloorBytes">, totalBytes: number): number {
  if (cfg.diskFloorBytes !== undefined) return cfg.diskFloorBytes;
  return Math.max(DISK_FLOOR_MIN_BYTES, Math.ceil(Math.max(0, totalBytes) * DISK_FLOOR_FRACTION));
}

/** How much a sparse disk image may still grow on the host: its size minus what it occupies. */
export function unclaimedBytes(imagePath: string): number {
  const s = statSync(imagePath);
  return Math.max(0, s.size - s.blocks * 512);
}

/**
 * Throws INSUFFICIENT_DISK unless `requestBytes` fits beside `allocatedBytes` (what existing
 * disks may still grow into, see unclaimedBytes) in the free space less cfg.diskReserveBytes,
 * times `ratio` (the class's disk overcommit: 1 promises every byte, 4 promises the free space
 * four times over, since most of a sparse disk is never written).
 */
export function checkDiskAdmission(
  cfg: RunnerConfig,
  allocatedBytes: number,
  requestBytes: number,
  free: (cfg: RunnerConfig) => number = freeBytes,
  ratio = 1,
): void {
  const r = Number.isFinite(ratio) && ratio >= 1 ? ratio : 1;
  const freeNow = free(cfg);
  const usable = Math.floor(Math.max(0, freeNow - cfg.diskReserveBytes) * r);
  if (allocatedBytes + requestBytes <= usable) return;
  const room = Math.max(0, usable - allocatedBytes);
  const promised = r === 1 ? "" : `, promised up to ${r}:1`;
  throw new WarrenError(
    "INSUFFICIENT_DISK",
    `not enough disk space for a ${formatSize(requestBytes)} disk: ${formatSize(room)} is available ` +
      `(${formatSize(Math.max(0, freeNow))} free on ${cfg.root}, less ${formatSize(cfg.diskReserveBytes)} reserved${promised}, ` +
      `and ${formatSize(allocatedBytes)} promised to existing disks). ` +
      "Ask for a smaller --disk, or free space on the host (for example by deleting environments you no longer need).",
    { requestBytes, availableBytes: room, allocatedBytes, reserveBytes: cfg.diskReserveBytes, ratio: r },
  );
}
