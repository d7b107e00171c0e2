// The level-triggered environment reconciler: a queue of environment ids, and for each id a
// pass that reads the row and the host, plans, and acts. Startup sweeps host leftovers and
// enqueues every row; a periodic resync heals drift nobody reported.
import type { Condition, RunnerApi } from "@warren/protocol";
import { isWarrenError, type WarrenError, wrap } from "@warren/protocol";
import { type Clock, isoNow, type TimerHandle } from "../../clock.ts";
import type { Logger } from "../../logger.ts";
import type { ChangeFeed } from "../../services/changes.ts";
import { ownershipOf } from "../../services/scope.ts";
import type { Db } from "../../store/db.ts";
import {
  getEnvById,
  listEnvIds,
  listEnvs,
  parseConditions,
  setConditions,
  setObserved,
  setState,
} from "../../store/queries/envs.ts";
import { createWorkQueue, type QueueObserver } from "../queue.ts";
import { act, durableObserved, RESIZE_PENDING, RETRY_CONDITION, recordEvent } from "./act.ts";
import { plan } from "./plan.ts";
import { resyncIds } from "./resync.ts";
import { RUNNER_UNREACHABLE } from "./unreachable.ts";

export interface EnvironmentControllerOptions {
  db: Db;
  runner: RunnerApi;
  clock: Clock;
  logger: Logger;
  changes: ChangeFeed;
  resyncMs?: number;
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * Server mode with several replicas (runners/hub.ts): "elsewhere" means another replica holds
   * the runner of the environment's organisation, so that replica reconciles it and this one
   * leaves it alone (it would only record "runner unavailable" over the other's progress).
   */
  ownership?: (
    id: string,
    route: { runnerId: string; orgId: string },
  ) => Promise<"mine" | "elsewhere" | "none">;
  /** Queue depth and pass latency for /metrics (metrics/control-plane.ts queueObserver). */
  queueObserver?: QueueObserver;
}

export interface EnvironmentController {
  /** Sweeps host leftovers of unknown ids, enqueues every row and starts the periodic resync. */
  start(): Promise<{ swept: string[] }>;
  enqueue(id: string, opts?: { now?: boolean }): void;
  /** One pass for one id (the queue's handler; exposed for tests). */
  reconcile(id: string): Promise<void>;
  failures(id: string): number;
  idle(): Promise<void>;
  /** Stops the resync and waits for passes in flight. Environments keep running. */
  close(): Promise<void>;
}

/** Codes retrying cannot fix: the user has to change something. */
// RUNNER_UNAVAILABLE: a runner restarting or reconnecting must not fail its environments.
const TRANSIENT_CODES = new Set(["INTERNAL", "TIMEOUT", "DAEMON_UNAVAILABLE", "RUNNER_UNAVAILABLE"]);
export function isTerminal(err: unknown): err is WarrenError {
  return isWarrenError(err) && !TRANSIENT_CODES.has(err.code);
}

export function createEnvironmentController(opts: EnvironmentControllerOptions): EnvironmentController {
  const { db, runner, clock, logger, changes } = opts;
  const resyncMs = opts.resyncMs ?? 10_000;
  let resyncTimer: TimerHandle | undefined;
  let closed = false;

  const queue = createWorkQueue<string>({
    handler: reconcile,
    clock,
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
    ...(opts.baseDelayMs ? { baseDelayMs: opts.baseDelayMs } : {}),
    ...(opts.maxDelayMs ? { maxDelayMs: opts.maxDelayMs } : {}),
    onError: (id, err, attempt, retryInMs) =>
      logger.warn({ envId: id, err, attempt, retryInMs }, "reconcile failed; retrying"),
    ...(opts.queueObserver ? { observer: opts.queueObserver } : {}),
  });

  async function reconcile(id: string): Promise<void> {
    const row = await getEnvById(db, id);
    if (!row) return;
    // The row just read names its runner: ownership need not read it again.
    const route = { runnerId: row.runner_id, orgId: ownershipOf(row).org_id };
    if (opts.ownership && (await opts.ownership(id, route)) === "elsewhere") return;
    const ctx = { db, runner, clock, logger, row, onChange: () => changes.emit(id) };
    try {
      const observed = await runner.observe(id);
      const actions = plan({
        row: {
          desired: row.desired,
          state: row.state,
          stopGraceMs: row.stop_grace_ms,
          resources: { cpus: row.cpus, memoryBytes: row.memory_bytes, pids: row.pids },
        },
        observed,
      });
      if (actions.length > 0) logger.debug({ envId: id, actions: actions.map((a) => a.type) }, "reconcile");
      const stored = JSON.stringify(durableObserved(observed));
      if (actions.length === 0 && row.observed !== stored) {
        await setObserved(db, id, durableObserved(observed));
      }
      await act(actions, ctx);
      // A pass with nothing left to resize settles any earlier refused resize too, and one that
      // reached the runner shows it is reachable again.
      const settled = [RUNNER_UNREACHABLE];
      if (!actions.some((a) => a.type === "setResources")) settled.push(RESIZE_PENDING);
      await clearRetryCondition(id, settled);
    } catch (err) {
      const wrapped = wrap(`reconcile env ${id}`, err);
      if (isTerminal(wrapped)) {
        await markFailed(row.id, row.generation, wrapped);
        return;
      }
      await noteRetry(id, wrapped);
      throw wrapped;
    }
  }

  async function markFailed(id: string, generation: number, err: WarrenError): Promise<void> {
    const now = isoNow(clock);
    const failed: Condition = {
      type: "Failed",
      status: "True",
      reason: err.code,
      message: err.message,
      at: now,
    };
    // A new intent since this pass began wins: the user already asked for something else.
    const written = await setState(db, id, {
      state: "failed",
      conditions: [failed],
      now,
      ifGeneration: generation,
    });
    if (!written) return;
    logger.error({ envId: id, code: err.code, err }, "environment failed");
    await recordEvent({ db, runner, clock, logger, row: { id } }, `failed: ${err.code}: ${err.message}`);
    changes.emit(id);
  }

  // Transient errors surface as a condition so a waiting request can say why it is slow.
  async function noteRetry(id: string, err: Error): Promise<void> {
    const row = await getEnvById(db, id);
    if (!row) return;
    const others = parseConditions(row).filter((c) => c.type !== RETRY_CONDITION);
    const reason = isWarrenError(err) ? err.code : "Error";
    const cond: Condition = {
      type: RETRY_CONDITION,
      status: "True",
      reason,
      message: err.message,
      at: isoNow(clock),
    };
    await setConditions(db, id, [...others, cond]);
    changes.emit(id);
  }

  async function clearRetryCondition(id: string, alsoClear: string[] = []): Promise<void> {
    const row = await getEnvById(db, id);
    if (!row) return;
    const conditions = parseConditions(row);
    const clear = new Set([RETRY_CONDITION, ...alsoClear]);
    if (!conditions.some((c) => clear.has(c.type))) return;
    await setConditions(
      db,
      id,
      conditions.filter((c) => !clear.has(c.type)),
    );
    changes.emit(id);
  }

  async function resync(): Promise<void> {
    try {
      const rows = await listEnvs(db);
      const listed = await runner.list().catch(() => undefined);
      for (const id of resyncIds(rows, listed)) queue.add(id);
    } catch (err) {
      logger.error({ err }, "resync failed");
    }
    if (!closed) resyncTimer = clock.setTimeout(() => void resync(), resyncMs);
  }

  return {
    async start() {
      const ids = await listEnvIds(db);
      const swept = await runner.sweep(new Set(ids));
      if (swept.length > 0) logger.info({ swept }, "swept host leftovers of unknown environments");
      for (const id of ids) queue.add(id);
      if (!closed && resyncMs > 0) resyncTimer = clock.setTimeout(() => void resync(), resyncMs);
      return { swept };
    },
    enqueue: (id, addOpts) => queue.add(id, addOpts),
    reconcile,
    failures: (id) => queue.failures(id),
    idle: () => queue.idle(),
    async close() {
      closed = true;
      if (resyncTimer) clock.clearTimeout(resyncTimer);
      await queue.close();
    },
  };
}
