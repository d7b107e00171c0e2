// The effectful half of the environment reconciler: carries out plan()'s steps in order. A
// failure stops the pass; the next pass re-reads everything and plans again.
import {
  type Condition,
  DEFAULT_ENV_USER,
  type EnvObserved,
  type IoLimits,
  isWarrenError,
  type RunnerApi,
  type RunnerEnvSpec,
  type RuntimeName,
} from "@warren/protocol";
import { type Clock, isoNow } from "../../clock.ts";
import type { Logger } from "../../logger.ts";
import { isPoolMember } from "../../services/pool-owner.ts";
import type { Db } from "../../store/db.ts";
import { egressFromColumn } from "../../store/queries/egress.ts";
import {
  deleteEnv,
  type EnvRow,
  parseConditions,
  setConditions,
  setState,
} from "../../store/queries/envs.ts";
import { insertEvent } from "../../store/queries/events.ts";
import { idleDeadlineFromStart } from "../../store/queries/idle.ts";
import { templateOf } from "../../store/queries/setups.ts";
import type { Action } from "./plan.ts";

export interface ActContext {
  db: Db;
  runner: RunnerApi;
  clock: Clock;
  logger: Logger;
  row: EnvRow;
  /** Called after every store write so waiting requests re-read. */
  onChange: () => void;
}

export function runnerSpec(row: EnvRow): RunnerEnvSpec {
  return {
    id: row.id,
    name: row.name,
    slot: row.slot,
    image: row.image,
    runtime: row.runtime as RuntimeName,
    resources: { cpus: row.cpus, memoryBytes: row.memory_bytes, diskBytes: row.disk_bytes, pids: row.pids },
    // From the row, not the class: the policy is fixed with the environment's desired state.
    egress: egressFromColumn(row.egress),
    // Only when set: a root environment's spec (and handle.json) stays what it always was.
    ...(row.user_name !== DEFAULT_ENV_USER ? { user: row.user_name } : {}),
    // devcontainer.json's containerEnv and named volumes (migration 025), only when set.
    ...(row.container_env ? { env: JSON.parse(row.container_env) as Record<string, string> } : {}),
    ...(row.volumes ? { volumes: JSON.parse(row.volumes) as { name: string; target: string }[] } : {}),
    // Started from a prebuild: its disk is made as a copy of the prebuild's disk template.
    ...(templateOf(row) ? { template: templateOf(row) as string } : {}),
    // A warm-pool member (services/pool-owner.ts) keeps room for the secrets its claim delivers.
    ...(isPoolMember(row) ? { warm: true } : {}),
    // Its class's disk I/O limits (migration 034), only when set.
    ...(row.io_limits ? { io: JSON.parse(row.io_limits) as IoLimits } : {}),
    // Its class's CPU burst (migration 036), only when set: otherwise the runner's default factor.
    ...(row.cpu_burst !== null && row.cpu_burst !== undefined ? { cpuBurst: Number(row.cpu_burst) } : {}),
  };
}

/** What is worth keeping of an observation: PSI changes every pass and is always read live. */
export function durableObserved(o: EnvObserved): EnvObserved {
  // Live figures (pressure, the CPU governor's cap and counters) are read fresh by inspect; stored,
  // they would make every resync see a changed observation.
  const { psi: _psi, cpuGovernor: _cpu, ...rest } = o;
  return rest;
}

type StoreStep = Extract<Action, { type: "setState" } | { type: "event" }>;
const isStoreStep = (a: Action): a is StoreStep => a.type === "setState" || a.type === "event";

export async function act(actions: readonly Action[], ctx: ActContext): Promise<void> {
  const { row, runner, db } = ctx;
  const spec = runnerSpec(row);
  let observed: EnvObserved | undefined;
  for (let i = 0; i < actions.length; i++) {
    const action = actions[i] as Action;
    if (isStoreStep(action)) {
      // A run of state changes and events is one transaction (bench/api: every commit counted),
      // then the events go to the host's log in the same order.
      const steps: StoreStep[] = [action];
      while (i + 1 < actions.length && isStoreStep(actions[i + 1] as Action))
        steps.push(actions[++i] as StoreStep);
      await storeSteps(ctx, steps, observed);
      continue;
    }
    switch (action.type) {
      case "ensureRunning":
        observed = await runner.ensureRunning(spec);
        if (observed.state !== "running") {
          throw new Error(
            `runner reported the environment ${observed.state} after starting it${why(observed)}`,
          );
        }
        break;
      case "ensureStopped":
        observed = await runner.ensureStopped(spec, action.graceMs);
        if (observed.state === "running")
          throw new Error(`runner reported the environment still running after stop`);
        break;
      case "remove":
        await runner.remove(row.id);
        observed = undefined;
        break;
      case "setResources":
        await applyResize(ctx, spec);
        break;
      case "deleteRow":
        await deleteEnv(db, row.id);
        ctx.onChange();
        break;
    }
  }
}

async function storeSteps(
  ctx: ActContext,
  steps: StoreStep[],
  observed: EnvObserved | undefined,
): Promise<void> {
  const now = isoNow(ctx.clock);
  await ctx.db.transaction().execute(async (trx) => {
    for (const step of steps) {
      if (step.type === "setState") {
        await setState(trx, ctx.row.id, {
          state: step.state,
          now,
          ...(observed ? { observed: durableObserved(observed) } : {}),
          // A start's idle deadline, in this write rather than a later one of the idle controller.
          ...(step.state === "running" && ctx.row.desired === "running"
            ? { idleDeadline: idleDeadlineFromStart(trx, now) }
            : {}),
        });
      } else await insertEvent(trx, ctx.row.id, now, step.message);
    }
  });
  if (steps.some((s) => s.type === "setState")) ctx.onChange();
  for (const step of steps)
    if (step.type === "event" && step.hostLog !== false) await hostLogEvent(ctx, step.message);
}

export const RESIZE_PENDING = "ResizePending";
/** The condition a failed pass leaves while it retries; the next good pass clears it. */
export const RETRY_CONDITION = "ReconcileError";

/**
 * A refused resize (memory below current use) is no failure: the environment runs on with its
 * old limits, the new ones apply at its next start, and each pass tries again meanwhile.
 */
async function applyResize(ctx: ActContext, spec: RunnerEnvSpec): Promise<void> {
  try {
    await ctx.runner.setResources(spec);
  } catch (err) {
    if (!isWarrenError(err, "INVALID_ARGUMENT")) throw err;
    const others = parseConditions(ctx.row).filter((c) => c.type !== RESIZE_PENDING);
    const pending: Condition = {
      type: RESIZE_PENDING,
      status: "True",
      reason: err.code,
      message: err.message,
      at: isoNow(ctx.clock),
    };
    await setConditions(ctx.db, ctx.row.id, [...others, pending]);
    ctx.onChange();
  }
}

function why(o: EnvObserved): string {
  return o.reason ? `: ${o.reason}` : "";
}

/** Lifecycle events go to the store and to the environment's log on the host (best effort there). */
export async function recordEvent(
  ctx: Pick<ActContext, "db" | "runner" | "clock" | "logger"> & { row: Pick<EnvRow, "id"> },
  message: string,
  hostLog = true,
): Promise<void> {
  await insertEvent(ctx.db, ctx.row.id, isoNow(ctx.clock), message);
  if (hostLog) await hostLogEvent(ctx, message);
}

async function hostLogEvent(
  ctx: Pick<ActContext, "runner" | "logger"> & { row: Pick<EnvRow, "id"> },
  message: string,
): Promise<void> {
  try {
    await ctx.runner.appendEvent(ctx.row.id, message);
  } catch (err) {
    ctx.logger.warn({ envId: ctx.row.id, err }, "could not append event to the environment log");
  }
}
