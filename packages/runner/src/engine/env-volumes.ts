// Named volumes (RunnerEnvSpec.volumes, devcontainer.json `mounts` of type volume) and the
// containerEnv variables (RunnerEnvSpec.env). A volume is a folder `volumes/<name>` on the
// environment's own disk, so it counts against its quota and goes with its backups, bound
// read-write at its target. Targets are checked: absolute, clean, and never over the parts of
// the filesystem Warren or the kernel provide (/proc, /sys, /dev, /.warren) or the root itself.
import { lchown, lstat, mkdir } from "node:fs/promises";
import path from "node:path";
import { checkExecEnv, type RunnerEnvSpec, WarrenError } from "@warren/protocol";
import type { HostNames } from "../host/names.ts";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const RESERVED = ["/proc", "/sys", "/dev", "/.warren"];

function bad(message: string): never {
  throw new WarrenError("INVALID_ARGUMENT", message, { field: "volumes" });
}

/** Throws INVALID_ARGUMENT naming the first bad volume or variable of `spec`. */
export function checkEnvAdditions(spec: Pick<RunnerEnvSpec, "env" | "volumes">): void {
  if (spec.env) checkExecEnv(spec.env);
  const targets = new Set<string>();
  for (const v of spec.volumes ?? []) {
    if (!NAME_RE.test(v.name)) {
      bad(
        `volume name ${JSON.stringify(v.name.slice(0, 80))}: use letters, digits, _ . - (starting with a letter or digit)`,
      );
    }
    const t = v.target;
    const trim = (p: string) => p.replace(/(.)\/$/, "$1");
    if (!t.startsWith("/") || t.includes("\0") || trim(path.posix.normalize(t)) !== trim(t) || t === "/") {
      bad(
        `volume ${v.name}: target ${JSON.stringify(t.slice(0, 200))} must be a clean absolute path other than /`,
      );
    }
    const clean = path.posix.normalize(t).replace(/(.)\/$/, "$1");
    if (RESERVED.some((r) => clean === r || clean.startsWith(`${r}/`))) {
      bad(
        `volume ${v.name}: target ${clean} is under ${RESERVED.join(", ")}, which Warren provides; mount it elsewhere`,
      );
    }
    if (targets.has(clean)) bad(`two volumes are mounted at ${clean}; give each its own target`);
    targets.add(clean);
  }
}

export function volumeDir(names: HostNames, name: string): string {
  return path.join(names.diskMount, "volumes", name);
}

/** Makes each volume's folder (owned by the environment's root); never through a link. */
export async function ensureVolumes(names: HostNames, spec: RunnerEnvSpec, rootId: number): Promise<void> {
  if (!spec.volumes?.length) return;
  const parent = path.join(names.diskMount, "volumes");
  await mkdir(parent, { recursive: true, mode: 0o755 });
  for (const v of spec.volumes) {
    const dir = volumeDir(names, v.name);
    const st = await lstat(dir).catch(() => null);
    if (st && !st.isDirectory())
      bad(`volume ${v.name}: its folder on the disk is not a folder; remove the volume`);
    if (!st) {
      await mkdir(dir, { mode: 0o755 });
      await lchown(dir, rootId, rootId);
    }
  }
}

/** containerEnv as NAME=VALUE pairs, after the image's own (mergeEnv keeps the last). */
export function specEnvPairs(spec: Pick<RunnerEnvSpec, "env">): string[] {
  return Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`);
}
