// The on-disk handle of one environment: enough to re-adopt or rebuild it after a daemon
// restart or a host reboot without asking the control plane. Versioned, so a later Warren can
// read what this one wrote (and refuse, clearly, what it cannot).
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { RunnerEnvSpec } from "@warren/protocol";

export const HANDLE_VERSION = 1;

export interface EnvHandle {
  version: number;
  spec: RunnerEnvSpec;
  createdAt: string;
  /** Host uid/gid that is root inside. */
  hostStart: number;
}

export async function writeHandle(file: string, handle: EnvHandle): Promise<void> {
  // 0711: the environment's root uid must traverse its env dir to reach the rootfs.
  await mkdir(path.dirname(file), { recursive: true, mode: 0o711 });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(handle, null, 2), { mode: 0o600 });
  await rename(tmp, file);
}

export async function readHandle(file: string): Promise<EnvHandle | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  const h = JSON.parse(text) as EnvHandle;
  if (typeof h.version !== "number" || h.version > HANDLE_VERSION) {
    throw new Error(
      `${file}: state version ${String(h.version)} is newer than this Warren understands (${HANDLE_VERSION}); upgrade Warren`,
    );
  }
  return h;
}
