// End-to-end harness: a real daemon (server + runner in one process, as users run it) on a
// private root, run dir, cgroup/container prefix, socket and id block, driven through the real
// CLI and API client. Teardown removes every host object the run made, even after a failure.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ApiClient, createClient } from "@warren/protocol";
import { ifGroupFor, recordedLxcfsPid, recordedResolverPid } from "@warren/runner";

export const REPO = path.resolve(import.meta.dirname, "../../..");
const MAIN = path.join(REPO, "packages/cli/src/main.ts");
/** Images are content-addressed and shared by every test root, so the base image builds once per machine. */
export const SHARED_IMAGES = `${process.env["WARREN_TEST_BASE_CACHE"] ?? "/var/cache/warren-test/base"}/images`;
/** Test id blocks live far above the `warren` block so tests never share uids with real environments. */
const TEST_ID_BASE = 3_000_000_000;

export interface Harness {
  root: string;
  prefix: string;
  socket: string;
  env: NodeJS.ProcessEnv;
  client: ApiClient;
  daemon: ChildProcess | null;
  startDaemon(extraEnv?: NodeJS.ProcessEnv): Promise<void>;
  /** SIGKILLs the daemon (it is ours, by pid) and waits for it to exit. */
  killDaemon(): Promise<void>;
  cli(args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }): CliResult;
  /** Like cli(), without blocking the event loop (for work measured while it runs). */
  cliAsync(args: string[]): Promise<CliResult>;
  /** Host objects with this run's prefix: cgroups, mounts, loop devices, runtime state. */
  leftovers(): string[];
  teardown(): Promise<void>;
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export async function makeHarness(name: string): Promise<Harness> {
  const tag = randomBytes(3).toString("hex");
  const prefix = `wt${tag}`;
  const root = `/tmp/warren-e2e-${name}-${tag}`;
  mkdirSync(`${root}/run`, { recursive: true, mode: 0o700 });
  mkdirSync(SHARED_IMAGES, { recursive: true, mode: 0o700 });
  const block = TEST_ID_BASE + (randomBytes(2).readUInt16BE() % 256) * 65536 * 64;
  const socket = `${root}/run/warren.sock`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WARREN_ROOT: root,
    WARREN_RUN: `${root}/run`,
    WARREN_PREFIX: prefix,
    WARREN_SOCKET: socket,
    WARREN_IMAGES: SHARED_IMAGES,
    WARREN_ID_RANGE: `${block}:${65536 * 64}`,
    // A private /24 per run: its own resolver address, nft table and interface group.
    WARREN_SUBNET: `10.201.${randomBytes(1).readUInt8() % 250}.0/24`,
    WARREN_LOG: `${root}/daemon.log`,
    // A CLI call while the test has its daemon down must fail, not start an untracked one.
    WARREN_NO_AUTOSTART: "1",
    // Never the default 2222, which a developer's daemon may hold; GET /api/v1/ssh/gateway says which.
    WARREN_SSH_LISTEN: "127.0.0.1:0",
    WARREN_HTTP_LISTEN: "127.0.0.1:0",
  };
  const client = createClient({ socketPath: socket });
  const h: Harness = {
    root,
    prefix,
    socket,
    env,
    client,
    daemon: null,
    async startDaemon(extraEnv = {}) {
      const log = openSync(`${root}/daemon.log`, "a");
      const child = spawn(process.execPath, [MAIN, "daemon"], {
        env: { ...env, ...extraEnv },
        stdio: ["ignore", log, log],
      });
      h.daemon = child;
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        if (child.exitCode !== null || child.signalCode !== null) return; // failpoint runs may die at once
        try {
          await client.health();
          return;
        } catch {
          await sleep(100);
        }
      }
      throw new Error(
        `daemon did not come up; log:\n${readFileSync(`${root}/daemon.log`, "utf8").slice(-3000)}`,
      );
    },
    async killDaemon() {
      const d = h.daemon;
      if (!d) return;
      if (d.exitCode === null && d.signalCode === null) {
        const exited = new Promise((r) => d.once("exit", r));
        d.kill("SIGKILL");
        await exited;
      }
      h.daemon = null;
    },
    cli(args, opts = {}) {
      const r = spawnSync(process.execPath, [MAIN, ...args], {
        env: { ...env, ...opts.env },
        input: opts.input ?? "",
        encoding: "utf8",
        timeout: 180_000,
      });
      return { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
    },
    cliAsync(args) {
      return new Promise((resolve) => {
        const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on("data", (d: Buffer) => {
          stderr += d.toString();
        });
        child.on("close", (code) => resolve({ status: code ?? 128, stdout, stderr }));
      });
    },
    leftovers: () => leftovers(root, prefix),
    async teardown() {
      try {
        if (h.daemon) {
          for (const e of await client.listEnvironments().catch(() => [])) {
            await client.deleteEnvironment(e.name, true).catch(() => undefined);
          }
        }
      } finally {
        await h.killDaemon();
        forceClean(root, prefix, { subnet: env["WARREN_SUBNET"] });
      }
    },
  };
  return h;
}

function cgroupDirs(prefix: string): string[] {
  const out: string[] = [];
  for (const ctrl of readdirSync("/sys/fs/cgroup")) {
    const dir = path.join("/sys/fs/cgroup", ctrl, prefix);
    if (existsSync(dir)) out.push(dir);
  }
  return out;
}

function mountsUnder(root: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .map((m) => m.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
    .filter((m) => m === root || m.startsWith(`${root}/`));
}

function loopsUnder(root: string): string[] {
  const r = spawnSync("losetup", ["-J", "-l"], { encoding: "utf8" });
  if (!r.stdout.trim()) return [];
  const devs = (JSON.parse(r.stdout) as { loopdevices: { name: string; "back-file": string | null }[] })
    .loopdevices;
  return devs
    .filter((d) => d["back-file"]?.startsWith(`${root}/`))
    .map((d) => `${d.name} (${d["back-file"]})`);
}

function runtimeState(root: string): string[] {
  const out: string[] = [];
  for (const rt of ["runc", "crun", "runsc"]) {
    const dir = path.join(root, "run", rt);
    if (existsSync(dir)) for (const c of readdirSync(dir)) out.push(`${rt}:${c}`);
  }
  return out;
}

/** Host-side veths of this run (they carry the run's interface group) and its nft set elements. */
function networkLeftovers(prefix: string): string[] {
  const out: string[] = [];
  const links = spawnSync("ip", ["-o", "link", "show", "group", String(ifGroupFor(prefix))], {
    encoding: "utf8",
  });
  for (const l of links.stdout.split("\n").filter(Boolean)) out.push(`veth ${l.split(":")[1]?.trim()}`);
  const sets = spawnSync("nft", ["-j", "list", "table", "inet", prefix], { encoding: "utf8" });
  if (sets.status === 0) {
    const j = JSON.parse(sets.stdout) as { nftables: { set?: { name: string; elem?: unknown[] } }[] };
    for (const o of j.nftables) {
      // blocked4/blocked6 are the constant always-blocked destinations, not per-environment.
      if (o.set?.elem?.length && !o.set.name.startsWith("blocked"))
        out.push(`nft set ${o.set.name}: ${o.set.elem.length} elements`);
    }
  }
  return out;
}

export function leftovers(root: string, prefix: string): string[] {
  const groups = cgroupDirs(prefix).flatMap((d) =>
    readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(d, e.name)),
  );
  return [
    ...groups.map((g) => `cgroup ${g}`),
    // The netns directory itself is a host-level shared bind mount; netns files inside it are not.
    ...mountsUnder(root)
      .filter((m) => m !== path.join(root, "run", "netns"))
      // The runner's lxcfs (environments' /proc views) serves until the daemon stops.
      .filter((m) => m !== path.join(root, "run", "lxcfs"))
      .map((m) => `mount ${m}`),
    ...loopsUnder(root).map((l) => `loop ${l}`),
    ...runtimeState(root).map((s) => `runtime ${s}`),
    ...networkLeftovers(prefix),
  ];
}

/** Last-resort cleanup after a failed test: kill, unmount, detach, rmdir, in that order. */
/** Whether any cgroup under `dir` still holds a process. */
function hasProcs(dir: string): boolean {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const procs = path.join(dir, e.name, "cgroup.procs");
    if (existsSync(procs) && readFileSync(procs, "utf8").trim() !== "") return true;
  }
  return false;
}

export function forceClean(
  root: string,
  prefix: string,
  opts: { keepFiles?: boolean; subnet?: string | undefined } = {},
): void {
  // The DNS resolver process outlives the daemon by design; a test run ends it by its pidfile.
  const dnsPid = recordedResolverPid(path.join(root, "run"));
  if (dnsPid !== undefined) process.kill(dnsPid, "SIGKILL");
  // So does the runner's lxcfs; its mount goes with the lazy unmounts below.
  const lxcfsPid = recordedLxcfsPid(path.join(root, "run"));
  if (lxcfsPid !== undefined) process.kill(lxcfsPid, "SIGKILL");
  for (const rt of ["runc", "crun"]) {
    const dir = path.join(root, "run", rt);
    if (!existsSync(dir)) continue;
    for (const c of readdirSync(dir)) spawnSync(rt, ["--root", dir, "delete", "-f", c], { stdio: "ignore" });
  }
  // gVisor sandboxes (runsc-sandbox, gofer) sit in the environment's cgroups, killed below;
  // their state goes with the run dir.
  for (const d of cgroupDirs(prefix)) {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const g = path.join(d, e.name);
      if (existsSync(`${g}/cgroup.kill`))
        spawnSync("sh", ["-c", `echo 1 > ${g}/cgroup.kill`], { stdio: "ignore" });
      else {
        for (const pid of readFileSync(`${g}/cgroup.procs`, "utf8").split("\n").filter(Boolean)) {
          try {
            process.kill(Number(pid), "SIGKILL");
          } catch {}
        }
      }
    }
  }
  // cgroup.kill and SIGKILL are asynchronous: a process still exiting holds its mounts (and so
  // its loop device), and a lazy unmount would leave the device attached behind it.
  for (let i = 0; i < 50 && cgroupDirs(prefix).some(hasProcs); i++) spawnSync("sleep", ["0.1"]);
  for (const m of mountsUnder(root).sort((a, b) => b.length - a.length)) {
    spawnSync("umount", ["-l", m], { stdio: "ignore" });
  }
  for (const l of loopsUnder(root)) spawnSync("losetup", ["-d", l.split(" ")[0]!], { stdio: "ignore" });
  for (let i = 0; i < 20; i++) {
    const dirs = cgroupDirs(prefix);
    if (dirs.length === 0) break;
    for (const d of dirs) {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) spawnSync("rmdir", [path.join(d, e.name)], { stdio: "ignore" });
      }
      spawnSync("rmdir", [d], { stdio: "ignore" });
    }
    spawnSync("sleep", ["0.1"]);
  }
  // Warren's own firewall tables and resolver link for this run (a reboot drops them too).
  spawnSync("nft", ["delete", "table", "inet", prefix], { stdio: "ignore" });
  spawnSync("nft", ["delete", "table", "arp", prefix], { stdio: "ignore" });
  spawnSync("ip", ["link", "del", `${prefix}0`], { stdio: "ignore" });
  // The runner's blackhole for the rest of its subnet outlives the daemon like the link does.
  if (opts.subnet) spawnSync("ip", ["route", "del", "blackhole", opts.subnet], { stdio: "ignore" });
  // A reboot keeps files on disk but empties /run (runtime state).
  if (opts.keepFiles) rmSync(path.join(root, "run"), { recursive: true, force: true });
  else rmSync(root, { recursive: true, force: true });
}
