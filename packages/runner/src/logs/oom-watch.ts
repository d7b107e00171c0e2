// Puts OOM kills in the environment's log. The kernel counts them per memory cgroup (v1
// memory.oom_control, v2 memory.events: oom_kill) but names the victim only in the kernel log,
// which is not readable here. So each check also notes the processes in the group with their
// resident memory: when the count rises, the kernel's victim (its largest process) is most likely
// the largest of those that have ended since the check before. One that started and was killed
// between two checks was never seen, and the log says its name is not known. Processes are read
// only while the group uses at least half its limit: the kernel kills only at the limit, and an
// idle environment's processes are not worth reading every second.
import { readdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { formatSize } from "@warren/protocol";
import { parseKeyValues, parseLimit, readOptional, readPids, UNLIMITED } from "../cgroups/fs.ts";
import type { CgroupDriver } from "../cgroups/types.ts";
import type { RunnerConfig } from "../host/config.ts";
import { ID_RE } from "../host/names.ts";
import { appendEvent, type LogLimits, logLimits } from "./env-log.ts";
import { MemoryPressureWatch } from "./memory-pressure.ts";

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

/**
 * What the log says for `n` new kills: "process X was killed: out of memory (limit 2Gi)", X being
 * the largest process that ended since the check before (the kernel kills the one with the
 * highest score, and users' processes all start at the same +500, so that is the largest).
 */
export function oomMessage(n: number, limitBytes: number | null, ended: SeenProcess[]): string {
  const limit = limitBytes !== null ? `limit ${formatSize(limitBytes)}` : "at its limit";
  const largest = ended.sort((a, b) => b.rssBytes - a.rssBytes)[0];
  const others = n > 1 ? `; ${n - 1} more ${n === 2 ? "was" : "were"} killed with it` : "";
  if (!largest) {
    const what = n === 1 ? "a process was" : `${n} processes were`;
    return `${what} killed: out of memory (${limit}); its name is not known: it started and ended between two checks`;
  }
  return (
    `process ${largest.name} was killed: out of memory (${limit}); pid ${largest.pid} inside, ` +
    `${formatSize(largest.rssBytes)} resident when last seen${others}`
  );
}

/** The environment's OOM kills over its life (every start), for inspect: oom.json beside its log. */
export interface OomRecord {
  kills: number;
  last?: { message: string; at: string };
}

export const oomRecordFile = (logFile: string) => path.join(path.dirname(logFile), "oom.json");

export async function readOomRecord(logFile: string): Promise<OomRecord | null> {
  const text = await readFile(oomRecordFile(logFile), "utf8").catch(() => null);
  if (text === null) return null;
  try {
    const r = JSON.parse(text) as OomRecord;
    return Number.isSafeInteger(r.kills) && r.kills >= 0 ? r : null;
  } catch {
    return null; // torn by a crash mid-write: counting restarts rather than failing inspect
  }
}

async function addToOomRecord(logFile: string, n: number, message: string): Promise<void> {
  const before = await readOomRecord(logFile);
  const next: OomRecord = {
    kills: (before?.kills ?? 0) + n,
    last: { message, at: new Date().toISOString() },
  };
  const file = oomRecordFile(logFile);
  await writeFile(`${file}.tmp`, JSON.stringify(next), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
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
    await addToOomRecord(t.logFile, kills - before.kills, line);
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
 * Starts the periodic check (OOM kills, then memory pressure: one sample a check) of every environment on this host (stopped ones have no group and
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
  const pressure = new MemoryPressureWatch(cgroups, logLimits(cfg));
  const pass = async (targets: OomWatchTarget[]) => {
    await watch.pass(targets);
    pressure.retain(new Set(targets.map((t) => t.id)));
    for (const t of targets) await pressure.check(t).catch(() => null);
  };
  let running = false;
  const timer = setInterval(() => {
    if (running) return; // a slow pass never overlaps the next
    running = true;
    readdir(path.join(cfg.root, "envs"))
      .catch(() => [] as string[])
      .then((ids) => pass(ids.filter((id) => ID_RE.test(id)).map((id) => ({ id, ...namesOf(id) }))))
      .finally(() => {
        running = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
