// Small file helpers shared by the cgroup drivers. Cgroup files are tiny text files whose
// writes fail with meaningful errnos (EBUSY, EINVAL, ESRCH), so errors keep their `code`.
import { constants } from "node:fs";
import { access, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";

export function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Contents of a cgroup file, or null when the file (or its group) does not exist. */
export async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if (errnoOf(err) === "ENOENT" || errnoOf(err) === "ENODEV") return null;
    throw err;
  }
}

/** Reads a single-number file; "max" (v2) and v1's page-rounded INT64_MAX both mean unlimited. */
export async function readNumber(file: string): Promise<number> {
  return parseLimit(await readFile(file, "utf8"));
}

export const UNLIMITED = Number.MAX_SAFE_INTEGER;

export function parseLimit(text: string): number {
  const t = text.trim();
  if (t === "max") return UNLIMITED;
  const n = Number(t);
  if (!Number.isFinite(n)) throw new Error(`unexpected cgroup value ${JSON.stringify(t)}`);
  // v1 reports "no limit" as 9223372036854771712, beyond a safe integer.
  return Math.min(n, UNLIMITED);
}

/** Parses "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/**
 * Writes one value with a single write(). Opened without O_CREAT so a missing control file
 * fails with ENOENT (cgroupfs itself refuses to create files with a less telling EACCES).
 */
export async function writeValue(file: string, value: string | number): Promise<void> {
  await writeFile(file, String(value), { flag: constants.O_WRONLY | constants.O_TRUNC });
}

/**
 * The kernel refuses a CFS quota below the group's burst (EINVAL), and the CPU governor sets the
 * burst to the quota it grants, so a live resize clears the burst before lowering the quota; the
 * governor's next tick sets it again. A kernel without CFS burst has no file: nothing to clear.
 */
export async function dropCfsBurst(file: string): Promise<void> {
  await writeValue(file, "0").catch((err: unknown) => {
    if (errnoOf(err) !== "ENOENT") throw err;
  });
}

export async function readPids(dir: string): Promise<number[]> {
  const text = await readOptional(path.join(dir, "cgroup.procs"));
  if (!text) return [];
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map(Number);
}

/** Names of child directories; [] when `dir` does not exist. */
export async function childGroups(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return [];
    throw err;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Removes a group and its descendants (deepest first). A group with processes still exiting
 * answers EBUSY for a moment, so retry briefly before giving up.
 */
export async function removeGroupTree(dir: string, timeoutMs = 3000): Promise<void> {
  for (const child of await childGroups(dir)) await removeGroupTree(path.join(dir, child), timeoutMs);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = errnoOf(err);
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || Date.now() > deadline) throw err;
      await sleep(20);
    }
  }
}

/** SIGKILLs every process listed in the groups until all are empty (frozen groups must be thawed first). */
export async function killUntilEmpty(dirs: string[], timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = new Set<number>();
    for (const dir of dirs) for (const pid of await readPids(dir)) pids.add(pid);
    if (pids.size === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch (err) {
        if (errnoOf(err) !== "ESRCH") throw err;
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`processes still running after SIGKILL: ${[...pids].join(", ")}`);
    }
    await sleep(20);
  }
}

/** The directories plus all their existing descendants. */
export async function withDescendants(dirs: string[]): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string) => {
    try {
      await access(dir);
    } catch {
      return;
    }
    out.push(dir);
    for (const c of await childGroups(dir)) await visit(path.join(dir, c));
  };
  for (const d of dirs) await visit(d);
  return out;
}
