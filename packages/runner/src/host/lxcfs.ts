// The runner's own lxcfs: a FUSE filesystem whose /proc/meminfo, cpuinfo, stat, ... answer each
// reader with its cgroup's limits and usage, so build tools inside an environment size themselves
// to the environment (make -j, JVM heaps, Node) instead of to the host. Environments get its
// files bound over their own (spec/mounts.ts withProcViews).
//
// One instance per runner, mounted under the runner's run dir, so several runners on one host
// never share or collide (lxcfs also locks its pidfile, which is in the run dir too); a host-wide
// lxcfs is never touched. It starts detached in its own session, like the environments: a daemon
// restart leaves it serving, and the next daemon adopts it by its pidfile. If it died, every
// running environment's bound views fail with ENOTCONN until that environment restarts (a FUSE
// connection cannot be re-pointed), so it is only ever stopped when no environment runs.
//   lxcfs/      the mount point   lxcfs.pid  its pid (lxcfs writes it)   lxcfs.log  its output
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, constants, openSync, readFileSync } from "node:fs";
import { access, mkdir, rm, rmdir, statfs } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { run } from "./run.ts";

/** statfs f_type of a FUSE filesystem. */
const FUSE_SUPER_MAGIC = 0x65735546;
const START_TIMEOUT_MS = 5000;
const PROBE_TIMEOUT_MS = 2000;

/**
 * --enable-cfs: cpuinfo, stat and cpu/online count the CPU quota, not only the cpuset.
 * --enable-loadavg: a per-cgroup load average (lxcfs samples every cgroup's tasks every 5 s).
 * --enable-pidfd: an environment's init is tracked by pidfd, immune to pid reuse (uptime).
 */
export const LXCFS_FLAGS: readonly string[] = ["--enable-cfs", "--enable-loadavg", "--enable-pidfd"];

export interface LxcfsPaths {
  mountDir: string;
  pidFile: string;
  log: string;
}

export function lxcfsPaths(runDir: string): LxcfsPaths {
  return {
    mountDir: path.join(runDir, "lxcfs"),
    pidFile: path.join(runDir, "lxcfs.pid"),
    log: path.join(runDir, "lxcfs.log"),
  };
}

export type MountState = "alive" | "dead" | "absent";

/** What is at the mount point: a serving FUSE mount, one whose server died, or nothing. */
export async function mountState(dir: string): Promise<MountState> {
  try {
    const st = await statfs(dir);
    return st.type === FUSE_SUPER_MAGIC ? "alive" : "absent";
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTCONN" || code === "ECONNABORTED") return "dead";
    if (code === "ENOENT") return "absent";
    throw e;
  }
}

/**
 * mountState, but a server that does not answer within `ms` counts as dead: a hung lxcfs would
 * otherwise hang every start (and every reader inside). Killing it releases the waiting call.
 */
export async function probeMount(dir: string, ms = PROBE_TIMEOUT_MS): Promise<MountState> {
  const timeout = sleep(ms, "dead" as const, { ref: false });
  return Promise.race([mountState(dir), timeout]);
}

/** A signal to a process that may have exited meanwhile. */
function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  try {
    if (pid !== undefined) process.kill(pid, sig);
  } catch {}
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in the pidfile when it is an lxcfs serving this mount point (not a reused pid). */
export function recordedLxcfsPid(runDir: string): number | undefined {
  const p = lxcfsPaths(runDir);
  let pid: number;
  let cmdline: string[];
  try {
    pid = Number(readFileSync(p.pidFile, "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return undefined;
  }
  return path.basename(cmdline[0] ?? "") === "lxcfs" && cmdline.includes(p.mountDir) ? pid : undefined;
}

export async function findLxcfs(): Promise<string | undefined> {
  for (const dir of (process.env["PATH"] ?? "/usr/bin:/bin").split(":")) {
    const bin = path.join(dir || ".", "lxcfs");
    if (
      await access(bin, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return bin;
  }
  return undefined;
}

export interface LxcfsOptions {
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /** The binary; default `lxcfs` on PATH. */
  binary?: string;
}

/** Starts, adopts and stops this runner's lxcfs. Nothing happens until the first ensure(). */
export class Lxcfs {
  readonly paths: LxcfsPaths;
  readonly #log: NonNullable<LxcfsOptions["log"]>;
  readonly #binary: string | undefined;
  #pid: number | undefined;
  #child: ChildProcess | undefined;
  #warned = false;
  #stopping = false;
  #pending: Promise<string | undefined> | undefined;

  constructor(runDir: string, opts: LxcfsOptions = {}) {
    this.paths = lxcfsPaths(runDir);
    this.#binary = opts.binary;
    this.#log =
      opts.log ??
      ((msg, fields = {}) =>
        process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`));
  }

  /**
   * The mount point once lxcfs serves it, else undefined (lxcfs missing or failing: environments
   * then start with the host's views, and the reason is logged once). Cheap when it already runs.
   */
  ensure(): Promise<string | undefined> {
    this.#pending ??= this.#ensure().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #ensure(): Promise<string | undefined> {
    // The mount answering is the proof (one FUSE round trip): a killed lxcfs may linger as a
    // zombie whose pid still looks alive.
    if (this.#pid !== undefined && (await probeMount(this.paths.mountDir)) === "alive") {
      return this.paths.mountDir;
    }
    return this.#startOrAdopt();
  }

  /** The pid of the lxcfs serving the views, if one does. */
  pid(): number | undefined {
    return this.#pid !== undefined && alive(this.#pid) ? this.#pid : undefined;
  }

  async #startOrAdopt(): Promise<string | undefined> {
    this.#pid = undefined;
    const { mountDir } = this.paths;
    const state = await probeMount(mountDir);
    if (state === "alive") {
      const pid = recordedLxcfsPid(path.dirname(mountDir));
      if (pid !== undefined) {
        this.#pid = pid;
        return mountDir;
      }
      // Serving, but not by the lxcfs this run dir recorded: a leftover we cannot supervise.
      await this.#detach("an unknown FUSE server serves the lxcfs mount point");
    } else if (state === "dead") {
      await this.#detach("lxcfs died or hangs; running environments' /proc views fail until they restart");
    }
    const binary = this.#binary ?? (await findLxcfs());
    if (!binary) return this.#warnOnce("lxcfs is not installed (apt-get install lxcfs)");
    try {
      return await this.#start(binary);
    } catch (e) {
      return this.#warnOnce((e as Error).message);
    }
  }

  #warnOnce(reason: string): undefined {
    if (!this.#warned) {
      this.#warned = true;
      this.#log("environments start with the host's /proc views (free, nproc, uptime show the host)", {
        reason,
      });
    }
    return undefined;
  }

  /** Lazily detaches whatever is mounted there; environments holding binds keep theirs. */
  async #detach(why: string): Promise<void> {
    this.#log("remounting the environments' /proc views", { why });
    signal(recordedLxcfsPid(path.dirname(this.paths.mountDir)), "SIGKILL");
    await run("umount", ["-l", this.paths.mountDir], { allowFail: true });
  }

  async #start(binary: string): Promise<string> {
    const { mountDir, pidFile, log } = this.paths;
    await mkdir(mountDir, { recursive: true, mode: 0o755 });
    const out = openSync(log, "w", 0o600);
    const child = spawn(binary, ["--foreground", ...LXCFS_FLAGS, "--pidfile", pidFile, mountDir], {
      detached: true,
      cwd: "/",
      stdio: ["ignore", out, out],
    });
    closeSync(out);
    child.unref();
    const exited = new Promise<string>((resolve) => {
      child.once("error", (e) => resolve(e.message));
      child.once("exit", (code, signal) => resolve(`exit ${signal ?? code}`));
    });
    this.#child = child;
    void exited.then((how) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      // One that never mounted is reported by #start's error instead.
      const wasServing = child.pid !== undefined && this.#pid === child.pid;
      if (wasServing) this.#pid = undefined;
      if (wasServing && !this.#stopping) {
        this.#log("lxcfs exited; running environments' /proc views fail until they restart", {
          how,
          log,
        });
      }
    });
    const until = Date.now() + START_TIMEOUT_MS;
    let done: string | undefined;
    void exited.then((how) => {
      done = how;
    });
    while (Date.now() < until && done === undefined) {
      if ((await mountState(mountDir)) === "alive" && child.pid !== undefined) {
        this.#pid = child.pid;
        return mountDir;
      }
      await sleep(10);
    }
    if (done === undefined) child.kill("SIGKILL");
    const tail = readTail(log);
    throw new Error(`lxcfs did not mount ${mountDir} (${done ?? "timed out"})${tail ? `: ${tail}` : ""}`);
  }

  /**
   * Ends lxcfs and removes its mount point. Only when no environment runs: a running one's views
   * would break for the rest of its life.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    try {
      await this.#pending?.catch(() => undefined);
      const pid = this.#pid ?? recordedLxcfsPid(path.dirname(this.paths.mountDir));
      this.#pid = undefined;
      // lxcfs unmounts and exits on SIGTERM; the lazy unmount covers one that was killed.
      signal(pid, "SIGTERM");
      for (let i = 0; pid !== undefined && i < 150 && alive(pid); i++) await sleep(20);
      if (pid !== undefined && alive(pid)) signal(pid, "SIGKILL");
      if ((await probeMount(this.paths.mountDir)) !== "absent") {
        await run("umount", ["-l", this.paths.mountDir], { allowFail: true });
      }
      await rmdir(this.paths.mountDir).catch(() => undefined);
      await rm(this.paths.pidFile, { force: true });
    } finally {
      this.#stopping = false;
    }
  }
}

function readTail(file: string): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-2).join("; ");
  } catch {
    return "";
  }
}
