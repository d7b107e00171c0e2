// Runners out of reach. A runner no replica holds for the grace period (default 60 s) is marked
// unreachable (runners.unreachable_since: when it was last seen), and each of its environments
// gains the RunnerUnreachable condition: it keeps its last observed state and is never re-created
// elsewhere (its disk is on that host). When the runner reconnects, the attaching replica clears
// the mark and the conditions, and the resync re-adopts its environments.
//
// Every replica checks, but the mark is one conditional UPDATE, so exactly one of them marks each
// runner. Conditions are then made level-triggered: each check adds the condition to any
// environment of a marked runner that lacks it (compare-and-set, so a reconcile pass writing at the
// same moment is never overwritten and the next check catches up).

import {
  RUNNER_UNREACHABLE,
  unreachableCondition,
  withoutUnreachable,
  withUnreachable,
} from "../controllers/environment/unreachable.ts";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import { parseConditions } from "../store/queries/envs.ts";
import {
  clearUnreachable,
  envsWithCondition,
  markUnreachable,
  swapConditions,
  unmarkedEnvsOfLostRunners,
} from "../store/queries/runner-health.ts";

export const DEFAULT_UNREACHABLE_GRACE_MS = 60_000;

export interface RunnerHealth {
  /** One check (the timer's; exposed for tests). */
  check(): Promise<void>;
  /** The runner is back: clears its mark and its environments' condition. */
  returned(runnerId: string): Promise<void>;
  start(): void;
  close(): void;
}

export function createRunnerHealth(o: {
  db: Db;
  logger: Logger;
  graceMs: number;
  /** A row held by a replica that has not refreshed it for this long is that replica's loss. */
  staleMs: number;
  /** An environment's conditions changed (the change feed; other replicas hear it too). */
  onChange: (envId: string) => void;
  now?: () => number;
}): RunnerHealth {
  const now = o.now ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const iso = (ms: number) => new Date(ms).toISOString();

  const check = async () => {
    const t = now();
    const lost = await markUnreachable(o.db, {
      releasedBefore: iso(t - o.graceMs),
      staleBefore: iso(t - o.staleMs - o.graceMs),
    });
    for (const r of lost)
      o.logger.warn(
        { runnerId: r.id, orgId: r.orgId, name: r.name, since: r.since },
        "runner unreachable: its environments keep their last observed state until it returns",
      );
    for (const e of await unmarkedEnvsOfLostRunners(o.db, RUNNER_UNREACHABLE)) {
      const next = withUnreachable(parseConditions(e), unreachableCondition(e.runnerName, e.since));
      if (await swapConditions(o.db, e.id, e.conditions, next)) o.onChange(e.id);
    }
  };

  return {
    check() {
      running ??= check().finally(() => {
        running = undefined;
      });
      return running;
    },
    async returned(runnerId) {
      await clearUnreachable(o.db, runnerId);
      for (const e of await envsWithCondition(o.db, runnerId, RUNNER_UNREACHABLE)) {
        if (await swapConditions(o.db, e.id, e.conditions, withoutUnreachable(parseConditions(e))))
          o.onChange(e.id);
      }
    },
    start() {
      const every = Math.max(20, Math.min(5000, Math.floor(o.graceMs / 4)));
      timer = setInterval(() => {
        this.check().catch((err: unknown) => o.logger.warn({ err }, "checking runner health failed"));
      }, every);
      timer.unref();
    },
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
