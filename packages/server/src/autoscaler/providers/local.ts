// The `local` provider: each "host" is a `warren runner` process on this machine, for tests and
// demos. Several runners on one host must not share anything, so host number i gets its own id
// range (idRange.start + i × idRange.size), subnet (10.<subnetBase>.<i>.0/24), state root, run
// directory and name prefix; the runner itself refuses to start on an overlap.
//
// State lives in stateDir, so a restarted control plane finds its hosts again:
// - slots/<i>: claims host number i (created exclusively: two creates never share one);
// - hosts/<id>.json: the process (pid and kernel start time, so a recycled pid is not ours);
// - hosts/<id>/: its root, run dir, token file (0600: never on the command line) and log.
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { checkSafeId, type HostProvider, type HostRequest, type HostStatus } from "./types.ts";

export interface LocalProviderOptions {
  stateDir: string;
  /** argv before the runner flags, e.g. ["/usr/bin/warren", "runner"]. */
  command: string[];
  /** The first host's id range; host i's starts i blocks later. */
  idRange?: { start: number; size: number };
  /** Host i gets 10.<subnetBase>.<i>.0/24. */
  subnetBase?: number;
  /** Host i's names start with `<prefix><i>`. */
  prefix?: string;
  /** At most this many hosts at once. */
  maxHosts?: number;
  /** SIGTERM, then SIGKILL after this long. */
  stopTimeoutMs?: number;
}

interface HostRecord {
  id: string;
  index: number;
  pid: number;
  startTime: string;
  name: string;
}

/** The kernel's start time of a live (not zombie) process, or undefined. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

const alive = (r: HostRecord) => startTimeOf(r.pid) === r.startTime;
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** Mounts under dir (a runner's root may hold environment disks): never rm -rf across one. */
function mountsUnder(dir: string): string[] {
  const prefix = `${path.resolve(dir)}/`;
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(prefix));
}

export function createLocalProvider(o: LocalProviderOptions): HostProvider {
  if (o.command.length === 0) throw new Error("the local provider needs a command (argv of `warren runner`)");
  const idRange = o.idRange ?? { start: 10_000_000, size: 64 * 65_536 };
  const subnetBase = o.subnetBase ?? 210;
  const prefix = o.prefix ?? "wa";
  const maxHosts = Math.min(o.maxHosts ?? 32, 256);
  const stopTimeoutMs = o.stopTimeoutMs ?? 10_000;
  const hosts = path.join(o.stateDir, "hosts");
  const slots = path.join(o.stateDir, "slots");
  mkdirSync(hosts, { recursive: true, mode: 0o700 });
  mkdirSync(slots, { recursive: true, mode: 0o700 });
  const recordPath = (id: string) => path.join(hosts, `${id}.json`);
  const dirOf = (id: string) => path.join(hosts, id);

  function read(id: string): HostRecord | undefined {
    try {
      return JSON.parse(readFileSync(recordPath(id), "utf8")) as HostRecord;
    } catch {
      return undefined;
    }
  }

  /** The lowest free host number, claimed for `id` (or the one it already holds). */
  function claimIndex(id: string): number {
    for (const f of readdirSync(slots)) {
      if (readFileSync(path.join(slots, f), "utf8") === id) return Number(f);
    }
    for (let i = 0; i < maxHosts; i++) {
      try {
        const fd = openSync(path.join(slots, String(i)), "wx", 0o600);
        writeFileSync(fd, id);
        closeSync(fd);
        return i;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
    throw new Error(`local provider: all ${maxHosts} host numbers are taken; delete hosts or raise maxHosts`);
  }

  function spawnRunner(req: HostRequest, index: number): HostRecord {
    const dir = dirOf(req.requestId);
    for (const d of ["root", "run"]) mkdirSync(path.join(dir, d), { recursive: true, mode: 0o700 });
    const tokenFile = path.join(dir, "token");
    writeFileSync(tokenFile, `${req.token}\n`, { mode: 0o600 });
    const labels = Object.entries(req.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
    const args = [
      ...o.command.slice(1),
      ...["--server", req.server.url, "--fingerprint", req.server.fingerprint, "--token-file", tokenFile],
      ...["--name", req.name, ...labels],
      ...["--root", path.join(dir, "root"), "--run", path.join(dir, "run"), "--prefix", `${prefix}${index}`],
    ];
    const log = openSync(path.join(dir, "runner.log"), "a", 0o600);
    const child = spawn(o.command[0] as string, args, {
      detached: true, // its own process group: a stop reaches its children too
      stdio: ["ignore", log, log],
      env: {
        PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        WARREN_ID_RANGE: `${idRange.start + index * idRange.size}:${idRange.size}`,
        WARREN_SUBNET: `10.${subnetBase}.${index}.0/24`,
      },
    });
    closeSync(log);
    child.unref();
    const pid = child.pid;
    const startTime = pid === undefined ? undefined : startTimeOf(pid);
    if (pid === undefined || startTime === undefined)
      throw new Error(`local provider: ${o.command[0]} did not start`);
    const rec: HostRecord = { id: req.requestId, index, pid, startTime, name: req.name };
    writeFileSync(recordPath(rec.id), JSON.stringify(rec), { mode: 0o600 });
    return rec;
  }

  async function stop(rec: HostRecord): Promise<void> {
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(-rec.pid, s);
      } catch {
        // already gone
      }
    };
    if (!alive(rec)) return;
    signal("SIGTERM");
    const deadline = Date.now() + stopTimeoutMs;
    while (alive(rec) && Date.now() < deadline) await sleep(25);
    if (alive(rec)) signal("SIGKILL");
    while (alive(rec)) await sleep(10);
  }

  return {
    kind: "local",
    async create(req) {
      checkSafeId("request id", req.requestId);
      const rec = read(req.requestId);
      if (rec && alive(rec)) return { id: rec.id };
      // Asked again for a host whose process died: start it again under the same number.
      const index = rec?.index ?? claimIndex(req.requestId);
      try {
        return { id: spawnRunner(req, index).id };
      } catch (err) {
        if (!rec) rmSync(path.join(slots, String(index)), { force: true });
        throw err;
      }
    },
    async delete(id) {
      checkSafeId("host id", id);
      const rec = read(id);
      if (rec) await stop(rec);
      const dir = dirOf(id);
      if (existsSync(dir)) {
        const mounts = mountsUnder(dir);
        if (mounts.length > 0) {
          throw new Error(`local provider: ${dir} still has mounts (${mounts.join(", ")}); not removed`);
        }
        rmSync(dir, { recursive: true, force: true });
      }
      rmSync(recordPath(id), { force: true });
      if (rec) rmSync(path.join(slots, String(rec.index)), { force: true });
    },
    async status(id): Promise<HostStatus> {
      checkSafeId("host id", id);
      const rec = read(id);
      if (!rec) return { id, state: "gone" };
      if (alive(rec)) return { id, state: "running", detail: `pid ${rec.pid}, ${rec.name}` };
      return {
        id,
        state: "failed",
        detail: `pid ${rec.pid} exited; see ${path.join(dirOf(id), "runner.log")}`,
      };
    },
  };
}
