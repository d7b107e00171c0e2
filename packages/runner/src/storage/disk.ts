// One ext4 image per environment, on a loop device, holding the workspace and the writable
// rootfs layer. Every write the environment makes lands here, so its --disk size bounds it
// without project quotas (not built into this kernel). Images are sparse: the host pays only
// for blocks actually written.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chown, mkdir, rename, rm, rmdir, stat } from "node:fs/promises";
import path from "node:path";
import { formatSize, WarrenError, wrap } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";
import type { HostNames } from "../host/names.ts";
import { run } from "../host/run.ts";
import { attachLoop, findLoops } from "./loop.ts";
import { isMountPoint } from "./mountinfo.ts";
import { unmountRootfs } from "./rootfs.ts";
import type { IdMap } from "./types.ts";
import { unmountTree } from "./unmount.ts";

export { checkDiskAdmission, diskFloorBytes, diskSpace, freeBytes, unclaimedBytes } from "./admission.ts";
export { attachLoop, detachLoop, isDirectIo, type LoopDevice, listWarrenLoops } from "./loop.ts";

/** Smallest disk we make: below this the journal and metadata leave almost nothing. */
export const MIN_DISK_BYTES = 16 * 1024 ** 2;
const BLOCK = 4096;

// nodev/nosuid: the host never trusts device nodes or setuid bits the environment wrote.
// discard: blocks freed inside the environment are punched out of the sparse image, so the
// host gets its space back.
const DISK_MOUNT_OPTIONS = "nodev,nosuid,discard";

function tmpName(file: string): string {
  return `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
}

function roundedSize(sizeBytes: number): number {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < MIN_DISK_BYTES) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `disk size ${formatSize(sizeBytes)} is too small: use at least ${formatSize(MIN_DISK_BYTES)}`,
    );
  }
  return Math.ceil(sizeBytes / BLOCK) * BLOCK;
}

export function templatePath(cfg: RunnerConfig, sizeBytes: number): string {
  return path.join(cfg.root, "templates", `ext4-${roundedSize(sizeBytes)}.img`);
}

/**
 * Returns a formatted, empty, sparse ext4 image of this size, made once per size so creating
 * an environment copies instead of running mkfs. Built under a temporary name and renamed, so
 * a crash never leaves a half-formatted template behind.
 */
export async function ensureTemplate(cfg: RunnerConfig, sizeBytes: number): Promise<string> {
  const file = templatePath(cfg, sizeBytes);
  if (existsSync(file)) return file;
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tmpName(file);
  try {
    await run("truncate", ["--size", String(roundedSize(sizeBytes)), tmp]);
    // lazy_*_init: the unwritten (hole) blocks already read as zeros, so skip zeroing them.
    // -m 0: no blocks reserved for root; inside, root is the user and the disk is theirs.
    await run("mkfs.ext4", [
      "-q",
      "-F",
      "-m",
      "0",
      "-E",
      "lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0",
      tmp,
    ]);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw wrap(`make ${formatSize(sizeBytes)} disk template`, err);
  }
  return file;
}

/** Creates the environment's disk image from the template. Keeps an existing image: it holds user data. */
export async function createDisk(cfg: RunnerConfig, names: HostNames, sizeBytes: number): Promise<void> {
  if (existsSync(names.diskImage)) return;
  const template = await ensureTemplate(cfg, sizeBytes);
  await mkdir(path.dirname(names.diskImage), { recursive: true });
  const tmp = tmpName(names.diskImage);
  try {
    await run("cp", ["--sparse=always", template, tmp]);
    await rename(tmp, names.diskImage);
  } catch (err) {
    await rm(tmp, { force: true });
    throw wrap(`create disk ${names.diskImage}`, err);
  }
}

async function ensureDir(dir: string, uid: number, gid: number, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  const s = await stat(dir);
  if (s.uid !== uid || s.gid !== gid) await chown(dir, uid, gid);
}

/**
 * Attaches (or reuses) the loop device and mounts the disk at names.diskMount, then makes sure
 * the top directories exist: the upper layer and the workspace belong to the environment's
 * root (map.hostStart); overlay's work dir belongs to host root. Idempotent. Returns the loop
 * device.
 */
export async function mountDisk(_cfg: RunnerConfig, names: HostNames, map: IdMap): Promise<string> {
  try {
    const device = await attachLoop(names.diskImage);
    if (!isMountPoint(names.diskMount)) {
      await mkdir(names.diskMount, { recursive: true, mode: 0o755 });
      await run("mount", ["-t", "ext4", "-o", DISK_MOUNT_OPTIONS, device, names.diskMount]);
    }
    await ensureDir(names.upperDir, map.hostStart, map.hostStart, 0o755);
    await ensureDir(names.workspaceDir, map.hostStart, map.hostStart, 0o755);
    await ensureDir(names.workDir, 0, 0, 0o700);
    return device;
  } catch (err) {
    throw wrap("mount disk", err);
  }
}

/**
 * Unmounts the disk and anything mounted inside it. The overlay rootfs is unmounted first,
 * since it pins the disk (its upper layer) even after the disk's own mount is gone.
 */
export async function unmountDisk(names: HostNames): Promise<void> {
  try {
    await unmountRootfs(names);
    await unmountTree(names.diskMount);
  } catch (err) {
    throw wrap("unmount disk", err);
  }
}

/** Deletes the disk image, and with it the environment's data. Idempotent. */
export async function removeDisk(names: HostNames): Promise<void> {
  if (isMountPoint(names.diskMount) || findLoops(names.diskImage).length > 0) {
    throw new Error(`remove disk ${names.diskImage}: still mounted or attached; unmount and detach it first`);
  }
  await rm(names.diskImage, { force: true });
  await rmdir(names.diskMount).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw wrap(`remove disk mount dir ${names.diskMount}`, err);
  });
}
