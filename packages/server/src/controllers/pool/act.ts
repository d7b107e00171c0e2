// The effectful half of the warm-pool reconciler: carries out planPool()'s actions. Members are
// made through the environment service as the pool's own actor (so placement, images and
// admission are exactly a user's create) and removed through the environment controller.
import { isWarrenError } from "@warren/protocol";
import { type Clock, isoNow } from "../../clock.ts";
import type { Logger } from "../../logger.ts";
import type { EnvironmentService } from "../../services/environments.ts";
import { poolActor } from "../../services/pool-owner.ts";
import type { Db } from "../../store/db.ts";
import { setDesired } from "../../store/queries/envs.ts";
import { type PoolRow, setPoolBackoff } from "../../store/queries/pool.ts";
import { backoffMs, type PoolAction } from "./plan.ts";

export interface PoolActContext {
  db: Db;
  clock: Clock;
  logger: Logger;
  envs: Pick<EnvironmentService, "create">;
  /** The environment controller's queue (removals are its work). */
  enqueueEnv: (id: string) => void;
  changed: (id: string) => void;
}

export async function actPool(
  ctx: PoolActContext,
  key: { orgId: string; image: string; className: string },
  pool: PoolRow | undefined,
  actions: readonly PoolAction[],
): Promise<void> {
  for (const a of actions) {
    switch (a.type) {
      case "create":
        if (pool) await createMember(ctx, key, pool);
        break;
      case "delete":
        await setDesired(ctx.db, a.id, { desired: "deleted", stopGraceMs: 0, now: isoNow(ctx.clock) });
        ctx.logger.info({ envId: a.id, why: a.why, pool: key }, "warm-pool member removed");
        ctx.changed(a.id);
        ctx.enqueueEnv(a.id);
        break;
      case "backoff":
        if (pool)
          await setPoolBackoff(ctx.db, pool.id, {
            failures: a.failures,
            retryAt: new Date(a.retryAtMs).toISOString(),
            lastError: a.error.slice(0, 2000),
            now: isoNow(ctx.clock),
          });
        break;
      case "recovered":
        if (pool)
          await setPoolBackoff(ctx.db, pool.id, {
            failures: 0,
            retryAt: null,
            lastError: null,
            now: isoNow(ctx.clock),
          });
        break;
      case "wait":
        break;
    }
  }
}

/**
 * One member, created and left to the environment controller to start. A refusal (no runner, no
 * room, the image gone) counts as a failed creation: the pool backs off and says why.
 */
async function createMember(
  ctx: PoolActContext,
  key: { orgId: string; image: string; className: string },
  pool: PoolRow,
): Promise<void> {
  try {
    const { env } = await ctx.envs.create(
      poolActor(key.orgId),
      { image: key.image, className: key.className },
      { wait: false },
    );
    // Warm means waiting to be claimed: no idle timeout of its own (a class's maximum still
    // applies, and the plan replaces a member stopped by it).
    await ctx.db.updateTable("environments").set({ idle_timeout_s: null }).where("id", "=", env.id).execute();
    ctx.logger.info({ envId: env.id, pool: key }, "warm-pool member created");
  } catch (err) {
    const failures = pool.failures + 1;
    const message = isWarrenError(err) ? `${err.code}: ${err.message}` : String(err);
    ctx.logger.warn({ err, pool: key, failures }, "warm-pool member could not be created; backing off");
    await setPoolBackoff(ctx.db, pool.id, {
      failures,
      retryAt: new Date(ctx.clock.now() + backoffMs(failures)).toISOString(),
      lastError: message.slice(0, 2000),
      now: isoNow(ctx.clock),
    });
  }
}
