// Turns a command's outcome into an exit status (DESIGN.md, typed error catalog):
//   plain commands: WarrenError (user error) -> `warren: <message>`, 1; anything else (a bug) -> stack, 70.
//   exec-like commands once attached: the command's own status; Warren's failure -> 125, as Docker does.
import { WarrenError } from "@warren/protocol";

export const EXIT_USER = 1;
export const EXIT_BUG = 70;
export const EXIT_EXEC_FAILURE = 125;

export interface RunContext {
  /** Set to "exec" by exec/shell/up once arguments are valid: failures from then on exit 125. */
  mode: "plain" | "exec";
}

export function reportError(
  err: unknown,
  mode: RunContext["mode"],
  stderr: { write(s: string): unknown },
): number {
  if (err instanceof WarrenError && err.isUserError) {
    stderr.write(`warren: ${err.message}\n`);
    return mode === "exec" ? EXIT_EXEC_FAILURE : EXIT_USER;
  }
  if (err instanceof WarrenError) {
    // INTERNAL from the daemon: its stack is on the daemon side, so the message is all we have.
    stderr.write(`warren: internal error (a bug in Warren): ${err.message}\n`);
  } else {
    const e = err instanceof Error ? err : new Error(String(err));
    stderr.write(`warren: internal error (a bug in Warren; please report it):\n${e.stack ?? e.message}\n`);
  }
  return mode === "exec" ? EXIT_EXEC_FAILURE : EXIT_BUG;
}

/** Runs one command and exits the process with its status. */
export async function run(fn: (ctx: RunContext) => Promise<number | undefined>): Promise<never> {
  const ctx: RunContext = { mode: "plain" };
  let code: number;
  try {
    code = (await fn(ctx)) ?? 0;
  } catch (err) {
    code = reportError(err, ctx.mode, process.stderr);
  }
  return exit(code);
}

/**
 * Exits once stdout has flushed. An explicit exit is needed: an exec leaves stdin and the
 * WebSocket open, and the daemon connection may linger in keep-alive.
 */
export function exit(code: number): Promise<never> {
  process.exitCode = code;
  process.stdout.write("", () => process.exit(code));
  // Never settles: nothing after this should run while the flush completes.
  return new Promise<never>(() => {});
}
