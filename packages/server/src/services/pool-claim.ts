// The create path's warm-pool hook: a create that a pool can serve takes over one of its ready
// members instead of starting an environment from nothing. The member keeps what it was made
// with (its id, hence its runner-side names, slot and id mapping, disk, network, cgroups) and
// becomes the user's: name, owner, user, idle timeout, then secrets delivered and the runner told
// the new name (hostname, /etc/hosts, workspace folder), all by one ensureRunning of the spec.
//
// Only a plain create matches: the pool's image and class with no overrides (cpus, memory, disk,
// runtime), no repository or project. Anything else, or no ready member, is a normal create.
// The claim itself is one conditional statement (store/queries/pool.ts claimMember).
import {
  type Condition,
  type CreateEnvRequest,
  checkEnvUser,
  DEFAULT_CLASS,
  DEFAULT_ENV_USER,
  DEFAULT_IMAGE,
  type RunnerApi,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import { runnerSpec } from "../controllers/environment/act.ts";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import { POOL_OWNER_ID } from "../store/migrations/035_warm_pools.ts";
import type { ClassRow } from "../store/queries/classes.ts";
import { type EnvRow, getEnvById, getEnvByName, setConditions } from "../store/queries/envs.ts";
import { insertEvent } from "../store/queries/events.ts";
import { isNameTaken } from "../store/queries/fleet-admission.ts";
import { claimMember, findPool, listPools, type PoolRow } from "../store/queries/pool.ts";
import { getQuotaRow } from "../store/queries/quotas.ts";
import { idleTimeoutArg, newEnvIdleTimeout } from "./idle-settings.ts";
import { checkOrgQuota, checkUserRunning } from "./quotas.ts";

/** The durable mark of a claim whose takeover on the runner is not known to have finished. */
export const TAKEOVER_CONDITION = "PoolTakeover";

/** How long the set of configured pool keys is trusted before it is read again. */
const KEYS_TTL_MS = 2_000;

export interface PoolClaimOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** The runner as the environment controller sees it (with secret delivery). */
  runner: Pick<RunnerApi, "ensureRunning">;
  /** Called after the claim and after the takeover (waiting requests, watch, the controller). */
  changed: (id: string) => void;
  /** The pool lost a member: its controller refills it. */
  claimed?: (poolId: string) => void;
}

export interface ClaimRequest {
  name: string;
  org: string;
  own: { org_id: string; owner_id: string };
  req: CreateEnvRequest;
  cls: ClassRow | undefined;
}

export interface PoolClaimer {
  /** The user's environment taken over from a pool, or undefined: create it the usual way. */
  claim(r: ClaimRequest): Promise<EnvRow | undefined>;
  /** Finishes (again) the runner side of a claim: new name, secrets, user. Idempotent. */
  takeover(row: EnvRow): Promise<void>;
  /** Forget the cached pool keys (after `pool set` or `pool rm` on this replica). */
  invalidate(): void;
}

/** Whether a create asks for exactly what a pool member of (image, class) already is. */
export function poolKeyOf(req: CreateEnvRequest): { image: string; className: string } | undefined {
  if (req.cpus !== undefined || req.memory !== undefined || req.disk !== undefined) return undefined;
  if (req.runtime !== undefined || req.repo !== undefined || req.project !== undefined) return undefined;
  // Members are made for root; another user's secrets directory is set up at a start.
  if (req.user !== undefined && req.user !== DEFAULT_ENV_USER) return undefined;
  return { image: req.image ?? DEFAULT_IMAGE, className: req.className ?? DEFAULT_CLASS };
}

export function createPoolClaimer(o: PoolClaimOptions): PoolClaimer {
  const { db } = o;
  let keys: { at: number; set: Set<string> } | undefined;
  const keyOf = (org: string, image: string, cls: string) => `${org}\u0000${image}\u0000${cls}`;

  /** Most creates are in organisations with no pool: one cached read answers them all. */
  async function configured(org: string, image: string, cls: string): Promise<boolean> {
    const now = o.clock.now();
    if (!keys || now - keys.at > KEYS_TTL_MS) {
      const pools = await listPools(db);
      keys = { at: now, set: new Set(pools.map((p) => keyOf(p.org_id, p.image, p.class_name))) };
    }
    return keys.set.has(keyOf(org, image, cls));
  }

  async function takeover(row: EnvRow): Promise<void> {
    await o.runner.ensureRunning(runnerSpec(row));
    const now = (await getEnvById(db, row.id)) ?? row;
    const conditions = (JSON.parse(now.conditions) as Condition[]).filter(
      (c) => c.type !== TAKEOVER_CONDITION,
    );
    await setConditions(db, row.id, conditions);
    o.changed(row.id);
  }

  /** A takeover that failed: the member goes (renamed out of the way) and the create starts afresh. */
  async function abandon(row: EnvRow, err: unknown): Promise<void> {
    o.logger.warn({ envId: row.id, err }, "warm-pool takeover failed; creating the environment afresh");
    await db
      .updateTable("environments")
      .set({
        name: `pool-${row.id}`,
        owner_id: POOL_OWNER_ID as never,
        desired: "deleted",
        stop_grace_ms: 0,
        updated_at: isoNow(o.clock),
      })
      .where("id", "=", row.id)
      .execute();
    o.changed(row.id);
  }

  return {
    takeover,
    invalidate: () => {
      keys = undefined;
    },
    async claim(r) {
      // The pool's own creates (its members) never claim.
      if (r.own.owner_id === POOL_OWNER_ID) return undefined;
      const key = poolKeyOf(r.req);
      if (!key || !r.cls || r.cls.name !== key.className) return undefined;
      if (!(await configured(r.own.org_id, key.image, key.className))) return undefined;
      const pool: PoolRow | undefined = await findPool(db, { orgId: r.own.org_id, ...key });
      if (!pool) return undefined;
      // An existing name is the usual path's answer (the same environment, or NAME_CONFLICT).
      if (r.req.name !== undefined && (await getEnvByName(db, r.name, r.org))) return undefined;
      // The quotas a create is held to, checked as the usual path checks them.
      const quota = (await getQuotaRow(db, r.own.org_id)) ?? null;
      if (quota) {
        const need = { cpus: r.cls.cpus, memoryBytes: r.cls.memory_bytes, diskBytes: r.cls.disk_bytes };
        await checkOrgQuota(db, r.own.org_id, need, undefined, quota);
        await checkUserRunning(db, r.own.org_id, r.own.owner_id, quota);
      }
      const asked = r.req.idleTimeout !== undefined ? idleTimeoutArg(r.req.idleTimeout) : undefined;
      const now = isoNow(o.clock);
      const marker: Condition = {
        type: TAKEOVER_CONDITION,
        status: "True",
        reason: "Claimed",
        message: "taking over a ready environment from the warm pool",
        at: now,
      };
      let row: EnvRow | undefined;
      try {
        row = await claimMember(db, pool, {
          name: r.name,
          ownerId: r.own.owner_id,
          userName: r.req.user !== undefined ? checkEnvUser(r.req.user) : DEFAULT_ENV_USER,
          idleTimeoutS: newEnvIdleTimeout(asked, {
            classMax: r.cls.idle_timeout_s ?? null,
            className: r.cls.name,
            orgMax: quota?.max_idle_timeout_s ?? null,
          }),
          conditions: JSON.stringify([marker]),
          now,
        });
      } catch (err) {
        if (isNameTaken(err)) return undefined;
        throw err;
      }
      if (!row) return undefined;
      o.claimed?.(pool.id);
      await insertEvent(db, row.id, now, "claimed from the warm pool");
      o.changed(row.id);
      try {
        await takeover(row);
      } catch (err) {
        await abandon(row, err);
        return undefined;
      }
      o.logger.info(
        { envId: row.id, name: r.name, poolId: pool.id },
        "environment claimed from the warm pool",
      );
      return (await getEnvById(db, row.id)) ?? row;
    },
  };
}
