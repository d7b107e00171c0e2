// The environment's root filesystem: overlayfs whose lower layers are idmapped mounts of the
// shared, read-only image layers, and whose upper layer lives on the environment's disk.
// Idmapping shows files owned by 0 in the image as owned by the environment's root
// (map.hostStart) without chowning the layers, so one unpacked image serves every slot.
import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, rename, rmdir } from "node:fs/promises";
import path from "node:path";
import { failpoint, wrap } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";
import type { HostNames } from "../host/names.ts";
import { run } from "../host/run.ts";
import { idmapMount } from "./idmap.ts";
import { isMountPoint } from "./mountinfo.ts";
import type { IdMap } from "./types.ts";
import { unmountTree } from "./unmount.ts";

// mount(2) takes at most one page of options; past that, name the lower dirs relative to a cwd.
const MAX_MOUNT_OPTIONS = 4000;

export function lowerLayerDir(names: HostNames, index: number): string {
  return path.join(names.lowerDir, String(index));
}

/**
 * Mounts the overlay rootfs at names.rootfs. `layerDirs` are the image's unpacked layers,
 * lowest first. The disk must be mounted (upperDir/workDir exist). Idempotent: mounts that
 * exist are kept. The layers themselves are never modified.
 */
export async function mountRootfs(
  cfg: RunnerConfig,
  names: HostNames,
  layerDirs: string[],
  map: IdMap,
): Promise<void> {
  if (layerDirs.length === 0) throw new Error("mount rootfs: the image has no layers");
  try {
    if (isMountPoint(names.rootfs)) return;
    const lowers = layerDirs.map((_, i) => lowerLayerDir(names, i));
    for (const dir of lowers) await mkdir(dir, { recursive: true, mode: 0o755 });
    await idmapMount(
      cfg,
      map,
      layerDirs.map((src, i) => ({ src, dst: lowers[i]! })),
    );
    await mkdir(names.rootfs, { recursive: true, mode: 0o755 });
    await mountOverlay(names, lowers);
  } catch (err) {
    throw wrap("mount rootfs", err);
  }
}

async function mountOverlay(names: HostNames, lowersBottomFirst: string[]): Promise<void> {
  // overlayfs lists the top layer first.
  const topFirst = [...lowersBottomFirst].reverse();
  const rest = `upperdir=${names.upperDir},workdir=${names.workDir}`;
  let options = `lowerdir=${topFirst.join(":")},${rest}`;
  let cwd: string | undefined;
  if (options.length > MAX_MOUNT_OPTIONS) {
    cwd = names.lowerDir;
    options = `lowerdir=${topFirst.map((d) => path.relative(names.lowerDir, d)).join(":")},${rest}`;
  }
  failpoint("mount-overlay");
  // nodev: the environment never needs device nodes from its image (it gets its own /dev).
  // No nosuid: setuid binaries such as sudo must work inside, and they can only ever raise a
  // process to ids of the environment's own range.
  await run(
    "mount",
    ["-t", "overlay", "overlay", "-o", `nodev,${options}`, names.rootfs],
    cwd ? { cwd } : {},
  );
}

/**
 * Unmounts the rootfs (and anything left mounted inside it), then the idmapped layers, and
 * removes their now-empty directories. Idempotent.
 */
export async function unmountRootfs(names: HostNames): Promise<void> {
  try {
    await unmountTree(names.rootfs);
    await unmountTree(names.lowerDir);
    await removeEmptyDir(names.rootfs);
    for (const entry of await readdir(names.lowerDir).catch(() => [] as string[])) {
      await removeEmptyDir(path.join(names.lowerDir, entry));
    }
    await removeEmptyDir(names.lowerDir);
  } catch (err) {
    throw wrap("unmount rootfs", err);
  }
}

/**
 * Discards the writable root layer (the image changed under it): unmounts the rootfs, then moves
 * the upper and work dirs aside (rename never follows a link the environment planted) and deletes
 * them without crossing into another filesystem. mountDisk makes them again, empty. The
 * workspace, volumes and everything else on the disk stay.
 */
export async function discardWritableLayer(names: HostNames): Promise<void> {
  try {
    await unmountRootfs(names);
    for (const dir of [names.upperDir, names.workDir]) {
      if (!(await lstat(dir).catch(() => null))) continue;
      const doomed = `${dir}.discarded.${randomBytes(4).toString("hex")}`;
      await rename(dir, doomed);
      await run("rm", ["-rf", "--one-file-system", "--", doomed]);
    }
  } catch (err) {
    throw wrap("discard the writable layer", err);
  }
}

async function removeEmptyDir(dir: string): Promise<void> {
  await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}
