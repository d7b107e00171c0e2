// Memory protection on a cgroup v2 host (code path; the hosts here are v1 hybrid, so this is
// checked only against a directory laid out like cgroupfs):
// - An environment's group is split into `warren` (init and Warren's helpers) and `user` (what
//   the user runs), each with memory.oom.group = 0: an OOM kill takes one process, never the
//   whole environment, and the split lets the memory limit stay on the environment's group while
//   v2's "no processes in inner groups" rule holds.
// - The runner's own group gets memory.min, so reclaim under host pressure takes from
//   environments before the runner (systemd's MemoryMin= does the same for warren.service).
import { access, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { wrap } from "@warren/protocol";
import { readOptional, writeValue } from "./fs.ts";

/** As warren.service's MemoryMin=: enough for the daemon's own working set. */
export const RUNNER_MEMORY_MIN_BYTES = 256 * 1024 * 1024;
export const HELPER_SUBGROUP = "warren";
export const USER_SUBGROUP = "user";

/**
 * Moves every process of `envDir` into `envDir/warren`, makes `envDir/user`, enables the
 * controllers the group has for both, and sets memory.oom.group = 0 on each. Idempotent: a second
 * call (a re-adopted environment) moves stragglers and rewrites the same values.
 */
export async function splitEnvGroup(envDir: string): Promise<{ helper: string; user: string }> {
  const helper = path.join(envDir, HELPER_SUBGROUP);
  const user = path.join(envDir, USER_SUBGROUP);
  try {
    await mkdir(helper, { recursive: true });
    await mkdir(user, { recursive: true });
    const pids = ((await readOptional(path.join(envDir, "cgroup.procs"))) ?? "").split("\n").filter(Boolean);
    for (const pid of pids) {
      await writeValue(path.join(helper, "cgroup.procs"), pid).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ESRCH") throw err; // it exited meanwhile
      });
    }
    const controllers = ((await readOptional(path.join(envDir, "cgroup.controllers"))) ?? "").trim();
    if (controllers) {
      const enable = controllers
        .split(/\s+/)
        .map((c) => `+${c}`)
        .join(" ");
      await writeValue(path.join(envDir, "cgroup.subtree_control"), enable);
    }
    for (const dir of [helper, user]) {
      const file = path.join(dir, "memory.oom.group");
      if (await exists(file)) await writeValue(file, 0);
    }
  } catch (err) {
    throw wrap(`split cgroup ${envDir} into ${HELPER_SUBGROUP} and ${USER_SUBGROUP}`, err);
  }
  return { helper, user };
}

/** The runner's own v2 group from /proc/self/cgroup ("0::/system.slice/warren.service"). */
export function ownV2Group(procSelfCgroup: string): string | null {
  const line = procSelfCgroup.split("\n").find((l) => l.startsWith("0::"));
  return line ? line.slice(3).trim() || "/" : null;
}

/**
 * Sets memory.min of the runner's own group to at least `bytes`. Returns what it did, for the
 * start-up log; never throws (protection is best effort: the root group has no memory.min, and a
 * delegated group may not be writable).
 */
export async function protectRunnerMemory(
  root: string,
  bytes: number,
  procSelfCgroup?: string,
): Promise<string> {
  const text = procSelfCgroup ?? (await readFile("/proc/self/cgroup", "utf8").catch(() => ""));
  const group = ownV2Group(text);
  if (!group || group === "/") return "runner memory.min: not set (the runner is in the root group)";
  const file = path.join(root, group, "memory.min");
  try {
    const text = await readOptional(file);
    if (text === null) return `runner memory.min: not set (${file} is missing)`;
    const current = Number(text.trim());
    if (current >= bytes) return `runner memory.min: already ${current} bytes`;
    await writeValue(file, bytes);
    return `runner memory.min: set to ${bytes} bytes in ${group}`;
  } catch (err) {
    return `runner memory.min: not set (${(err as Error).message})`;
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
