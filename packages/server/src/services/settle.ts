// Waiting for the controller to reach what a request asked for. Waits hold no lock and no
// transaction: they re-read the row whenever the change feed fires (or a poll interval passes).
import { WarrenError } from "@warren/protocol";
import { type Clock, sleep } from "../clock.ts";
import type { Db } from "../store/db.ts";
import { type EnvRow, getEnvById, parseConditions, toEnvironment } from "../store/queries/envs.ts";
import type { ChangeFeed } from "./changes.ts";

export type SettleTarget = "running" | "stopped" | "deleted";

export interface SettleOptions {
  db: Db;
  changes: ChangeFeed;
  clock: Clock;
  timeoutMs: number;
  pollMs: number;
  signal?: AbortSignal | undefined;
}

/** Resolves with the row in the target state (undefined once deleted); throws ENV_FAILED or TIMEOUT. */
export async function waitForSettle(
  o: SettleOptions,
  id: string,
  target: SettleTarget,
): Promise<EnvRow | undefined> {
  const deadline = o.clock.now() + o.timeoutMs;
  for (;;) {
    const version = o.changes.version;
    const row = await getEnvById(o.db, id);
    if (!row) {
      if (target === "deleted") return undefined;
      throw new WarrenError(
        "ENV_NOT_FOUND",
        `environment ${id} was deleted while waiting for it to be ${target}`,
      );
    }
    if (row.state === "failed") throw failedError(row);
    if (row.state === target) return row;
    const remaining = deadline - o.clock.now();
    if (remaining <= 0) throw timeoutError(row, target, o.timeoutMs);
    await waitForChange(o, id, version, Math.min(o.pollMs, remaining));
  }
}

async function waitForChange(o: SettleOptions, id: string, version: number, ms: number): Promise<void> {
  const stop = new AbortController();
  const onShutdown = () => stop.abort();
  o.signal?.addEventListener("abort", onShutdown, { once: true });
  try {
    // The sleep rejects when `stop` aborts; swallowing it keeps the loser of the race quiet.
    const timer = sleep(o.clock, ms, stop.signal).catch(() => {});
    if (!o.signal?.aborted) await Promise.race([o.changes.changedSinceFor(id, version), timer]);
  } finally {
    o.signal?.removeEventListener("abort", onShutdown);
    stop.abort();
  }
  if (o.signal?.aborted) {
    throw new WarrenError(
      "DAEMON_UNAVAILABLE",
      "the warren daemon is shutting down; the operation resumes when it starts again (check with `warren ls`)",
    );
  }
}

function failedError(row: EnvRow): WarrenError {
  const failed = parseConditions(row).find((c) => c.type === "Failed");
  const cause = failed ? `${failed.reason}: ${failed.message}` : "no reason recorded";
  return new WarrenError(
    "ENV_FAILED",
    `environment "${row.name}" failed: ${cause}. Fix the cause, then run \`warren start ${row.name}\` to retry or \`warren rm ${row.name}\` to remove it`,
    { env: toEnvironment(row) },
  );
}

function timeoutError(row: EnvRow, target: SettleTarget, timeoutMs: number): WarrenError {
  const retrying = parseConditions(row).find((c) => c.type === "ReconcileError");
  const last = retrying ? `; last error: ${retrying.message}` : "";
  return new WarrenError(
    "TIMEOUT",
    `environment "${row.name}" is still ${row.state}, not ${target}, after ${Math.round(timeoutMs / 1000)}s${last}. Warren keeps trying in the background; check with \`warren ls\``,
    { env: toEnvironment(row) },
  );
}
