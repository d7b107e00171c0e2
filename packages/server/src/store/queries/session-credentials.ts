// Batched reads of the credentials behind live sessions (services/credential-check.ts): one
// query per chunk of tokens and one per chunk of members, however many sessions are open.
import type { Queryable } from "./envs.ts";

/** Chunks keep every statement under both databases' limits on bound parameters. */
const CHUNK = 500;

export interface SessionTokenRow {
  id: string;
  kind: "user" | "runner";
  org_id: string;
  user_id: string | null;
  expires_at: string;
  revoked_at: string | null;
}

export async function tokensById(
  db: Queryable,
  ids: readonly string[],
): Promise<Map<string, SessionTokenRow>> {
  const out = new Map<string, SessionTokenRow>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await db
      .selectFrom("api_tokens")
      .select(["id", "kind", "org_id", "user_id", "expires_at", "revoked_at"])
      .where("id", "in", ids.slice(i, i + CHUNK))
      .execute();
    for (const r of rows) out.set(r.id, r);
  }
  return out;
}

/** Which of these users are members of `orgId` now. */
export async function membersAmong(
  db: Queryable,
  orgId: string,
  userIds: readonly string[],
): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < userIds.length; i += CHUNK) {
    const rows = await db
      .selectFrom("memberships")
      .select("user_id")
      .where("org_id", "=", orgId)
      .where("user_id", "in", userIds.slice(i, i + CHUNK))
      .execute();
    for (const r of rows) out.add(r.user_id);
  }
  return out;
}
