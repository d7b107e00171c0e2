// gVisor (Debian 13's runsc, pinned in .toolchain/runsc by scripts/install-runsc.sh; Debian
// 12's rejects glibc's statx): the application's syscalls are served by the Sentry, a user-space
// kernel, instead of the host kernel. Every runsc call goes through native/bin/warren-runsc,
// which enters the environment's cgroups (create only), network namespace and user namespace
// and then runs runsc as root of that namespace, i.e. as the environment's unprivileged host
// uid. On these hosts runsc runs with:
//   --platform=ptrace   KVM cannot run guests here
//   --network=host      the Sentry's own netstack is broken here; host networking uses the
//                       sandbox's network namespace (the environment's), not the host's
//   --overlay2=none     the writable rootfs stays the environment's overlay on its disk,
//                       not a memory-backed overlay inside the Sentry
//   --ignore-cgroups    the driver writes the limits as host root (gvisor-cgroups.ts)
//   --oci-seccomp       the Sentry applies the spec's seccomp profile to init (and its
//                       children); processes from `runsc exec` do not get it in this version
//   --net-raw           keeps CAP_NET_RAW in the documented set (runsc drops it by default);
//                       raw sockets reach only the environment's own network namespace
// Per container the driver keeps <stateRoot>/<id>/ (owned by the environment's uid: runsc's
// state and its copy of the bundle) and <stateRoot>/<id>.json (root-only: how to enter it,
// which the sandbox must never be able to rewrite).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chown, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import path from "node:path";
import { wrap } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";
import { run } from "../host/run.ts";
import type { OciSpec } from "../spec/types.ts";
import { deliverByExec } from "./deliver-exec.ts";
import { GvisorCgroups } from "./gvisor-cgroups.ts";
import { planGvisor } from "./gvisor-spec.ts";
import { OciCliRuntime } from "./oci-cli.ts";
import type { ContainerState, CreateOptions, DeliveredFile, Runtime } from "./types.ts";

export const RUNSC_WRAPPER = "warren-runsc";
/** Where scripts/install-runsc.sh unpacks Debian 13's runsc (pinned; see that script). */
export const TOOLCHAIN_RUNSC = path.resolve(
  import.meta.dirname,
  "../../../../.toolchain/runsc/usr/bin/runsc",
);

/**
 * The toolchain's runsc when setup installed it. Otherwise runsc from PATH, so a host that
 * provides its own (a newer distribution's package, a gVisor release) still works; Debian 12's
 * package there runs environments but rejects glibc's statx (`ls -l`, `stat` fail inside).
 */
export function defaultRunsc(): string {
  return existsSync(TOOLCHAIN_RUNSC) ? TOOLCHAIN_RUNSC : "runsc";
}
const OPEN_FILE_ARG = "/dev/warren-open-file";
// runsc's --root is relative to the state dir warren-runsc changes into.
const ROOT = ["--root", "."];
const FLAGS = [
  "--platform=ptrace",
  "--network=host",
  "--overlay2=none",
  "--ignore-cgroups",
  "--oci-seccomp",
  "--net-raw",
];

interface Meta {
  idmap: string;
  netns?: string;
  cgroupsPath?: string;
}

/** Capabilities of the shared conformance suite that gVisor does not have, with the reason. */
export const GVISOR_UNSUPPORTED: Record<string, string> = {
  "host-process-capabilities":
    "the container's host process is the Sentry (runsc-sandbox), which holds the 14 plus CAP_SYS_PTRACE (the ptrace platform traces the application), only inside the environment's user namespace; the application's own sets are checked inside",
  "deny-nested-userns":
    "unshare -U succeeds inside: the new user namespace is a Sentry object that grants nothing on the host (mounts inside still fail, which is checked)",
};

export class GvisorRuntime implements Runtime {
  readonly name = "gvisor";
  readonly stateRoot: string;
  readonly binary: string;
  readonly runsc: string;
  readonly unsupported = GVISOR_UNSUPPORTED;
  readonly #cgroups: GvisorCgroups;
  // The cli-shared parts (create's log handling, state parsing) come from the runc driver.
  readonly #cli: OciCliRuntime;

  constructor(
    cfg: Pick<RunnerConfig, "runDir" | "nativeDir">,
    runsc = defaultRunsc(),
    cgroups = new GvisorCgroups(),
  ) {
    this.stateRoot = path.join(cfg.runDir, "runsc");
    this.binary = path.join(cfg.nativeDir, RUNSC_WRAPPER);
    this.runsc = runsc;
    this.#cgroups = cgroups;
    this.#cli = new OciCliRuntime({ name: this.name, binary: this.binary, stateRoot: this.stateRoot });
  }

  private dir(id: string): string {
    return path.join(this.stateRoot, id);
  }
  private metaFile(id: string): string {
    return path.join(this.stateRoot, `${id}.json`);
  }
  private async meta(id: string): Promise<Meta | null> {
    const text = await readFile(this.metaFile(id), "utf8").catch(() => null);
    return text ? (JSON.parse(text) as Meta) : null;
  }

  /** warren-runsc's options: how to enter this container's namespaces, then "--". */
  private wrap(id: string, meta: Meta | null, extra: string[] = [], root = ROOT): string[] {
    return [
      "--runsc",
      this.runsc,
      "--state-dir",
      this.dir(id),
      // Without the entry info, an invalid map makes warren-runsc refuse to run runsc at all.
      "--idmap",
      meta?.idmap ?? "unknown",
      ...(meta?.netns ? ["--netns", meta.netns] : []),
      ...extra,
      "--",
      ...root,
      ...FLAGS,
    ];
  }

  async available(): Promise<boolean> {
    const ok = await stat(this.binary).then(
      () => true,
      () => false,
    );
    if (!ok) return false;
    const res = await run(this.runsc, ["--version"], { allowFail: true, timeoutMs: 10_000 }).catch(
      () => null,
    );
    return res?.code === 0;
  }

  async create(id: string, bundleDir: string, opts: CreateOptions): Promise<void> {
    try {
      const spec = JSON.parse(await readFile(path.join(bundleDir, "config.json"), "utf8")) as OciSpec;
      const plan = planGvisor(spec);
      const { hostStart, size } = plan.idmap;
      await mkdir(this.stateRoot, { recursive: true, mode: 0o711 });
      const dir = this.dir(id);
      await mkdir(path.join(dir, "bundle"), { recursive: true, mode: 0o700 });
      // runsc reads the bundle and writes its state as the environment's root.
      await writeFile(path.join(dir, "bundle", "config.json"), JSON.stringify(plan.spec), { mode: 0o600 });
      for (const p of [dir, path.join(dir, "bundle"), path.join(dir, "bundle", "config.json")])
        await chown(p, hostStart, hostStart);
      const meta: Meta = {
        idmap: `${hostStart}:${size}`,
        ...(plan.netns ? { netns: plan.netns } : {}),
        ...(plan.cgroupsPath ? { cgroupsPath: plan.cgroupsPath } : {}),
      };
      await writeFile(this.metaFile(id), JSON.stringify(meta), { mode: 0o600 });
      const groups = plan.cgroupsPath ? await this.#cgroups.prepare(plan.cgroupsPath, plan.limits) : [];
      const creator = new OciCliRuntime({
        name: this.name,
        binary: this.binary,
        // OciCliRuntime appends "--root <stateRoot>" itself.
        prefixArgs: this.wrap(id, meta, groups.length ? ["--cgroups", groups.join(":")] : [], []),
        stateRoot: ".",
      });
      // The pid file is written below by the driver: runsc's uid cannot write the caller's dir.
      await creator.create(id, "bundle", { logFile: opts.logFile });
      const st = await this.state(id);
      if (!st?.pid) throw new Error("runsc create left no sandbox pid");
      await this.loopbackUp(st.pid);
      if (opts.pidFile) await writeFile(opts.pidFile, String(st.pid));
    } catch (err) {
      throw wrap(`gvisor create ${id}`, err);
    }
  }

  /**
   * runsc --network=host does not configure interfaces, and a fresh namespace has loopback
   * down. Host root brings it up (idempotent; a prepared namespace usually has it up already).
   */
  private async loopbackUp(pid: number): Promise<void> {
    await run("nsenter", [`--net=/proc/${pid}/ns/net`, "ip", "link", "set", "lo", "up"]);
  }

  private async call(id: string, args: string[]) {
    const meta = await this.meta(id);
    if (!meta) return null;
    return run(this.binary, [...this.wrap(id, meta), ...args], { allowFail: true });
  }

  async start(id: string): Promise<void> {
    const res = await this.call(id, ["start", id]);
    if (!res) throw new Error(`gvisor start ${id}: no such container`);
    if (res.code !== 0) throw new Error(`gvisor start ${id}: exit ${res.code}: ${res.stderr.trim()}`);
  }

  private async known(id: string): Promise<boolean> {
    return stat(this.dir(id)).then(
      (s) => s.isDirectory(),
      () => false,
    );
  }

  async state(id: string): Promise<ContainerState | null> {
    if (!(await this.known(id))) return null;
    const res = await this.call(id, ["state", id]);
    if (!res) return null;
    if (res.code !== 0) {
      if (/does not exist|no such file|not found/i.test(res.stderr)) return null;
      throw new Error(`gvisor state ${id}: exit ${res.code}: ${res.stderr.trim()}`);
    }
    const raw = JSON.parse(res.stdout) as { id: string; pid?: number; status: string };
    const status = (["creating", "created", "running", "paused"] as const).find((s) => s === raw.status);
    if (!status) return { id: raw.id, status: "stopped", pid: 0, bundle: path.join(this.dir(id), "bundle") };
    return { id: raw.id, status, pid: raw.pid ?? 0, bundle: path.join(this.dir(id), "bundle") };
  }

  async kill(id: string, signal: NodeJS.Signals, all = false): Promise<void> {
    const num = osConstants.signals[signal];
    if (num === undefined) throw new Error(`unknown signal ${signal}`);
    const res = await this.call(id, ["kill", ...(all ? ["--all"] : []), id, String(num)]);
    if (!res || res.code === 0) return;
    const st = await this.state(id).catch(() => undefined);
    if (st === null || st?.status === "stopped") return;
    throw new Error(`gvisor kill ${id} ${signal}: exit ${res.code}: ${res.stderr.trim()}`);
  }

  async delete(id: string, force: boolean): Promise<void> {
    const meta = await this.meta(id);
    if (!meta && !(await this.known(id))) return;
    if (meta && (await this.known(id))) {
      const res = await this.call(id, ["delete", ...(force ? ["--force"] : []), id]);
      if (res && res.code !== 0 && !/does not exist|not found/i.test(res.stderr)) {
        throw new Error(`gvisor delete ${id}: exit ${res.code}: ${res.stderr.trim()}`);
      }
    }
    if (meta?.cgroupsPath) await this.#cgroups.remove(meta.cgroupsPath);
    await rm(this.dir(id), { recursive: true, force: true });
    await rm(this.metaFile(id), { force: true });
  }

  async list(): Promise<string[]> {
    return this.#cli.list();
  }

  execArgs(
    id: string,
    processFile: string,
    _tty: boolean,
  ): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
    // Synchronous by interface, so the entry info is read with the sync API here.
    const meta = readMetaSync(this.metaFile(id));
    return {
      cmd: this.binary,
      // No --tty: runsc takes `terminal` from process.json and uses its stdin as the terminal.
      args: [...this.wrap(id, meta, ["--open", processFile]), "exec", "--process", OPEN_FILE_ARG, id],
      env: process.env,
    };
  }

  spawnExec(id: string, processFile: string): ChildProcess {
    const { cmd, args, env } = this.execArgs(id, processFile, false);
    return spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env });
  }

  /** The tmpfs is in the Sentry's memory: written by a `runsc exec` inside (deliver-exec.ts). */
  async deliverFiles(id: string, dir: string, files: readonly DeliveredFile[]): Promise<void> {
    await deliverByExec(this, id, this.stateRoot, dir, files).catch((err) => {
      throw wrap(`gvisor deliver files ${id}`, err);
    });
  }
}

function readMetaSync(file: string): Meta | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Meta;
  } catch {
    return null;
  }
}

export function gvisorRuntime(cfg: Pick<RunnerConfig, "runDir" | "nativeDir">): GvisorRuntime {
  return new GvisorRuntime(cfg);
}
