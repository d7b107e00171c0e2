// What the engine hands the exec code: the runtime, the OCI process and the terminal.
import type { Runtime } from "../runtime/types.ts";

/** In the runner's native directory (native/warren-console.c). */
export const CONSOLE_HELPER = "warren-console";

export interface ExecPlan {
  runtime: Runtime;
  containerId: string;
  /** OCI process object for `exec --process`. */
  process: Record<string, unknown>;
  tmpDir: string;
  tty: boolean;
  cols: number;
  rows: number;
  /** native/bin/warren-console, for runtimes with Runtime.consoleExecArgs. */
  consoleHelper: string;
}

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGPIPE: 13,
  SIGTERM: 15,
};

export function exitStatus(code: number | null, signal: string | number | null): number {
  if (code !== null && code !== undefined) return code;
  if (typeof signal === "number" && signal > 0) return 128 + signal;
  if (typeof signal === "string") return 128 + (SIGNAL_NUMBERS[signal] ?? 0);
  return 0;
}
