// Loop devices for environment disk images. State is read from sysfs (cheap, no exec); changes
// go through losetup. Loop devices are found by backing file, never remembered, so a runner
// restart finds the same devices.
import { readdirSync, readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { wrap } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";
import { run } from "../host/run.ts";

export interface LoopDevice {
  /** e.g. /dev/loop3 */
  device: string;
  backingFile: string;
}

const SYS_BLOCK = "/sys/block";

function readSys(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return undefined; // device vanished between listing and reading, or is unbound
  }
}

/** Every bound loop device on the host with its backing file. */
export function listLoops(): LoopDevice[] {
  const out: LoopDevice[] = [];
  for (const name of readdirSync(SYS_BLOCK)) {
    if (!/^loop\d+$/.test(name)) continue;
    const backing = readSys(path.join(SYS_BLOCK, name, "loop", "backing_file"));
    // The kernel appends " (deleted)" once the image is unlinked; it is still ours to detach.
    if (backing) out.push({ device: `/dev/${name}`, backingFile: backing.replace(/ \(deleted\)$/, "") });
  }
  return out;
}

function canonical(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

/** Loop devices backed by `file` (normally zero or one). */
export function findLoops(file: string): string[] {
  const target = canonical(file);
  return listLoops()
    .filter((l) => l.backingFile === target)
    .map((l) => l.device);
}

/** Whether the loop device bypasses the host page cache (no double caching of env data). */
export function isDirectIo(device: string): boolean {
  return readSys(path.join(SYS_BLOCK, path.basename(device), "loop", "dio")) === "1";
}

/**
 * Returns the loop device for `file`, binding a new one with direct I/O if none exists. If
 * the kernel refuses direct I/O (e.g. the image lives on tmpfs), the device stays buffered:
 * slower, but correct; check with isDirectIo().
 */
export async function attachLoop(file: string): Promise<string> {
  const existing = findLoops(file)[0];
  if (existing) return existing;
  try {
    const res = await run("losetup", ["--direct-io=on", "--find", "--show", file]);
    const device = res.stdout.trim();
    if (!/^\/dev\/loop\d+$/.test(device))
      throw new Error(`unexpected losetup output ${JSON.stringify(res.stdout)}`);
    if (!isDirectIo(device)) await run("losetup", ["--direct-io=on", device], { allowFail: true });
    return device;
  } catch (err) {
    throw wrap(`attach loop device for ${file}`, err);
  }
}

/** Detaches every loop device backed by `file`. Idempotent. */
export async function detachLoop(file: string): Promise<void> {
  for (const device of findLoops(file)) {
    const res = await run("losetup", ["--detach", device], { allowFail: true });
    // Another caller may have detached it meanwhile; only a device still bound is an error.
    if (res.code !== 0 && findLoops(file).includes(device)) {
      throw wrap(`detach ${device} (${file})`, new Error(res.stderr.trim() || `losetup exit ${res.code}`));
    }
  }
}

/** Loop devices whose backing file is under `${cfg.root}/envs/`: the set to sweep for orphans. */
export async function listWarrenLoops(cfg: RunnerConfig): Promise<LoopDevice[]> {
  const envs = `${canonical(path.join(cfg.root, "envs"))}/`;
  return listLoops().filter((l) => l.backingFile.startsWith(envs));
}
