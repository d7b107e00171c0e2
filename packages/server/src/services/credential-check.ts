// What the store says now about the credentials behind live sessions (services/live-sessions.ts):
// the same rules as authentication (services/identity.ts), read in batches so re-checking every
// open session costs a few queries, not one per session.
import type { Clock } from "../clock.ts";
import type { Queryable } from "../store/queries/envs.ts";
import { membersAmong, tokensById } from "../store/queries/session-credentials.ts";
import {
  type CredentialCheck,
  type CredentialVerdict,
  expiredEnd,
  memberRemovedEnd,
  revokedEnd,
  type SessionCredential,
} from "./live-sessions.ts";

export function storeCredentialCheck(db: Queryable, clock: Clock): CredentialCheck {
  return async (creds: SessionCredential[]): Promise<CredentialVerdict[]> => {
    const tokenIds = [...new Set(creds.flatMap((c) => (c.tokenId ? [c.tokenId] : [])))];
    const tokens = await tokensById(db, tokenIds);
    const usersByOrg = new Map<string, Set<string>>();
    for (const c of creds) {
      if (!c.userId) continue;
      const set = usersByOrg.get(c.orgId) ?? new Set();
      set.add(c.userId);
      usersByOrg.set(c.orgId, set);
    }
    const members = new Map<string, Set<string>>();
    for (const [orgId, users] of usersByOrg) members.set(orgId, await membersAmong(db, orgId, [...users]));
    const now = clock.now();
    return creds.map((c): CredentialVerdict => {
      let expiresAt: number | undefined;
      if (c.tokenId) {
        const t = tokens.get(c.tokenId);
        // A token that is gone, or no longer the one the session was opened with, counts as revoked.
        const same = t && t.org_id === c.orgId && (t.user_id ?? undefined) === c.userId;
        if (!t || !same || t.revoked_at !== null) return { ok: false, end: revokedEnd(c.tokenId) };
        expiresAt = Date.parse(t.expires_at);
        if (!(expiresAt > now)) return { ok: false, end: expiredEnd(c.tokenId, expiresAt) };
      }
      if (c.userId && !members.get(c.orgId)?.has(c.userId))
        return { ok: false, end: memberRemovedEnd(c.orgId) };
      return expiresAt === undefined ? { ok: true } : { ok: true, expiresAt };
    });
  };
}
