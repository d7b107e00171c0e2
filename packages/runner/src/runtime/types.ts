// One interface over OCI runtimes (runc, crun, gVisor). Every driver passes the shared
// conformance suite in test/runtime-conformance.host.test.ts.
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
}
