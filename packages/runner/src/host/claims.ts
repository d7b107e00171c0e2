// Several runners on one host (tests, demos, the fleet simulator, the autoscaler's `local`
// provider) must not share an id range, a subnet, a state root, a run directory or a name
// prefix: two runners on one uid block can read each other's files, two on one subnet or prefix
// rewrite each other's firewall table and bridge, and two on one root or run dir sweep each
// other's environments. Each runner (and the embedded daemon) records what it holds in a
// host-wide registry, one file per prefix, and refuses to start when anything it would take
// overlaps a live claim. A claim is live while its process is: the pid must exist AND have the
// same start time, so a dead runner's claim (kill -9, reboot) never blocks anyone, even after
// its pid is reused.
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { WarrenError } from "@warren/protocol";
import { networkConfig, parseCidr4 } from "../network/addr.ts";
import type { RunnerConfig } from "./config.ts";
import { hostnameLabel } from "./identity.ts";
import { IDS_PER_ENV, type IdRange, parseSubidFile, readWarrenRange, type SubidEntry } from "./idrange.ts";

/** The registry: tmpfs, so a reboot forgets every claim along with the processes. */
export const DEFAULT_CLAIMS_DIR = "/run/warren-runners";

export interface HostClaim {
  /** "runner" for `warren runner`, "daemon" for the embedded `warren daemon`. */
  kind: "runner" | "daemon";
  /** The runner's fleet name, for messages. */
  name: string;
  prefix: string;
  root: string;
  runDir: string;
  idRange: IdRange;
  subnet: string;
}

export interface StoredClaim extends HostClaim {
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22). */
  pidStart: string;
  claimedAt: string;
}

export interface ClaimOptions {
  dir?: string;
  /** Subordinate id files consulted for a suggested free id range (best effort). */
  subidFiles?: string[];
  /** For tests: the claiming process. */
  pid?: number;
}

/** The start time of `pid`, or undefined when no such process exists. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may hold spaces and parentheses: count fields after its last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

const isLive = (c: StoredClaim) => processStart(c.pid) === c.pidStart;

/** Two inclusive-exclusive id ranges share an id. */
export const rangesOverlap = (a: IdRange, b: IdRange) =>
  a.start < b.start + b.size && b.start < a.start + a.size;

export function subnetsOverlap(a: string, b: string): boolean {
  const x = parseCidr4(a);
  const y = parseCidr4(b);
  const xs = 2 ** (32 - x.prefixLen);
  const ys = 2 ** (32 - y.prefixLen);
  return x.base < y.base + ys && y.base < x.base + xs;
}

/** The same directory, or one inside the other. */
export function dirsOverlap(a: string, b: string): boolean {
  const x = path.resolve(a);
  const y = path.resolve(b);
  return x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`) || x === "/" || y === "/";
}

function who(c: StoredClaim): string {
  return c.kind === "daemon" ? `the embedded daemon (pid ${c.pid})` : `runner \`${c.name}\` (pid ${c.pid})`;
}

function freeRangeHint(mine: HostClaim, live: StoredClaim[], subidFiles: string[]): string {
  const taken: SubidEntry[] = live.map((c, i) => ({
    name: c.name,
    start: c.idRange.start,
    count: c.idRange.size,
    line: i,
  }));
  for (const f of subidFiles) {
    try {
      // Other users' subordinate ids: a suggestion must not hand out theirs either.
      taken.push(...parseSubidFile(readFileSync(f, "utf8")).filter((e) => e.name !== "warren"));
    } catch {}
  }
  let start = Math.ceil(mine.idRange.start / IDS_PER_ENV) * IDS_PER_ENV;
  for (let i = 0; i < 10_000; i++) {
    const hit = taken.find((e) =>
      rangesOverlap({ start, size: mine.idRange.size }, { start: e.start, size: e.count }),
    );
    if (!hit) break;
    start = Math.ceil((hit.start + hit.count) / IDS_PER_ENV) * IDS_PER_ENV;
  }
  return start + mine.idRange.size <= 2 ** 32 - 1 ? `${start}:${mine.idRange.size}` : "START:SIZE";
}

function freeSubnetHint(mine: HostClaim, live: StoredClaim[]): string {
  const { base, prefixLen } = parseCidr4(mine.subnet);
  const size = 2 ** (32 - prefixLen);
  for (let b = base + size, i = 0; b + size <= 2 ** 32 && i < 65_536; b += size, i++) {
    const cand = `${[b >>> 24, (b >>> 16) & 255, (b >>> 8) & 255, b & 255].join(".")}/${prefixLen}`;
    if (!live.some((c) => subnetsOverlap(cand, c.subnet))) return cand;
  }
  return "A.B.C.D/N";
}

function freePrefixHint(mine: HostClaim, live: StoredClaim[]): string {
  const stem = mine.prefix.slice(0, 12);
  for (let i = 2; i < 100; i++) {
    if (!live.some((c) => c.prefix === `${stem}${i}`)) return `${stem}${i}`;
  }
  return "P";
}

const SAME_INSTALL = (a: HostClaim, b: HostClaim) =>
  path.resolve(a.root) === path.resolve(b.root) && path.resolve(a.runDir) === path.resolve(b.runDir);

/** Every overlap between `mine` and the live claims, each saying what, whose, and how to fix it. */
export function findOverlaps(mine: HostClaim, live: StoredClaim[], subidFiles: string[] = []): string[] {
  const out: string[] = [];
  // `warren runner` takes flags; the embedded daemon only the variables.
  const set = (flag: string, envVar: string, value: string) =>
    mine.kind === "runner" ? `pass ${flag} ${value}` : `set ${envVar}=${value}`;
  for (const c of live) {
    if (SAME_INSTALL(mine, c)) {
      out.push(`${who(c)} already serves ${mine.root} (run dir ${mine.runDir}); stop it first`);
      continue;
    }
    if (rangesOverlap(mine.idRange, c.idRange)) {
      out.push(
        `id range ${mine.idRange.start}:${mine.idRange.size} overlaps ${who(c)}'s ${c.idRange.start}:${c.idRange.size}: ` +
          `set WARREN_ID_RANGE=${freeRangeHint(mine, live, subidFiles)} (or another block of its own)`,
      );
    }
    if (subnetsOverlap(mine.subnet, c.subnet)) {
      out.push(
        `subnet ${mine.subnet} overlaps ${who(c)}'s ${c.subnet}: set WARREN_SUBNET=${freeSubnetHint(mine, live)}`,
      );
    }
    for (const [flag, envVar, what, d] of [
      ["--root", "WARREN_ROOT", "state root", mine.root],
      ["--run", "WARREN_RUN", "run directory", mine.runDir],
    ] as const) {
      const hit = [c.root, c.runDir].find((theirs) => dirsOverlap(d, theirs));
      if (hit)
        out.push(
          `${what} ${d} overlaps ${who(c)}'s ${hit}: ${set(flag, envVar, "DIR")}, a directory of its own`,
        );
    }
    if (mine.prefix === c.prefix) {
      out.push(
        `prefix ${mine.prefix} is ${who(c)}'s: ${set("--prefix", "WARREN_PREFIX", freePrefixHint(mine, live))}`,
      );
    }
  }
  return out;
}

function readClaims(dir: string): { file: string; claim: StoredClaim | null }[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  return names.map((n) => {
    const file = path.join(dir, n);
    try {
      const c = JSON.parse(readFileSync(file, "utf8")) as StoredClaim;
      const ok =
        Number.isInteger(c.pid) &&
        typeof c.pidStart === "string" &&
        c.idRange &&
        typeof c.subnet === "string";
      return { file, claim: ok ? c : null };
    } catch {
      return { file, claim: null };
    }
  });
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Holds the registry's lock file (O_EXCL, holding "pid start") while `fn` runs. A lock left by a
 * dead process is taken over. Claims are a few file reads long, so waiting is short.
 */
function withRegistryLock<T>(dir: string, pid: number, fn: () => T): T {
  const lock = path.join(dir, ".lock");
  const me = `${pid} ${processStart(pid) ?? ""}`;
  for (let i = 0; ; i++) {
    try {
      const fd = openSync(lock, "wx", 0o600);
      writeSync(fd, me);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const [p, start] = (() => {
        try {
          return readFileSync(lock, "utf8").split(" ");
        } catch {
          return [];
        }
      })();
      if (p !== undefined && processStart(Number(p)) !== start) {
        try {
          unlinkSync(lock);
        } catch {}
        continue;
      }
      if (i > 250) throw new Error(`the runner registry ${lock} stays locked by pid ${p}`);
      sleepSync(20);
    }
  }
  try {
    return fn();
  } finally {
    try {
      if (readFileSync(lock, "utf8") === me) unlinkSync(lock);
    } catch {}
  }
}

/**
 * Records `mine` in the host's registry, or throws INVALID_ARGUMENT naming each overlap with a
 * live runner (and nothing is recorded). Stale claims found on the way are deleted. Returns the
 * release function (called on a clean shutdown; a killed runner's claim goes stale by itself).
 */
export function claimHostResources(mine: HostClaim, opts: ClaimOptions = {}): () => void {
  const dir = opts.dir ?? DEFAULT_CLAIMS_DIR;
  const pid = opts.pid ?? process.pid;
  const pidStart = processStart(pid);
  if (pidStart === undefined) throw new Error(`no process ${pid} to claim host resources for`);
  parseCidr4(mine.subnet); // a malformed subnet fails here, before anything is recorded
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${mine.prefix}.json`);
  withRegistryLock(dir, pid, () => {
    const live: StoredClaim[] = [];
    for (const { file: f, claim } of readClaims(dir)) {
      if (claim && isLive(claim)) live.push(claim);
      else {
        try {
          unlinkSync(f);
        } catch {}
      }
    }
    const problems = findOverlaps(mine, live, opts.subidFiles ?? ["/etc/subuid", "/etc/subgid"]);
    if (problems.length) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `this ${mine.kind} cannot share the host's resources with another one: ${problems.join("; ")}`,
        { overlaps: problems },
      );
    }
    const stored: StoredClaim = { ...mine, pid, pidStart, claimedAt: new Date().toISOString() };
    const tmp = `${file}.tmp-${pid}`;
    const fd = openSync(tmp, "w", 0o600);
    writeSync(fd, JSON.stringify(stored));
    closeSync(fd);
    renameSync(tmp, file);
  });
  return () => {
    try {
      const c = JSON.parse(readFileSync(file, "utf8")) as StoredClaim;
      if (c.pid === pid && c.pidStart === pidStart) unlinkSync(file);
    } catch {}
  };
}

/**
 * Claims what a runner with this config takes on the host: the configured id range (else the
 * `warren` block of /etc/subuid), subnet, root, run dir and prefix. Call before creating
 * anything on the host, so a refused runner leaves the other one's objects alone.
 */
export async function claimRunnerHost(
  cfg: RunnerConfig,
  kind: HostClaim["kind"],
  opts: ClaimOptions = {},
): Promise<() => void> {
  return claimHostResources(
    {
      kind,
      name: cfg.name ?? hostnameLabel(),
      prefix: cfg.prefix,
      root: path.resolve(cfg.root),
      runDir: path.resolve(cfg.runDir),
      idRange: cfg.idRange ?? (await readWarrenRange()),
      subnet: networkConfig(cfg).subnet,
    },
    opts,
  );
}
