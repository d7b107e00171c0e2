// Which Warren user an OIDC sign-in is. An identity provider names an account by (issuer, `sub`),
// and that pair is the only thing matched: the email is a display attribute, re-read on every
// sign-in, because providers let people change it and re-assign old addresses to new people.
//
// Decision: a new (issuer, sub) is never linked to an existing Warren user whose name equals its
// email. Doing so would let whoever holds an address at the provider today (a re-assigned
// mailbox, a second provider, an unverified claim) take over the account, tokens and roles of the
// person who held it before. A new (issuer, sub) always makes a new user; an owner who wants that
// person to have someone else's roles grants them by hand (`warren member add`). Users added by
// name before their first sign-in are therefore not the same user as their first OIDC sign-in;
// give such people their role through WARREN_OIDC_MAPPING instead.
//
// users.name is unique and is how owners refer to people, so the email becomes the name only
// while no other user holds it, and only a verified one (an unverified email proves nothing);
// otherwise the name is the email plus a short digest of (issuer, sub), stable across sign-ins.
import { createHash, randomBytes } from "node:crypto";
import type { Role } from "@warren/protocol";
import * as q from "../store/queries/identity.ts";
import * as qo from "../store/queries/oidc.ts";
import { hashToken, newTokenSecret } from "./tokens.ts";

const ROLE_RANK: Record<Role, number> = { member: 1, admin: 2, owner: 3 };
const NAME_MAX = 200; // users.name check in migration 005

export interface LinkedUser {
  userId: string;
  name: string;
  orgId: string;
  orgName: string;
  role: Role;
}

/** The strongest role per organisation; map order keeps the first matched rule's organisation first. */
export function rolesPerOrg(rules: { org: string; role: Role }[]): Map<string, Role> {
  const perOrg = new Map<string, Role>();
  for (const r of rules) {
    const prev = perOrg.get(r.org);
    if (!prev || ROLE_RANK[r.role] > ROLE_RANK[prev]) perOrg.set(r.org, r.role);
  }
  return perOrg;
}

/** The email the claims vouch for: undefined unless `email_verified` is the boolean true. */
export function verifiedEmail(claims: Record<string, unknown>): string | undefined {
  const email = claims["email"];
  return typeof email === "string" && email !== "" && claims["email_verified"] === true ? email : undefined;
}

/** What to call the person: their verified email, else their username at the provider, else the subject. */
export function displayName(claims: Record<string, unknown>): string {
  const username = claims["preferred_username"];
  const base =
    verifiedEmail(claims) ??
    (typeof username === "string" && username !== "" ? username : `oidc:${String(claims["sub"])}`);
  return base.slice(0, NAME_MAX);
}

/** Names to try, best first; the second is stable for this identity, so it does not churn. */
function candidateNames(base: string, issuer: string, subject: string): string[] {
  const tag = createHash("sha256").update(`${issuer}\n${subject}`).digest("hex").slice(0, 8);
  return [base, `${base.slice(0, NAME_MAX - 11)} (${tag})`];
}

/**
 * Finds the user linked to (issuer, subject), or creates both on a first sign-in, refreshes the
 * email and name, and grants the mapped roles. Undefined when none of the mapped organisations
 * exists. Run inside a transaction.
 */
export async function linkUser(
  trx: q.Db,
  o: {
    issuer: string;
    claims: Record<string, unknown>;
    perOrg: Map<string, Role>;
    now: string;
  },
): Promise<LinkedUser | undefined> {
  const subject = String(o.claims["sub"]);
  const email = typeof o.claims["email"] === "string" ? o.claims["email"] : null;
  const names = candidateNames(displayName(o.claims), o.issuer, subject);
  const identity = await qo.getIdentity(trx, o.issuer, subject);
  let user = identity ? await q.getUser(trx, identity.user_id) : undefined;
  if (!user) {
    const id = `usr_${randomBytes(8).toString("hex")}`;
    let name: string | undefined;
    for (const n of [...names, `${names[0]!.slice(0, NAME_MAX - 23)} (${id})`]) {
      if (!(await qo.nameTakenByOther(trx, n, id))) {
        name = n;
        break;
      }
    }
    user = { id, name: name ?? id, created_at: o.now };
    await q.insertUser(trx, user);
    await qo.insertIdentity(trx, {
      issuer: o.issuer,
      subject,
      user_id: id,
      email,
      created_at: o.now,
      last_sign_in_at: o.now,
    });
  } else {
    await qo.touchIdentity(trx, o.issuer, subject, email, o.now);
    if (user.name !== names[0]) {
      for (const n of names) {
        if (n === user.name) break; // already the best name still free
        if (!(await qo.nameTakenByOther(trx, n, user.id))) {
          await qo.setUserName(trx, user.id, n);
          user = { ...user, name: n };
          break;
        }
      }
    }
  }
  let first: LinkedUser | undefined;
  for (const [orgRef, mapped] of o.perOrg) {
    const org = await q.getOrg(trx, orgRef);
    if (!org) continue;
    const existing = await q.getRole(trx, org.id, user.id);
    // Sign-in grants, never demotes: an owner made by hand stays owner.
    const role = existing && ROLE_RANK[existing] >= ROLE_RANK[mapped] ? existing : mapped;
    if (role !== existing)
      await q.upsertMembership(trx, { org_id: org.id, user_id: user.id, role, created_at: o.now });
    first ??= { userId: user.id, name: user.name, orgId: org.id, orgName: org.name, role };
  }
  return first;
}

/** Mints a personal Warren token for the user in the organisation; returns the secret, shown once. */
export async function mintToken(
  trx: q.Db,
  o: { userId: string; orgId: string; now: string; expiresAt: string },
): Promise<string> {
  const token = newTokenSecret("user");
  await q.insertToken(trx, {
    id: `tok_${randomBytes(8).toString("hex")}`,
    kind: "user",
    name: "oidc sign-in",
    hash: hashToken(token),
    org_id: o.orgId,
    user_id: o.userId,
    created_by: o.userId,
    created_at: o.now,
    expires_at: o.expiresAt,
    revoked_at: null,
  });
  return token;
}
