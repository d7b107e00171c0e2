// `warren runner`'s connection loop: dial the control plane, serve it until the link drops, dial
// again. Environments keep running meanwhile and are re-adopted by the control plane's resync.
// - An ordinary drop backs off exponentially (1 s to 30 s by default) and resets once connected.
// - A rejected token (401 at connect, or 4401 when a live link is ended because the token was
//   revoked or expired) cannot heal by retrying: it says once per attempt, in one line, what to do,
//   and waits a long interval (60 s) instead of hammering the control plane with a dead token.
// - The token is read again before every attempt, so replacing the token file fixes a revoked or
//   expired token without restarting the runner.
import type { RunnerApi } from "./runner.ts";
import { connectRunner, type RunnerConnection, type RunnerLinkEnd, tokenRejected } from "./runner-connect.ts";

export interface RunnerLoopDelays {
  /** First retry after an ordinary drop. */
  baseMs: number;
  /** Cap of the exponential backoff. */
  maxMs: number;
  /** Retry interval while the token is rejected. */
  rejectedMs: number;
}

export const RUNNER_LOOP_DELAYS: RunnerLoopDelays = { baseMs: 1000, maxMs: 30_000, rejectedMs: 60_000 };

export interface RunnerLoopOptions {
  /** https://HOST:PORT of the control plane. */
  url: string;
  fingerprint: string;
  /** Reads the runner token afresh; called before every attempt. A throw is logged and retried. */
  readToken: () => string;
  /** The file the token is read from, for the message; absent when it comes from the environment. */
  tokenFile?: string | undefined;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  delays?: Partial<RunnerLoopDelays>;
  /** Waits `ms` or until aborted; tests record the delays. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface RunnerLoop {
  /** Stops dialling, closes the current link and resolves once the loop has ended. */
  stop(): Promise<void>;
}

export function rejectedTokenMessage(tokenFile: string | undefined): string {
  const fix = tokenFile
    ? `write it to ${tokenFile} (read again before each retry, no restart needed)`
    : "set WARREN_RUNNER_TOKEN to it and restart the runner (a --token-file is read again before each retry)";
  return (
    "the control plane rejected the runner token: it was revoked or it expired. " +
    `Mint a new one with \`warren admin runner-token create\` and ${fix}`
  );
}

export function runRunnerLoop(o: RunnerLoopOptions, api: RunnerApi): RunnerLoop {
  const delays = { ...RUNNER_LOOP_DELAYS, ...o.delays };
  const sleep = o.sleep ?? abortableSleep;
  const stopping = new AbortController();
  let current: RunnerConnection | undefined;

  const attempt = async (): Promise<{ connected: boolean; end: RunnerLinkEnd }> => {
    let token: string;
    try {
      token = o.readToken();
    } catch (err) {
      return { connected: false, end: { reason: `cannot read the runner token: ${(err as Error).message}` } };
    }
    try {
      current = await connectRunner({ url: o.url, fingerprint: o.fingerprint, token }, api);
      if (stopping.signal.aborted) current.close(); // stop() came while it was dialling
    } catch (err) {
      return { connected: false, end: { reason: (err as Error).message } };
    }
    let connected = false;
    try {
      const runnerId = await current.ready;
      connected = true;
      o.log("connected to the control plane", { server: o.url, runnerId });
    } catch {
      // The end below says why.
    }
    return { connected, end: await current.ended };
  };

  const done = (async () => {
    let delay = delays.baseMs;
    while (!stopping.signal.aborted) {
      const { connected, end } = await attempt();
      current = undefined;
      if (stopping.signal.aborted) break;
      if (connected) delay = delays.baseMs;
      let wait = delay;
      if (tokenRejected(end)) {
        wait = delays.rejectedMs;
        o.log(rejectedTokenMessage(o.tokenFile), {
          server: o.url,
          reason: end.reason,
          retryInSeconds: Math.round(wait / 1000),
        });
      } else {
        o.log(connected ? "disconnected" : "cannot connect to the control plane", {
          server: o.url,
          reason: end.reason,
        });
        delay = Math.min(delay * 2, delays.maxMs);
      }
      await sleep(wait, stopping.signal);
    }
  })();

  return {
    async stop() {
      stopping.abort();
      current?.close();
      await done;
    },
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
