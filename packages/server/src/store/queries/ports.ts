// Port visibility (migration 022) and the organisation's public-ports policy. A port without a row
// is private; an organisation without a policy denies public ports.
import type { Selectable } from "kysely";
import type { EnvPortsTable } from "../schema-ports.ts";
import type { Queryable } from "./envs.ts";

export type EnvPortRow = Selectable<EnvPortsTable>;

export function listEnvPortRows(db: Queryable, envId: string): Promise<EnvPortRow[]> {
  return db.selectFrom("env_ports").selectAll().where("env_id", "=", envId).orderBy("port").execute();
}

export function getEnvPortRow(db: Queryable, envId: string, port: number): Promise<EnvPortRow | undefined> {
  return db
    .selectFrom("env_ports")
    .selectAll()
    .where("env_id", "=", envId)
    .where("port", "=", port)
    .executeTakeFirst();
}

export async function upsertEnvPortRow(db: Queryable, row: EnvPortRow): Promise<void> {
  const { env_id: _e, port: _p, ...rest } = row;
  await db
    .insertInto("env_ports")
    .values(row)
    .onConflict((oc) => oc.columns(["env_id", "port"]).doUpdateSet(rest))
    .execute();
}

/** The organisation's stored policy; null when none was set (deny). */
export async function getPublicPortsPolicy(db: Queryable, orgId: string): Promise<"allow" | "deny" | null> {
  const row = await db
    .selectFrom("org_quotas")
    .select("public_ports")
    .where("org_id", "=", orgId)
    .executeTakeFirst();
  return row?.public_ports ?? null;
}
