// The part runc and crun share: both speak the same command line (create/start/state/kill/
// delete/exec with --root). A driver only says which binary to run and with which prefix.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, constants as fsConstants, openSync } from "node:fs";
import { access, mkdir, open, readdir, readFile, stat } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import path from "node:path";
import { wrap } from "@warren/protocol";
import { run } from "../host/run.ts";
import { deliverWithHelper } from "./deliver-files.ts";
import { RunningStates } from "./running-state.ts";
import type { ContainerState, ContainerStatus, CreateOptions, DeliveredFile, Runtime } from "./types.ts";

export interface OciCliOptions {
  name: string;
  /** Executable to run; may be a wrapper that execs the real runtime. */
  binary: string;
  /** Arguments placed before the global options (none for plain runtimes). */
  prefixArgs?: string[];
  stateRoot: string;
  /** Extra environment for the runtime process of one container (e.g. a cgroup to join first). */
  envFor?: (id: string) => Record<string, string> | undefined;
  /** Runs after the runtime deleted container `id` (e.g. removing a group the runtime cannot see). */
  afterDelete?: (id: string) => Promise<void>;
  /** native/bin/warren-deliver, for deliverFiles (drivers that only reuse the CLI parts omit it). */
  deliverHelper?: string;
  /** Exec with a terminal through a console socket (Runtime.consoleExecArgs): crun. */
  consoleSocket?: boolean;
  /** A container runs exactly while its init lives (runc, crun): state() may skip the runtime (running-state.ts). */
  runningWhileInitLives?: boolean;
}

const STATUSES: readonly ContainerStatus[] = ["creating", "created", "running", "paused", "stopped"];
const CREATE_TIMEOUT_MS = 60_000;

function signalNumber(signal: NodeJS.Signals): string {
  const n = osConstants.signals[signal];
  if (n === undefined) throw new Error(`unknown signal ${signal}`);
  return String(n);
}

/** The last bytes the runtime wrote to the log since `offset`, for error messages. */
async function logTail(file: string, offset: number): Promise<string> {
  const fh = await open(file, "r").catch(() => null);
  if (!fh) return "";
  try {
    const size = (await fh.stat()).size;
    const start = Math.max(offset, size - 2048);
    const buf = Buffer.alloc(Math.max(0, size - start));
    await fh.read(buf, 0, buf.length, start);
    return buf.toString().trim().split("\n").slice(-3).join("; ");
  } finally {
    await fh.close();
  }
}

export class OciCliRuntime implements Runtime {
  readonly name: string;
  readonly stateRoot: string;
  readonly binary: string;
  readonly prefixArgs: readonly string[];
  readonly #envFor: OciCliOptions["envFor"];
  readonly #afterDelete: OciCliOptions["afterDelete"];
  readonly #deliverHelper: string | undefined;
  readonly #running: RunningStates | undefined;
  /** Init of containers created (with a pid file) but not started yet. */
  readonly #created = new Map<string, ContainerState>();

  constructor(opts: OciCliOptions) {
    this.#running = opts.runningWhileInitLives ? new RunningStates() : undefined;
    this.#deliverHelper = opts.deliverHelper;
    this.#envFor = opts.envFor;
    this.#afterDelete = opts.afterDelete;
    this.name = opts.name;
    this.binary = opts.binary;
    this.prefixArgs = opts.prefixArgs ?? [];
    this.stateRoot = opts.stateRoot;
    if (opts.consoleSocket) {
      this.consoleExecArgs = (id, processFile, socket) => ({
        cmd: this.binary,
        args: this.argv("exec", "--process", processFile, "--tty", "--console-socket", socket, id),
        env: this.envOf(id),
      });
    }
  }

  readonly consoleExecArgs?: Runtime["consoleExecArgs"];

  /** The environment to run the runtime with for container `id`. */
  envOf(id: string): NodeJS.ProcessEnv {
    const extra = this.#envFor?.(id);
    return extra ? { ...process.env, ...extra } : process.env;
  }

  protected argv(...args: string[]): string[] {
    return [...this.prefixArgs, "--root", this.stateRoot, ...args];
  }

  async available(): Promise<boolean> {
    if (this.binary.includes("/")) {
      const ok = await access(this.binary, fsConstants.X_OK).then(
        () => true,
        () => false,
      );
      if (!ok) return false;
    }
    const res = await run(this.binary, [...this.prefixArgs, "--version"], {
      allowFail: true,
      timeoutMs: 10_000,
    }).catch(() => null);
    return res?.code === 0;
  }

  async create(id: string, bundleDir: string, opts: CreateOptions): Promise<void> {
    await mkdir(this.stateRoot, { recursive: true, mode: 0o700 });
    await mkdir(path.dirname(opts.logFile), { recursive: true });
    const args = this.argv(
      "create",
      "--bundle",
      bundleDir,
      ...(opts.pidFile ? ["--pid-file", opts.pidFile] : []),
      id,
    );
    // The container's init inherits these descriptors, so they must be a file, not pipes to
    // us: the container outlives the daemon, and a pipe would also keep `create` from ending.
    const logFd = openSync(opts.logFile, "a");
    const logStart = (await stat(opts.logFile)).size;
    let code: number;
    try {
      code = await new Promise<number>((resolve, reject) => {
        // detached: a new session, so signals aimed at the daemon's group never reach the container.
        const child = spawn(this.binary, args, {
          stdio: ["ignore", logFd, logFd],
          detached: true,
          env: this.envOf(id),
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), CREATE_TIMEOUT_MS);
        child.on("error", (e) => {
          clearTimeout(timer);
          reject(e);
        });
        child.on("exit", (c, sig) => {
          clearTimeout(timer);
          resolve(c ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0));
        });
      });
    } catch (err) {
      throw wrap(`${this.name} create ${id}`, err);
    } finally {
      closeSync(logFd);
    }
    if (code !== 0) {
      const tail = await logTail(opts.logFile, logStart);
      throw new Error(`${this.name} create ${id}: exit ${code}${tail ? `: ${tail}` : ""}`);
    }
    const pid = opts.pidFile ? Number((await readFile(opts.pidFile, "utf8").catch(() => "")).trim()) : 0;
    if (pid > 0) this.#created.set(id, { id, status: "running", pid, bundle: bundleDir });
  }

  async start(id: string): Promise<void> {
    await run(this.binary, this.argv("start", id)).catch((err) => {
      throw wrap(`${this.name} start ${id}`, err);
    });
    // Started: the init from create now runs (RunningStates re-checks it is alive on every
    // answer), so the next state() question needs no runtime process.
    const created = this.#created.get(id);
    this.#created.delete(id);
    if (created) await this.#running?.remember(created);
  }

  private async known(id: string): Promise<boolean> {
    return stat(path.join(this.stateRoot, id)).then(
      (s) => s.isDirectory(),
      () => false,
    );
  }

  async state(id: string): Promise<ContainerState | null> {
    // Checking the state directory first avoids a process spawn for unknown ids.
    if (!(await this.known(id))) return null;
    const running = await this.#running?.running(id);
    if (running) return running;
    const res = await run(this.binary, this.argv("state", id), { allowFail: true });
    if (res.code !== 0) {
      if (!(await this.known(id))) return null; // deleted meanwhile
      if (/does not exist|no such file/i.test(res.stderr)) return null;
      throw new Error(`${this.name} state ${id}: exit ${res.code}: ${res.stderr.trim()}`);
    }
    const raw = JSON.parse(res.stdout) as { id: string; pid?: number; status: string; bundle: string };
    const status = STATUSES.includes(raw.status as ContainerStatus)
      ? (raw.status as ContainerStatus)
      : "stopped";
    const st = { id: raw.id, status, pid: status === "stopped" ? 0 : (raw.pid ?? 0), bundle: raw.bundle };
    await this.#running?.remember(st);
    return st;
  }

  /** A no-op for containers that are unknown or already stopped: there is nothing to signal. */
  async kill(id: string, signal: NodeJS.Signals, all = false): Promise<void> {
    const args = this.argv("kill", ...(all ? ["--all"] : []), id, signalNumber(signal));
    const res = await run(this.binary, args, { allowFail: true });
    if (res.code === 0) return;
    const st = await this.state(id).catch(() => undefined);
    if (st === null || st?.status === "stopped") return;
    throw new Error(`${this.name} kill ${id} ${signal}: exit ${res.code}: ${res.stderr.trim()}`);
  }

  async delete(id: string, force: boolean): Promise<void> {
    this.#running?.forget(id);
    this.#created.delete(id);
    if (!(await this.known(id))) return;
    const res = await run(this.binary, this.argv("delete", ...(force ? ["--force"] : []), id), {
      allowFail: true,
    });
    if (res.code === 0 || !(await this.known(id))) {
      await this.#afterDelete?.(id);
      return;
    }
    throw new Error(`${this.name} delete ${id}: exit ${res.code}: ${res.stderr.trim()}`);
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.stateRoot, { withFileTypes: true }).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return [];
        throw wrap(`${this.name} list`, err);
      },
    );
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  }

  execArgs(
    id: string,
    processFile: string,
    tty: boolean,
  ): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
    return {
      cmd: this.binary,
      args: this.argv("exec", "--process", processFile, ...(tty ? ["--tty"] : []), id),
      env: this.envOf(id),
    };
  }

  spawnExec(id: string, processFile: string): ChildProcess {
    const { cmd, args, env } = this.execArgs(id, processFile, false);
    return spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env });
  }

  /** The container's init is a host process: warren-deliver joins it (deliver-files.ts). */
  async deliverFiles(id: string, dir: string, files: readonly DeliveredFile[]): Promise<void> {
    if (!this.#deliverHelper) throw new Error(`${this.name} deliver files: no delivery helper configured`);
    const st = await this.state(id);
    if (st?.status !== "running" || !st.pid) {
      throw new Error(
        `${this.name} deliver files ${id}: the container is ${st?.status ?? "unknown"}, not running`,
      );
    }
    await deliverWithHelper(this.#deliverHelper, st.pid, dir, files).catch((err) => {
      throw wrap(`${this.name} deliver files ${id}`, err);
    });
  }
}
