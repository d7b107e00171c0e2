import type { Selectable } from "kysely";
import type { RegistryCredentialsTable } from "../schema.ts";
import type { Queryable } from "./envs.ts";

export type RegistryCredentialRow = Selectable<RegistryCredentialsTable>;

export function listRegistryCredentials(db: Queryable): Promise<RegistryCredentialRow[]> {
  return db.selectFrom("registry_credentials").selectAll().orderBy("host").execute();
}

export function getRegistryCredential(
  db: Queryable,
  host: string,
): Promise<RegistryCredentialRow | undefined> {
  return db.selectFrom("registry_credentials").selectAll().where("host", "=", host).executeTakeFirst();
}

export async function upsertRegistryCredential(db: Queryable, row: RegistryCredentialRow): Promise<void> {
  await db
    .insertInto("registry_credentials")
    .values(row)
    .onConflict((oc) =>
      oc
        .column("host")
        .doUpdateSet({ username: row.username, secret: row.secret, updated_at: row.updated_at }),
    )
    .execute();
}

export async function deleteRegistryCredential(db: Queryable, host: string): Promise<boolean> {
  const res = await db.deleteFrom("registry_credentials").where("host", "=", host).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}
