// Named queries on oidc_identities, oidc_flows and device_codes (migration 011). Every "take" is
// one DELETE ... RETURNING (SQLite and PostgreSQL both have it), so when two replicas race for
// the same state or device code, the database hands the row to exactly one of them.
import type { Insertable, Selectable } from "kysely";
import type { DeviceCodesTable, OidcFlowsTable, OidcIdentitiesTable } from "../schema-oidc.ts";
import type { Queryable } from "./envs.ts";

export type OidcIdentityRow = Selectable<OidcIdentitiesTable>;
export type OidcFlowRow = Selectable<OidcFlowsTable>;
export type DeviceCodeRow = Selectable<DeviceCodesTable>;

export function getIdentity(
  db: Queryable,
  issuer: string,
  subject: string,
): Promise<OidcIdentityRow | undefined> {
  return db
    .selectFrom("oidc_identities")
    .selectAll()
    .where("issuer", "=", issuer)
    .where("subject", "=", subject)
    .executeTakeFirst();
}

export async function insertIdentity(db: Queryable, row: OidcIdentityRow): Promise<void> {
  await db.insertInto("oidc_identities").values(row).execute();
}

/** Records a sign-in: the email as the provider now states it, and when. */
export async function touchIdentity(
  db: Queryable,
  issuer: string,
  subject: string,
  email: string | null,
  now: string,
): Promise<void> {
  await db
    .updateTable("oidc_identities")
    .set({ email, last_sign_in_at: now })
    .where("issuer", "=", issuer)
    .where("subject", "=", subject)
    .execute();
}

/** Whether some user other than `userId` is called `name` (users.name is unique). */
export async function nameTakenByOther(db: Queryable, name: string, userId: string): Promise<boolean> {
  const r = await db
    .selectFrom("users")
    .select("id")
    .where("name", "=", name)
    .where("id", "!=", userId)
    .executeTakeFirst();
  return r !== undefined;
}

export async function setUserName(db: Queryable, userId: string, name: string): Promise<void> {
  await db.updateTable("users").set({ name }).where("id", "=", userId).execute();
}

export async function insertFlow(db: Queryable, row: Insertable<OidcFlowsTable>): Promise<void> {
  await db.insertInto("oidc_flows").values(row).execute();
}

/**
 * Removes and returns the flow, expired or not, when the browser's binding matches; only one
 * caller ever gets it. A wrong binding leaves the flow for the browser that started it.
 */
export function takeFlow(
  db: Queryable,
  stateHash: string,
  browserHash: string,
): Promise<OidcFlowRow | undefined> {
  return db
    .deleteFrom("oidc_flows")
    .where("state_hash", "=", stateHash)
    .where("browser_hash", "=", browserHash)
    .returningAll()
    .executeTakeFirst();
}

export async function flowExists(db: Queryable, stateHash: string): Promise<boolean> {
  const r = await db
    .selectFrom("oidc_flows")
    .select("state_hash")
    .where("state_hash", "=", stateHash)
    .executeTakeFirst();
  return r !== undefined;
}

/** Inserts a device code; false when its code or user code is already taken. */
export async function insertDeviceCode(db: Queryable, row: Insertable<DeviceCodesTable>): Promise<boolean> {
  const r = await db
    .insertInto("device_codes")
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

export function getDeviceCode(db: Queryable, codeHash: string): Promise<DeviceCodeRow | undefined> {
  return db.selectFrom("device_codes").selectAll().where("code_hash", "=", codeHash).executeTakeFirst();
}

export function getDeviceCodeByUserCode(db: Queryable, userCode: string): Promise<DeviceCodeRow | undefined> {
  return db.selectFrom("device_codes").selectAll().where("user_code", "=", userCode).executeTakeFirst();
}

/** Marks a live, not yet approved device code as approved by a user; false if there is none. */
export async function approveDeviceCode(
  db: Queryable,
  a: { userCode: string; userId: string; orgId: string; now: string },
): Promise<boolean> {
  const r = await db
    .updateTable("device_codes")
    .set({ approved_user_id: a.userId, approved_org_id: a.orgId })
    .where("user_code", "=", a.userCode)
    .where("approved_user_id", "is", null)
    .where("expires_at", ">", a.now)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** Removes and returns an approved device code; only one poll ever gets it. */
export function takeApprovedDeviceCode(db: Queryable, codeHash: string): Promise<DeviceCodeRow | undefined> {
  return db
    .deleteFrom("device_codes")
    .where("code_hash", "=", codeHash)
    .where("approved_user_id", "is not", null)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteDeviceCode(db: Queryable, codeHash: string): Promise<void> {
  await db.deleteFrom("device_codes").where("code_hash", "=", codeHash).execute();
}

export async function recordPoll(
  db: Queryable,
  codeHash: string,
  p: { lastPollAt: string; intervalS: number },
): Promise<void> {
  await db
    .updateTable("device_codes")
    .set({ last_poll_at: p.lastPollAt, interval_s: p.intervalS })
    .where("code_hash", "=", codeHash)
    .execute();
}

/** Deletes sign-ins in progress that expired at or before `now`. Returns how many went. */
export async function sweepOidcPending(db: Queryable, now: string): Promise<number> {
  const flows = await db.deleteFrom("oidc_flows").where("expires_at", "<=", now).executeTakeFirst();
  const codes = await db.deleteFrom("device_codes").where("expires_at", "<=", now).executeTakeFirst();
  return Number(flows.numDeletedRows) + Number(codes.numDeletedRows);
}
