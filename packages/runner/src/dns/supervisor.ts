// The runner's side of the resolver process (resolver-process.ts). On start it adopts the
// resolver that is already serving (the daemon restarted; environments never noticed) or starts
// one; it keeps the resolver's names table current over the control socket; and when the control
// connection drops (the resolver died) it starts a new one at once, then with backoff.
//
// The resolver is started detached, in its own session, so neither a kill of the daemon nor a
// signal to its process group reaches it. Files in the run dir (root-only):
//   dns.sock  control socket   dns.pid  the resolver's pid   dns.log  its log
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync, statSync, truncateSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type DnsStats, WarrenError } from "@warren/protocol";
import { ControlClient, type ResolverIdentity } from "./control.ts";

const ENTRY = path.join(import.meta.dirname, "resolver-process.ts");
/** Respawn delays after a crash: the first is immediate, repeated crashes back off to this. */
const MAX_BACKOFF_MS = 5000;
/** A resolver that lived this long resets the backoff. */
const HEALTHY_MS = 10_000;
const LOG_MAX_BYTES = 1 << 20;

export interface SupervisorOptions {
  identity: ResolverIdentity;
  runDir: string;
  /** The unprivileged ids the resolver runs as once its sockets are bound. */
  uid: number;
  gid: number;
  /** The full ip -> name table, pushed on every (re)connect. */
  names: () => [string, string][];
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface ResolverProcess {
  /** The resolver's pid, or undefined while it is being restarted. */
  pid(): number | undefined;
  set(ip: string, name: string): void;
  delete(ip: string): void;
  stats(): Promise<DnsStats>;
  /** Stops supervising; with `stop` the resolver process exits too, otherwise it keeps serving. */
  close(opts: { stop: boolean }): Promise<void>;
}

export function resolverPaths(runDir: string): { control: string; pidFile: string; log: string } {
  return {
    control: path.join(runDir, "dns.sock"),
    pidFile: path.join(runDir, "dns.pid"),
    log: path.join(runDir, "dns.log"),
  };
}

const sameIdentity = (a: ResolverIdentity | undefined, b: ResolverIdentity) =>
  a !== undefined && JSON.stringify(a) === JSON.stringify(b);

function connect(p: string): Promise<ControlClient | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once("connect", () => resolve(new ControlClient(s)));
    s.once("error", () => resolve(undefined));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in the pidfile when that process is our resolver for this run dir (not a reused pid). */
export function recordedResolverPid(runDir: string): number | undefined {
  const paths = resolverPaths(runDir);
  const pid = Number(readFileSafe(paths.pidFile).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const cmd = readFileSafe(`/proc/${pid}/cmdline`);
  return cmd.includes(ENTRY) && cmd.includes(JSON.stringify(paths.control).slice(1, -1)) ? pid : undefined;
}

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return "";
  }
}

export async function superviseResolver(o: SupervisorOptions): Promise<ResolverProcess> {
  const paths = resolverPaths(o.runDir);
  const log = o.log ?? (() => {});
  let client: ControlClient | undefined;
  let pid: number | undefined;
  let closing = false;
  let backoff = 0;
  let attachedAt = 0;
  let timer: NodeJS.Timeout | undefined;

  function adopt(c: ControlClient, p: number | undefined): void {
    client = c;
    pid = p;
    attachedAt = Date.now();
    // The full table first; set/delete sent after it are applied after it.
    c.send({ op: "names", names: o.names() });
    void c.closed.then(() => lost(c));
  }

  function lost(c: ControlClient): void {
    if (client !== c) return;
    client = undefined;
    pid = undefined;
    if (closing) return;
    if (Date.now() - attachedAt > HEALTHY_MS) backoff = 0;
    log("dns resolver process went away; starting another", { inMs: backoff });
    schedule();
  }

  function schedule(): void {
    timer = setTimeout(() => {
      timer = undefined;
      attach().catch((err: unknown) => {
        if (closing) return;
        log("dns resolver process failed to start", { error: (err as Error).message });
        backoff = Math.min(Math.max(backoff * 2, 200), MAX_BACKOFF_MS);
        schedule();
      });
    }, backoff);
  }

  async function attach(): Promise<void> {
    for (let attempt = 0; attempt < 3 && !closing; attempt++) {
      const c = await connect(paths.control);
      if (c) {
        const hello = await c.request({ op: "hello" }).catch(() => undefined);
        if (hello && sameIdentity(hello.identity, o.identity)) return adopt(c, hello.pid);
        if (hello) {
          log("replacing the dns resolver process: its configuration differs", {
            running: hello.identity,
            wanted: o.identity,
          });
          await c.request({ op: "stop" }).catch(() => undefined);
          await Promise.race([c.closed, sleep(3000, undefined, { ref: false })]);
        }
        c.close();
      }
      await killStale();
      const child = startProcess();
      const started = await waitForControl(child, 5000);
      if (!started) continue;
      const hello = await started.request({ op: "hello" }).catch(() => undefined);
      if (hello && sameIdentity(hello.identity, o.identity)) return adopt(started, hello.pid);
      started.close();
    }
    throw new Error(`the dns resolver process did not start; see ${paths.log}`);
  }

  /** A resolver that no longer answers on its socket still holds port 53: end it. */
  async function killStale(): Promise<void> {
    const stale = recordedResolverPid(o.runDir);
    if (stale === undefined) return;
    log("killing an unresponsive dns resolver process", { pid: stale });
    try {
      process.kill(stale, "SIGKILL");
    } catch {}
    for (let i = 0; i < 100 && alive(stale); i++) await sleep(20);
  }

  function startProcess(): ChildProcess {
    try {
      if (statSync(paths.log).size > LOG_MAX_BYTES) truncateSync(paths.log, 0);
    } catch {}
    const out = openSync(paths.log, "a", 0o600);
    const cfg = { ...o.identity, controlPath: paths.control, pidFile: paths.pidFile, uid: o.uid, gid: o.gid };
    // setpriv: no_new_privs, no inheritable caps, and a bounding set of exactly what binding port
    // 53 and dropping root take. The process gives those up itself once bound.
    const child = spawn(
      "setpriv",
      [
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all,+net_bind_service,+setuid,+setgid",
        "--",
        process.execPath,
        "--max-old-space-size=128",
        ENTRY,
        JSON.stringify(cfg),
      ],
      {
        detached: true,
        cwd: "/",
        env: { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
        stdio: ["ignore", out, out],
      },
    );
    closeSync(out);
    child.on("error", (e) =>
      log("cannot start the dns resolver process (is util-linux's setpriv installed?)", { error: e.message }),
    );
    child.unref();
    return child;
  }

  async function waitForControl(child: ChildProcess, ms: number): Promise<ControlClient | undefined> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const c = await connect(paths.control);
      if (c) return c;
      // Exited: it failed, or another resolver was already serving (the next attempt adopts it).
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      await sleep(20);
    }
    try {
      child.kill("SIGKILL");
    } catch {}
    return undefined;
  }

  await attach();
  return {
    pid: () => pid,
    set: (ip, name) => client?.send({ op: "set", ip, name }),
    delete: (ip) => client?.send({ op: "delete", ip }),
    async stats() {
      if (!client) {
        throw new WarrenError("RUNNER_UNAVAILABLE", "the DNS resolver is restarting; try again in a moment");
      }
      return (await client.request({ op: "stats" })).stats!;
    },
    async close({ stop }) {
      closing = true;
      if (timer) clearTimeout(timer);
      const c = client;
      const p = pid;
      if (!c) return;
      if (!stop) return c.close();
      await c.request({ op: "stop" }).catch(() => undefined);
      await Promise.race([c.closed, sleep(3000, undefined, { ref: false })]);
      for (let i = 0; p !== undefined && i < 150 && alive(p); i++) await sleep(20);
      rmSync(paths.pidFile, { force: true });
      rmSync(paths.control, { force: true });
    },
  };
}
