// One interface over OCI runtimes (runc, crun, gVisor). Every driver passes the shared
// conformance suite in test/runtime-conformance.host.test.ts.
//
// THE RULE FOR EVERY DRIVER (and everything else in the runner): a binary from the image runs
// only as a process of its environment, i.e. through this runtime's exec or as a child of the
// environment's init, inside all its namespaces, its cgroup, its seccomp profile and its
// capability bounds. Host-side code that touches an environment's files uses host code and
// host binaries only (warren-* helpers, ip, mount...): never `nsenter ... /bin/sh`, never a
// path under the rootfs or /proc/PID/root exec'd from the host, never chroot + exec. An
// image's sh run that way sits in the host's network, pid and cgroup namespaces, reaches the
// host's loopback and outlives `stop`. Work that must happen "inside" (creating inodes in the
// environment's user-namespaced tmpfs) goes through a method here, so each driver does it the
// way its isolation allows (deliverFiles), and test/hostile-image-corpus.ts runs every
// lifecycle step against an image whose every common binary is a beacon.
import type { ChildProcess } from "node:child_process";

export type ContainerStatus = "creating" | "created" | "running" | "paused" | "stopped";

export interface ContainerState {
  id: string;
  status: ContainerStatus;
  /** Host pid of the container's init; 0 when stopped. */
  pid: number;
  bundle: string;
}

export interface CreateOptions {
  /** File receiving init's stdout and stderr (appended). */
  logFile: string;
  pidFile?: string;
}

export interface ExecProcess {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  tty: boolean;
  capabilities: string[];
  /** Hard/soft limits applied to the exec'd process, same as init's. */
  rlimits: { type: string; hard: number; soft: number }[];
  /** Its OOM score (spec/process.ts); Warren's helper score 0 when omitted. */
  oomScoreAdj?: number;
}

/** A file for Runtime.deliverFiles: a bare name inside the target directory, and its bytes. */
export interface DeliveredFile {
  name: string;
  data: string | Uint8Array;
  /**
   * An absolute path outside the directory where a symlink to the file goes. Missing parent
   * directories are made (root's, 0755); a symlink on the way, or anything already at the path
   * but this same symlink, is refused: never replace what the image holds there.
   */
  link?: string;
}

export interface Runtime {
  readonly name: string;
  /** Root directory for the runtime's own state (runc --root). */
  readonly stateRoot: string;
  /**
   * Checks of the shared conformance suite this driver cannot pass, by capability name, with
   * the reason (e.g. gVisor: "init-uid"). The suite skips exactly these and prints the reason.
   */
  readonly unsupported?: Readonly<Record<string, string>>;
  /** True when the binary exists and works on this host. */
  available(): Promise<boolean>;
  create(id: string, bundleDir: string, opts: CreateOptions): Promise<void>;
  start(id: string): Promise<void>;
  /** null when the runtime has no record of the container. */
  state(id: string): Promise<ContainerState | null>;
  kill(id: string, signal: NodeJS.Signals, all?: boolean): Promise<void>;
  /** Removes the runtime's record (force kills a running container). Idempotent. */
  delete(id: string, force: boolean): Promise<void>;
  /** Ids of all containers this runtime knows under its state root. */
  list(): Promise<string[]>;
  /**
   * Spawns `<runtime> exec` for one process. With tty, the caller supplies the spawn function
   * (node-pty) so the runtime's own terminal handling sits on a real pty.
   */
  execArgs(
    id: string,
    processFile: string,
    tty: boolean,
  ): { cmd: string; args: string[]; env?: NodeJS.ProcessEnv };
  spawnExec(id: string, processFile: string): ChildProcess;
  /**
   * Optional: `<runtime> exec` with a terminal that sends the terminal's master to the AF_UNIX
   * socket `consoleSocket` (OCI --console-socket) for native/bin/warren-console to relay. For a
   * runtime whose own terminal handling loses resizes (crun); the rest run execArgs on node-pty.
   */
  consoleExecArgs?(
    id: string,
    processFile: string,
    consoleSocket: string,
  ): { cmd: string; args: string[]; env?: NodeJS.ProcessEnv };
  /**
   * Writes `files` into `dir`, a tmpfs the container's spec mounts (the secrets at
   * /run/secrets), of running container `id`: each a new 0400 file owned by the environment's
   * root, replacing an earlier one, never written through a symlink, and never reached through
   * a symlink on the way to `dir`; with `link`, also a symlink to it at that path. Values never
   * go over a command line. Runs no binary of the image outside the environment (see the rule
   * above); runc/crun use the warren-deliver helper, gVisor a `runsc exec` inside the sandbox.
   */
  deliverFiles(id: string, dir: string, files: readonly DeliveredFile[]): Promise<void>;
}
