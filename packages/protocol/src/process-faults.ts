// What a long-running Warren process (server, daemon, runner) does with a fault nothing handled:
// log it and exit non-zero, to be restarted by its supervisor. Carrying on after an unknown fault
// is unsafe (state may be half-changed), so there is no "log and continue". Faults that belong to
// one peer are handled where they happen instead: a throw in a runner-wire frame handler closes
// only that connection (runner-validate.ts), and never reaches these handlers.
import { writeSync } from "node:fs";

/** EX_SOFTWARE: the exit status of a Warren bug, as the CLI uses it. */
export const FAULT_EXIT_CODE = 70;

export interface FaultHandlerOptions {
  /** Names the process in the log line. */
  component: string;
  /** Injected by tests; default process.exit. */
  exit?: (code: number) => void;
  /** Injected by tests; default a JSON line on stderr, written synchronously so it survives the exit. */
  log?: (line: string) => void;
}

/** Installs the process-wide handlers; returns a function that removes them. */
export function exitOnUnhandledFaults(o: FaultHandlerOptions): () => void {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  const log = o.log ?? ((line: string) => writeSync(2, `${line}\n`));
  const fatal = (kind: string) => (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    try {
      log(
        JSON.stringify({
          time: new Date().toISOString(),
          level: "fatal",
          component: o.component,
          msg: `${kind}; exiting with status ${FAULT_EXIT_CODE} to be restarted`,
          err: { message: e.message, stack: e.stack },
        }),
      );
    } finally {
      exit(FAULT_EXIT_CODE);
    }
  };
  const onException = fatal("uncaught exception");
  const onRejection = fatal("unhandled promise rejection");
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}
