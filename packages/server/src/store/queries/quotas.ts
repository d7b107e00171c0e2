// Named queries on org_quotas (migration 007) and the usage sums quotas are checked against.
import type { Selectable } from "kysely";
import { POOL_OWNER_ID } from "../migrations/035_warm_pools.ts";
import type { OrgQuotasTable } from "../schema-audit.ts";
import type { Queryable } from "./envs.ts";

export type QuotaRow = Selectable<OrgQuotasTable>;

/**
 * An organisation's quotas until an admin sets them (a missing row means these): no limit on cpus,
 * memory, disk or running environments per user, so a new organisation is bounded by its own
 * runner's capacity alone (slots and reserved disk are counted per runner, and each organisation
 * has its own); token lifetimes follow the server's maximum (WARREN_TOKEN_MAX_DAYS, default 30).
 * Where organisations share one runner (`warren daemon --listen`), set quotas to share it.
 * The README states this default.
 */
export const DEFAULT_QUOTAS: Readonly<Omit<QuotaRow, "org_id" | "updated_at">> = Object.freeze({
  cpus: null,
  memory_bytes: null,
  disk_bytes: null,
  user_max_running: null,
  token_max_days: null,
  max_idle_timeout_s: null,
  public_ports: null,
});

/** The organisation's own row; undefined means DEFAULT_QUOTAS. */
export function getQuotaRow(db: Queryable, orgId: string): Promise<QuotaRow | undefined> {
  return db.selectFrom("org_quotas").selectAll().where("org_id", "=", orgId).executeTakeFirst();
}

export async function upsertQuotaRow(db: Queryable, row: QuotaRow): Promise<void> {
  const { org_id: _id, ...rest } = row;
  await db
    .insertInto("org_quotas")
    .values(row)
    .onConflict((oc) => oc.column("org_id").doUpdateSet(rest))
    .execute();
}

export interface OrgUsage {
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
}

/** Sums over the organisation's environments that are not (being) deleted, optionally but one. */
export async function orgUsage(db: Queryable, orgId: string, exceptId?: string): Promise<OrgUsage> {
  let q = db
    .selectFrom("environments")
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number>("cpus"), eb.lit(0)).as("cpus"),
      eb.fn.coalesce(eb.fn.sum<number>("memory_bytes"), eb.lit(0)).as("memory"),
      eb.fn.coalesce(eb.fn.sum<number>("disk_bytes"), eb.lit(0)).as("disk"),
    ])
    .where("org_id", "=", orgId)
    .where("desired", "!=", "deleted")
    // Unclaimed warm-pool members (services/pool-owner.ts) count on their runner, not the org's quota.
    .where("owner_id", "!=", POOL_OWNER_ID);
  if (exceptId !== undefined) q = q.where("id", "!=", exceptId);
  const r = await q.executeTakeFirstOrThrow();
  return { cpus: Number(r.cpus), memoryBytes: Number(r.memory), diskBytes: Number(r.disk) };
}

/** Environments a user owns in an organisation that are meant to run. */
export async function countRunning(db: Queryable, orgId: string, ownerId: string): Promise<number> {
  const r = await db
    .selectFrom("environments")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("org_id", "=", orgId)
    .where("owner_id", "=", ownerId)
    .where("desired", "=", "running")
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
