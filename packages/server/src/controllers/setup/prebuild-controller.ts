// Drives prebuilds after they start: a change to a prebuild environment (its hooks done, its setup
// failed, it gone) ends the run (prebuild-finish.ts); a timer looks at every run under way (a
// change missed while the server was down) and starts the scheduled prebuilds that are due.
// One finish per environment at a time; the row's env_id is the claim (store/queries/prebuilds.ts).
import { isoNow, type TimerHandle } from "../../clock.ts";
import type { ChangeFeed } from "../../services/changes.ts";
import { duePrebuilds, listPrebuilds, type PrebuildRow } from "../../store/queries/prebuilds.ts";
import { finishPrebuild, type PrebuildFinishDeps } from "./prebuild-finish.ts";

export interface PrebuildController {
  start(): void;
  /** Looks at one prebuild environment now (tests, and the change feed). */
  check(envId: string): Promise<void>;
  /** One timer pass: runs under way, then due schedules. */
  tick(): Promise<void>;
  close(): Promise<void>;
}

export function createPrebuildController(
  o: PrebuildFinishDeps & {
    changes: ChangeFeed;
    /** Starts a scheduled prebuild's run (services/prebuilds.ts). */
    runDue(row: PrebuildRow): Promise<void>;
    tickMs?: number;
  },
): PrebuildController {
  const running = new Map<string, Promise<void>>();
  let timer: TimerHandle | undefined;
  let closed = false;

  const check = (envId: string): Promise<void> => {
    const cur = running.get(envId);
    if (cur) return cur;
    const p = finishPrebuild(o, envId)
      .catch((err: unknown) =>
        o.logger.warn({ err, envId }, "prebuild step failed; retried on the next pass"),
      )
      .finally(() => running.delete(envId));
    running.set(envId, p);
    return p;
  };

  const tick = async (): Promise<void> => {
    try {
      for (const row of await listPrebuilds(o.db)) if (row.env_id) await check(row.env_id);
      for (const row of await duePrebuilds(o.db, isoNow(o.clock))) {
        await o
          .runDue(row)
          .catch((err: unknown) =>
            o.logger.warn({ err, prebuild: row.id }, "scheduled prebuild did not start"),
          );
      }
    } catch (err) {
      o.logger.error({ err }, "prebuild pass failed");
    }
  };

  const loop = async () => {
    await tick();
    if (!closed) timer = o.clock.setTimeout(() => void loop(), o.tickMs ?? 30_000);
  };

  o.changes.onEmit((id) => {
    if (id && !closed) void check(id);
  });

  return {
    start() {
      void loop();
    },
    check,
    tick,
    async close() {
      closed = true;
      if (timer) o.clock.clearTimeout(timer);
      await Promise.all(running.values());
    },
  };
}
