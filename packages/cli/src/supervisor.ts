// The auto-started daemon's supervisor, for hosts where no init system (systemd) restarts it:
// runs the daemon, restarts it after a crash without waiting for a CLI call, and stops on a
// clean exit or when asked (SIGTERM/SIGINT, passed on to the daemon). connect.ts starts it under
// flock(1) on a lock file in the state dir, so at most one supervisor runs per state dir.
//
//   node supervisor.ts --pid-file FILE -- DAEMON-COMMAND...
//
// Kept free of Warren imports so it starts in tens of milliseconds and has nothing to crash on.
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";

/** A daemon that refuses to start (status 1: a user error, e.g. no runtime) fails the same way again. */
export const REFUSED_STATUS = 1;
/** A run shorter than this that ends in REFUSED_STATUS is a start-up refusal, not a crash. */
export const STARTUP_MS = 10_000;
/** Backoff between restarts: doubles from FIRST_DELAY_MS up to MAX_DELAY_MS, reset by a run of STARTUP_MS. */
export const FIRST_DELAY_MS = 250;
export const MAX_DELAY_MS = 10_000;
/** A daemon that died this many times in a row, each within STARTUP_MS, is not coming up. */
export const MAX_QUICK_FAILURES = 5;

export type ExitDecision = { restart: true; delayMs: number } | { restart: false; status: number };

/** What to do after the daemon ended. Pure, so every case is a table row in the tests. */
export function afterExit(o: {
  code: number | null;
  signal: string | null;
  ranMs: number;
  stopping: boolean;
  /** Failed runs in a row before this one (a run of STARTUP_MS or longer resets it). */
  failures: number;
}): ExitDecision {
  if (o.stopping) return { restart: false, status: 0 };
  if (o.signal === null && o.code === 0) return { restart: false, status: 0 };
  if (o.signal === null && o.code === REFUSED_STATUS && o.ranMs < STARTUP_MS) {
    return { restart: false, status: REFUSED_STATUS };
  }
  const status = o.code ?? 128;
  if (o.ranMs < STARTUP_MS && o.failures + 1 >= MAX_QUICK_FAILURES) return { restart: false, status };
  const n = o.ranMs >= STARTUP_MS ? 0 : o.failures;
  return { restart: true, delayMs: Math.min(FIRST_DELAY_MS * 2 ** n, MAX_DELAY_MS) };
}

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} warren supervisor (pid ${process.pid}): ${msg}\n`);
}

export async function supervise(cmd: string[], pidFile: string | undefined): Promise<number> {
  const [bin, ...args] = cmd;
  if (!bin) throw new Error("supervisor: no daemon command after --");
  if (pidFile) writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
  let stopping = false;
  let child: ReturnType<typeof spawn> | undefined;
  const stop = (sig: NodeJS.Signals) => {
    stopping = true;
    log(`${sig}: stopping the daemon`);
    child?.kill("SIGTERM");
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {}); // detached from any terminal; a hang-up is no reason to stop
  let failures = 0;
  try {
    for (;;) {
      const started = Date.now();
      const c = spawn(bin, args, { stdio: ["ignore", "inherit", "inherit"] });
      child = c;
      log(`started the daemon (pid ${c.pid})`);
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
        c.once("error", (err) => {
          log(`cannot run ${bin}: ${err.message}`);
          resolve([127, null]);
        });
        c.once("exit", (code, sig) => resolve([code, sig]));
      });
      const ranMs = Date.now() - started;
      const d = afterExit({ code, signal, ranMs, stopping, failures });
      const how = signal ? `signal ${signal}` : `status ${code}`;
      if (!d.restart) {
        log(`the daemon exited (${how}); not restarting`);
        return d.status;
      }
      failures = ranMs >= STARTUP_MS ? 1 : failures + 1;
      log(`the daemon exited (${how}) after ${ranMs} ms; restarting in ${d.delayMs} ms`);
      await new Promise((r) => setTimeout(r, d.delayMs));
      if (stopping) return 0;
    }
  } finally {
    if (pidFile) rmSync(pidFile, { force: true });
  }
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const sep = argv.indexOf("--");
  const opts = sep < 0 ? argv : argv.slice(0, sep);
  const cmd = sep < 0 ? [] : argv.slice(sep + 1);
  const i = opts.indexOf("--pid-file");
  const pidFile = i >= 0 ? opts[i + 1] : undefined;
  supervise(cmd, pidFile).then(
    (status) => process.exit(status),
    (err: Error) => {
      log(err.stack ?? err.message);
      process.exit(70);
    },
  );
}
