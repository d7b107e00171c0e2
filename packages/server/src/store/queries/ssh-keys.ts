// Users' SSH public keys (migration 021). Every read names the organisation or the user, so no
// query can return another organisation's key by accident.
import type { Selectable } from "kysely";
import type { SshKeysTable } from "../schema-ssh-keys.ts";
import type { Queryable } from "./envs.ts";

export type SshKeyRow = Selectable<SshKeysTable>;

export function listUserSshKeys(db: Queryable, orgId: string, userId: string): Promise<SshKeyRow[]> {
  return db
    .selectFrom("ssh_keys")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
}

export function listOrgSshKeys(db: Queryable, orgId: string): Promise<SshKeyRow[]> {
  return db
    .selectFrom("ssh_keys")
    .selectAll()
    .where("org_id", "=", orgId)
    .orderBy("user_id")
    .orderBy("created_at")
    .orderBy("id")
    .execute();
}

export function getSshKey(db: Queryable, orgId: string, id: string): Promise<SshKeyRow | undefined> {
  return db
    .selectFrom("ssh_keys")
    .selectAll()
    .where("org_id", "=", orgId)
    .where("id", "=", id)
    .executeTakeFirst();
}

/** Every registration of a key, in any organisation: what the gateway matches a login against. */
export function sshKeysByFingerprint(db: Queryable, fingerprint: string): Promise<SshKeyRow[]> {
  return db.selectFrom("ssh_keys").selectAll().where("fingerprint", "=", fingerprint).orderBy("id").execute();
}

/** False when the user already registered a key of that fingerprint (nothing written). */
export async function insertSshKey(db: Queryable, row: SshKeyRow): Promise<boolean> {
  const r = await db
    .insertInto("ssh_keys")
    .values(row)
    .onConflict((oc) => oc.columns(["user_id", "fingerprint"]).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
}

export async function deleteSshKey(db: Queryable, orgId: string, id: string): Promise<boolean> {
  const r = await db
    .deleteFrom("ssh_keys")
    .where("org_id", "=", orgId)
    .where("id", "=", id)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
