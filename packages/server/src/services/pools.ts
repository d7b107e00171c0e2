// Warm-pool configuration (admins): set (create or replace) a pool of (image, class), list the
// organisation's pools with what they hold now, remove one. The controller (controllers/pool/)
// does the rest; a change here only enqueues its key.
import { randomBytes } from "node:crypto";
import {
  DEFAULT_CLASS,
  parseImageRef,
  type SetPoolRequest,
  type WarmPool,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import { CLAIM_WINDOW_MS, targetSize } from "../controllers/pool/plan.ts";
import { formatSchedule, parseSchedule, parseStoredSchedule } from "../controllers/pool/schedule.ts";
import type { Db } from "../store/db.ts";
import { getClass } from "../store/queries/classes.ts";
import {
  deletePool,
  findPool,
  listPoolMembers,
  listPools,
  type PoolKey,
  type PoolRow,
  recentClaims,
  upsertPool,
} from "../store/queries/pool.ts";
import type { Actor } from "./actor.ts";
import { nameOrg, requireAdmin } from "./scope.ts";

/** The most members one pool may keep: far beyond any one runner's 20 % share. */
export const MAX_POOL_SIZE = 100;

export interface PoolService {
  set(a: Actor, req: SetPoolRequest): Promise<WarmPool>;
  list(a: Actor): Promise<WarmPool[]>;
  remove(a: Actor, image: string, className?: string): Promise<boolean>;
}

export interface PoolServiceOptions {
  db: Db;
  clock: Clock;
  /** A pool's configuration changed: reconcile its key now (and forget cached keys). */
  changed?: (key: PoolKey) => void;
}

export function createPoolService(o: PoolServiceOptions): PoolService {
  const { db, clock } = o;

  async function view(p: PoolRow): Promise<WarmPool> {
    const now = clock.now();
    const members = (await listPoolMembers(db, p.org_id)).filter(
      (m) => m.image === p.image && m.class_name === p.class_name && m.desired === "running",
    );
    const recent = await recentClaims(db, p.id, new Date(now - CLAIM_WINDOW_MS).toISOString());
    const schedule = parseStoredSchedule(p.schedule);
    const ready = members.filter((m) => m.state === "running").length;
    return {
      id: p.id,
      image: p.image,
      className: p.class_name,
      min: p.min_size,
      max: p.max_size,
      schedule: formatSchedule(schedule),
      target: targetSize(
        { minSize: p.min_size, maxSize: p.max_size, schedule, failures: p.failures, retryAtMs: null },
        now,
        recent,
      ),
      ready,
      starting: members.filter((m) => m.state !== "running" && m.state !== "failed").length,
      recentClaims: recent,
      claimsTotal: p.claims_total,
      failures: p.failures,
      ...(p.retry_at ? { retryAt: p.retry_at } : {}),
      ...(p.last_error ? { lastError: p.last_error } : {}),
      createdAt: p.created_at,
      updatedAt: p.updated_at,
    };
  }

  return {
    async set(a, req) {
      requireAdmin(a, "configuring warm pools");
      const orgId = nameOrg(a);
      const className = req.className ?? DEFAULT_CLASS;
      try {
        parseImageRef(req.image);
      } catch (err) {
        throw new WarrenError("INVALID_ARGUMENT", `invalid image "${req.image}": ${(err as Error).message}`, {
          field: "image",
        });
      }
      for (const [field, v] of [
        ["min", req.min],
        ["max", req.max],
      ] as const) {
        if (!Number.isInteger(v) || v < 0 || v > MAX_POOL_SIZE)
          throw new WarrenError(
            "INVALID_ARGUMENT",
            `--${field} must be a whole number from 0 to ${MAX_POOL_SIZE}, not ${v}`,
            { field },
          );
      }
      if (req.max < req.min)
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `--max ${req.max} is below --min ${req.min}; raise --max or lower --min`,
          { field: "max" },
        );
      const schedule = parseSchedule(req.schedule ?? "", req.max);
      if (!(await getClass(db, className, orgId)))
        throw new WarrenError(
          "CLASS_NOT_FOUND",
          `class "${className}" does not exist; run \`warren class ls\` to see them`,
          { name: className },
        );
      const now = isoNow(clock);
      const key = { orgId, image: req.image, className };
      const existing = await findPool(db, key);
      await upsertPool(db, {
        id: existing?.id ?? `pool_${randomBytes(6).toString("hex")}`,
        org_id: orgId,
        image: req.image,
        class_name: className,
        min_size: req.min,
        max_size: req.max,
        schedule: JSON.stringify(schedule),
        failures: 0,
        retry_at: null,
        last_error: null,
        claims_total: existing?.claims_total ?? 0,
        created_at: existing?.created_at ?? now,
        updated_at: now,
      });
      o.changed?.(key);
      return view((await findPool(db, key)) as PoolRow);
    },
    async list(a) {
      requireAdmin(a, "listing warm pools");
      return Promise.all((await listPools(db, nameOrg(a))).map(view));
    },
    async remove(a, image, className = DEFAULT_CLASS) {
      requireAdmin(a, "removing warm pools");
      const key = { orgId: nameOrg(a), image, className };
      const p = await findPool(db, key);
      if (!p) return false;
      const removed = await deletePool(db, p.id);
      o.changed?.(key);
      return removed;
    },
  };
}
