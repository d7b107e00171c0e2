import type { Selectable } from "kysely";
import type { RegistryCredentialsTable } from "../schema.ts";
import type { Queryable } from "./envs.ts";

// Every query names the organisation: a login is (org_id, host), never a host alone (migration 010).
export type RegistryCredentialRow = Selectable<RegistryCredentialsTable>;

export function listRegistryCredentials(db: Queryable, orgId: string): Promise<RegistryCredentialRow[]> {
  return db
    .selectFrom("registry_credentials")
    .selectAll()
    .where("org_id", "=", orgId)
    .orderBy("host")
    .execute();
}

export function getRegistryCredential(
  db: Queryable,
  orgId: string,
  host: string,
): Promise<RegistryCredentialRow | undefined> {
  return db
    .selectFrom("registry_credentials")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("host", "=", host)
    .executeTakeFirst();
}

export async function upsertRegistryCredential(db: Queryable, row: RegistryCredentialRow): Promise<void> {
  await db
    .insertInto("registry_credentials")
    .values(row)
    .onConflict((oc) =>
      oc
        .columns(["org_id", "host"])
        .doUpdateSet({ username: row.username, secret: row.secret, updated_at: row.updated_at }),
    )
    .execute();
}

export async function deleteRegistryCredential(db: Queryable, orgId: string, host: string): Promise<boolean> {
  const res = await db
    .deleteFrom("registry_credentials")
    .where("org_id", "=", orgId)
    .where("host", "=", host)
    .executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}
