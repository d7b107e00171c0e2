// Waking an environment for a connection that needs it running: an SSH login, `warren exec` and
// `warren shell`, a port-forward. A stopped environment that the caller may start is started the
// way `warren start` starts it (the intent is made durable first and the controller does the
// work), and the connection is held until the controller reports it running, up to a bound.
// Visibility is the services' own: an environment the caller may not see is ENV_NOT_FOUND, exactly
// as an unknown one; one they may see but not start (a quota, one being deleted) gets start's error.
import { WarrenError } from "@warren/protocol";
import type { EnvRow } from "../store/queries/envs.ts";
import type { Actor } from "./actor.ts";
import type { EnvironmentService } from "./environments.ts";
import { ownershipOf } from "./scope.ts";
import { type SettleOptions, waitForSettle } from "./settle.ts";

/** How long a connection is held while its environment starts. */
export const WAKE_TIMEOUT_MS = 60_000;

export interface WakeOptions {
  timeoutMs?: number;
  /** The caller went away: stop waiting (the start itself goes on, as `warren start` would). */
  signal?: AbortSignal;
  /** Called once, before waiting, when the environment was not running: a client may say so. */
  onWait?: (env: { id: string; name: string; state: string }) => void;
}

export interface EnvWaker {
  wake(a: Actor, nameOrId: string, opts?: WakeOptions): Promise<{ id: string; name: string; orgId: string }>;
}

export interface EnvWakerDeps {
  envs: Pick<EnvironmentService, "find" | "start">;
  /** The store and change feed the wait re-reads (services/settle.ts); its own bound and signal come per call. */
  settle: Omit<SettleOptions, "timeoutMs" | "signal">;
  /** Aborts every wait when the daemon shuts down. */
  shutdown?: AbortSignal | undefined;
}

export function createEnvWaker(d: EnvWakerDeps): EnvWaker {
  return {
    async wake(a, nameOrId, opts = {}) {
      const row = await d.envs.find(a, nameOrId);
      const out = { id: row.id, name: row.name, orgId: orgOf(row) };
      if (row.desired === "running" && row.state === "running") return out;
      const timeoutMs = opts.timeoutMs ?? WAKE_TIMEOUT_MS;
      // A failed environment is retried, as `warren start` retries it; one on its way up is only
      // waited for, so a burst of connections to a starting environment asks for nothing twice.
      if (row.desired !== "running" || row.state === "failed") {
        await d.envs.start(a, row.id, { wait: false });
      }
      opts.onWait?.({ id: row.id, name: row.name, state: row.state });
      const signals = [d.shutdown, opts.signal].filter((s): s is AbortSignal => s !== undefined);
      try {
        await waitForSettle(
          { ...d.settle, timeoutMs, signal: signals.length > 0 ? AbortSignal.any(signals) : undefined },
          row.id,
          "running",
        );
      } catch (err) {
        if (opts.signal?.aborted && !d.shutdown?.aborted) {
          throw new WarrenError(
            "DAEMON_UNAVAILABLE",
            `the connection to ${row.name} closed while it started`,
          );
        }
        if (err instanceof WarrenError && err.code === "TIMEOUT") throw notReady(row.name, timeoutMs);
        throw err;
      }
      return out;
    },
  };
}

function notReady(name: string, timeoutMs: number): WarrenError {
  const seconds = Math.round(timeoutMs / 1000);
  return new WarrenError(
    "TIMEOUT",
    `environment ${name} did not become ready within ${seconds} s; see \`warren logs ${name}\` (it keeps starting in the background; check with \`warren ls\`)`,
    { name, timeoutMs },
  );
}

function orgOf(row: EnvRow): string {
  return ownershipOf(row).org_id;
}

/**
 * No waking: the caller must find the environment running (what exec did before waking). For apps
 * built without the daemon's change feed (in-process tests of other features).
 */
export function requireRunningWaker(envs: Pick<EnvironmentService, "requireRunning">): EnvWaker {
  return {
    async wake(a, nameOrId) {
      const row = await envs.requireRunning(a, nameOrId);
      return { id: row.id, name: row.name, orgId: orgOf(row) };
    },
  };
}
