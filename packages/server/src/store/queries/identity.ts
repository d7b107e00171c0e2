// Named, typed queries on orgs, users, memberships and api_tokens (migration 005).
import type { Insertable, Selectable } from "kysely";
import type { ApiTokensTable, Role } from "../schema-identity.ts";
import type { Queryable } from "./envs.ts";

export type Db = Queryable;

export type TokenRow = Selectable<ApiTokensTable>;

export interface MemberRow {
  user_id: string;
  name: string;
  role: Role;
}

export function getOrg(db: Queryable, idOrName: string) {
  return db
    .selectFrom("orgs")
    .selectAll()
    .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
    .executeTakeFirst();
}

export function getUser(db: Queryable, id: string) {
  return db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
}

export function getUserByName(db: Queryable, name: string) {
  return db.selectFrom("users").selectAll().where("name", "=", name).executeTakeFirst();
}

export async function insertUser(db: Queryable, row: { id: string; name: string; created_at: string }) {
  await db.insertInto("users").values(row).execute();
}

export async function getRole(db: Queryable, orgId: string, userId: string): Promise<Role | undefined> {
  const r = await db
    .selectFrom("memberships")
    .select("role")
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return r?.role;
}

/** A user's first membership; until sign-in picks an organisation, a user acts in one. */
export function firstMembership(db: Queryable, userId: string) {
  return db
    .selectFrom("memberships")
    .select(["org_id", "role"])
    .where("user_id", "=", userId)
    .orderBy("created_at")
    .orderBy("org_id")
    .executeTakeFirst();
}

export function listMembers(db: Queryable, orgId: string): Promise<MemberRow[]> {
  return db
    .selectFrom("memberships")
    .innerJoin("users", "users.id", "memberships.user_id")
    .select(["memberships.user_id as user_id", "users.name as name", "memberships.role as role"])
    .where("memberships.org_id", "=", orgId)
    .orderBy("users.name")
    .execute();
}

export async function upsertMembership(
  db: Queryable,
  row: { org_id: string; user_id: string; role: Role; created_at: string },
): Promise<void> {
  await db
    .insertInto("memberships")
    .values(row)
    .onConflict((oc) => oc.columns(["org_id", "user_id"]).doUpdateSet({ role: row.role }))
    .execute();
}

export async function deleteMembership(db: Queryable, orgId: string, userId: string): Promise<boolean> {
  const r = await db
    .deleteFrom("memberships")
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return r.numDeletedRows > 0n;
}

export async function countOwners(db: Queryable, orgId: string): Promise<number> {
  const r = await db
    .selectFrom("memberships")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("org_id", "=", orgId)
    .where("role", "=", "owner")
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function insertToken(db: Queryable, row: Insertable<ApiTokensTable>): Promise<void> {
  await db.insertInto("api_tokens").values(row).execute();
}

export function getTokenByHash(db: Queryable, hash: string): Promise<TokenRow | undefined> {
  return db.selectFrom("api_tokens").selectAll().where("hash", "=", hash).executeTakeFirst();
}

export function getToken(db: Queryable, id: string): Promise<TokenRow | undefined> {
  return db.selectFrom("api_tokens").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Tokens the user made for itself, plus (for admins) the organisation's runner tokens. */
export function listTokens(
  db: Queryable,
  q: { orgId: string; userId: string; withRunner: boolean },
): Promise<TokenRow[]> {
  return db
    .selectFrom("api_tokens")
    .selectAll()
    .where("org_id", "=", q.orgId)
    .where((eb) =>
      q.withRunner
        ? eb.or([eb("user_id", "=", q.userId), eb("kind", "=", "runner")])
        : eb("user_id", "=", q.userId),
    )
    .orderBy("created_at")
    .orderBy("id")
    .execute();
}

export async function revokeToken(db: Queryable, id: string, now: string): Promise<void> {
  await db
    .updateTable("api_tokens")
    .set({ revoked_at: now })
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .execute();
}

/**
 * Revokes the given tokens and every token created with one of them, however deep (migration
 * 018's parent_id). Returns the ids newly revoked. Run it in a transaction.
 */
export async function revokeTokenTree(
  db: Queryable,
  roots: readonly string[],
  now: string,
): Promise<string[]> {
  const seen = new Set<string>(roots);
  let frontier = [...roots];
  while (frontier.length > 0) {
    const children = await db
      .selectFrom("api_tokens")
      .select("id")
      .where("parent_id", "in", frontier)
      .execute();
    frontier = children.map((c) => c.id).filter((id) => !seen.has(id));
    for (const id of frontier) seen.add(id);
  }
  const ids = [...seen];
  const revoked: string[] = [];
  // Chunks keep every statement under both databases' limits on bound parameters.
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .updateTable("api_tokens")
      .set({ revoked_at: now })
      .where("id", "in", ids.slice(i, i + 500))
      .where("revoked_at", "is", null)
      .returning("id")
      .execute();
    revoked.push(...rows.map((r) => r.id));
  }
  return revoked;
}

/** The ids of a user's tokens in an organisation (revoked or not). */
export async function userTokenIds(db: Queryable, orgId: string, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom("api_tokens")
    .select("id")
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .execute();
  return rows.map((r) => r.id);
}
