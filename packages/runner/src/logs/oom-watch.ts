// Puts OOM kills in the environment's log. The kernel counts them per memory cgroup (v1
// memory.oom_control, v2 memory.events: oom_kill) but names the victim only in the kernel log,
// which is not readable here. So each check also notes the processes in the group with their
// resident memory: when the count rises, the kernel's victim (its largest process) is most likely
// the largest of those that have ended since the check before. One that started and was killed
// between two checks was never seen, and the log says its name is not known. Processes are read
// only while the group uses at least half its limit: the kernel kills only at the limit, and an
// idle environment's processes are not worth reading every second.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { formatSize } from "@warren/protocol";
import { parseKeyValues, parseLimit, readOptional, readPids, UNLIMITED } from "../cgroups/fs.ts";
import type { CgroupDriver } from "../cgroups/types.ts";
import type { RunnerConfig } from "../host/config.ts";
import { ID_RE } from "../host/names.ts";
import { appendEvent, type LogLimits, logLimits } from "./env-log.ts";

export const OOM_CHECK_MS = 1000;

export interface SeenProcess {
  name: string;
  /** The pid inside the environment (the last NSpid), which is what its user knows. */
  pid: number;
  rssBytes: number;
}

interface EnvMemory {
  kills: number;
  procs: Map<number, SeenProcess>;
}

export interface OomWatchTarget {
  id: string;
  cgroupPath: string;
  logFile: string;
}

/** The memory cgroup's files: v1 keeps them in the memory hierarchy, v2 in the one group. */
function memoryFiles(cgroups: Pick<CgroupDriver, "paths">, cgroupPath: string) {
  const p = cgroups.paths(cgroupPath);
  if (p["memory"]) {
    const dir = p["memory"];
    return {
      dir,
      kills: path.join(dir, "memory.oom_control"),
      limit: path.join(dir, "memory.limit_in_bytes"),
      usage: path.join(dir, "memory.usage_in_bytes"),
    };
  }
  const dir = p["unified"] ?? "";
  return {
    dir,
    kills: path.join(dir, "memory.events"),
    limit: path.join(dir, "memory.max"),
    usage: path.join(dir, "memory.current"),
  };
}

/** A byte count from a cgroup file; null when unreadable or unlimited. */
async function readBytes(file: string): Promise<number | null> {
  const text = await readOptional(file).catch(() => null);
  if (text === null) return null;
  try {
    const n = parseLimit(text);
    return n >= UNLIMITED ? null : n;
  } catch {
    return null;
  }
}

/** Name, in-environment pid and resident memory of a host pid; null once it is gone. */
export async function readProcess(hostPid: number): Promise<SeenProcess | null> {
  const status = await readFile(`/proc/${hostPid}/status`, "utf8").catch(() => null);
  if (status === null) return null;
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*)$`, "m").exec(status)?.[1]?.trim();
  const nspids = (field("NSpid") ?? String(hostPid)).split(/\s+/);
  const rssKb = Number.parseInt(field("VmRSS") ?? "0", 10);
  return {
    name: field("Name") ?? "?",
    pid: Number(nspids.at(-1) ?? hostPid),
    rssBytes: (Number.isFinite(rssKb) ? rssKb : 0) * 1024,
  };
}

/** What the log says for `n` new kills, naming the most likely victim among `ended`. */
export function oomMessage(n: number, limitBytes: number | null, ended: SeenProcess[]): string {
  const what = n === 1 ? "a process" : `${n} processes`;
  const at = limitBytes !== null ? ` at the ${formatSize(limitBytes)} memory limit` : " at the memory limit";
  const largest = ended.sort((a, b) => b.rssBytes - a.rssBytes)[0];
  const who = largest
    ? `most likely ${largest.name} (pid ${largest.pid}, ${formatSize(largest.rssBytes)} resident when last seen), the largest process that ended since the check before`
    : "its name is not known: it started and ended between two checks";
  return `out of memory: the kernel killed ${what}${at}; ${who}`;
}

export class OomWatch {
  readonly #seen = new Map<string, EnvMemory>();
  readonly #cgroups: Pick<CgroupDriver, "paths">;
  readonly #limits: LogLimits;

  constructor(cgroups: Pick<CgroupDriver, "paths">, limits: LogLimits) {
    this.#cgroups = cgroups;
    this.#limits = limits;
  }

  /** One check of one environment; returns the line it logged, if any. */
  async check(t: OomWatchTarget): Promise<string | null> {
    const files = memoryFiles(this.#cgroups, t.cgroupPath);
    const killsText = await readOptional(files.kills).catch(() => null);
    if (killsText === null) {
      this.#seen.delete(t.id); // not running: a new group starts counting from zero
      return null;
    }
    const kills = parseKeyValues(killsText).get("oom_kill") ?? 0;
    const limit = await readBytes(files.limit);
    const usage = await readBytes(files.usage);
    const procs = new Map<number, SeenProcess>();
    if (limit === null || usage === null || usage * 2 >= limit) {
      for (const hostPid of await readPids(files.dir).catch(() => [] as number[])) {
        const p = await readProcess(hostPid);
        if (p) procs.set(hostPid, p);
      }
    }
    const before = this.#seen.get(t.id);
    this.#seen.set(t.id, { kills, procs });
    // First sight, or a restarted environment (a new group, counting from zero): a baseline.
    if (!before || kills <= before.kills) return null;
    const ended = [...before.procs].filter(([hostPid]) => !procs.has(hostPid)).map(([, p]) => p);
    const line = oomMessage(kills - before.kills, limit, ended);
    await appendEvent(t.logFile, line, this.#limits);
    return line;
  }

  /** Checks every target and forgets environments no longer among them. */
  async pass(targets: OomWatchTarget[]): Promise<void> {
    const ids = new Set(targets.map((t) => t.id));
    for (const id of this.#seen.keys()) if (!ids.has(id)) this.#seen.delete(id);
    for (const t of targets) {
      // One environment's unreadable group must not stop the others' checks.
      await this.check(t).catch(() => null);
    }
  }
}

/**
 * Starts the periodic check of every environment on this host (stopped ones have no group and
 * are skipped at the cost of one failed read). The timer is unref'd so it never keeps a process
 * alive.
 */
export function startOomWatch(
  cfg: RunnerConfig,
  cgroups: Pick<CgroupDriver, "paths">,
  namesOf: (id: string) => { cgroupPath: string; logFile: string },
  everyMs = OOM_CHECK_MS,
): () => void {
  const watch = new OomWatch(cgroups, logLimits(cfg));
  let running = false;
  const timer = setInterval(() => {
    if (running) return; // a slow pass never overlaps the next
    running = true;
    readdir(path.join(cfg.root, "envs"))
      .catch(() => [] as string[])
      .then((ids) => watch.pass(ids.filter((id) => ID_RE.test(id)).map((id) => ({ id, ...namesOf(id) }))))
      .finally(() => {
        running = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
