// Tokens, users and organisations, and what a role lets a user do. The HTTP auth hook
// (http/auth.ts) authenticates every request into a Principal and passes it, as the actor
// (services/actor.ts), to every service call.
//
// Every check reads the store: a revoked or expired token fails on its very next call.
import { randomBytes } from "node:crypto";
import type {
  AddMemberRequest,
  CreatedToken,
  CreateTokenRequest,
  Member,
  TokenInfo,
  Whoami,
} from "@warren/protocol";
import { WarrenError } from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../store/migrations/005_identity.ts";
import * as q from "../store/queries/identity.ts";
import type { TokenKind } from "../store/schema-identity.ts";
import { type Principal, type RunnerActor, requireUser, type UserActor } from "./actor.ts";
import type { Revocation } from "./live-sessions.ts";
import {
  checkScopes,
  expiryFor,
  hashesEqual,
  hashToken,
  newTokenSecret,
  orgTokenMaxDays,
  scopesFromColumn,
  tokenShape,
} from "./tokens.ts";

/** A user acting (services/actor.ts); the name the identity code has always used. */
export type Caller = UserActor;
export type RunnerCaller = RunnerActor;
export type { Principal };

/** Root on the local socket acts as the bootstrap owner (migration 005). */
export const LOCAL_ROOT: Caller = Object.freeze({
  kind: "user",
  userId: BOOTSTRAP_OWNER_ID,
  orgId: BOOTSTRAP_ORG_ID,
  role: "owner",
  via: "local-socket",
}) as Caller;

export function isAdmin(c: Caller): boolean {
  return c.role === "owner" || c.role === "admin";
}

export function requireRole(c: Caller, role: "admin" | "owner", what: string): void {
  const ok = role === "owner" ? c.role === "owner" : isAdmin(c);
  if (!ok)
    throw new WarrenError(
      "FORBIDDEN",
      `${what} needs the ${role} role in this organisation; you are ${c.role}`,
    );
}

/**
 * For actions that change the whole server, not one organisation (rotating the encryption keys,
 * rebuilding the shared base image from another mirror): the role in the server's first
 * organisation, whose owner is root on the host. Owners of other organisations are tenants.
 */
export function requirePlatformRole(c: Caller, role: "admin" | "owner", what: string): void {
  if (c.orgId !== BOOTSTRAP_ORG_ID) {
    throw new WarrenError(
      "FORBIDDEN",
      `${what} affects every organisation on this server; only ${role}s of its first organisation may do it`,
    );
  }
  requireRole(c, role, what);
}

/**
 * A refused token. `reason`, and for a token the store knows its id and organisation, are for the
 * audit trail of failed authentications (http/auth-failures.ts); the client sees only the message.
 */
export class AuthenticationFailed extends WarrenError {
  readonly reason: string;
  readonly tokenId: string | undefined;
  readonly orgId: string | undefined;
  constructor(reason: string, tokenId?: string, orgId?: string) {
    super("UNAUTHENTICATED", `${reason}; create a token with \`warren admin token create\` on the host`);
    this.name = "AuthenticationFailed";
    this.reason = reason;
    this.tokenId = tokenId;
    this.orgId = orgId;
  }
}

const unauthenticated = (why: string, row?: { id: string; org_id: string }) =>
  new AuthenticationFailed(why, row?.id, row?.org_id);

export interface IdentityService {
  authenticate(token: string): Promise<Principal>;
  whoami(c: Caller): Promise<Whoami>;
  createToken(c: Caller, req: CreateTokenRequest): Promise<CreatedToken>;
  createRunnerToken(c: Caller, req: CreateTokenRequest): Promise<CreatedToken>;
  listTokens(c: Caller): Promise<TokenInfo[]>;
  revokeToken(c: Caller, id: string): Promise<void>;
  listMembers(c: Caller, org: string): Promise<Member[]>;
  addMember(c: Caller, org: string, req: AddMemberRequest): Promise<Member>;
  removeMember(c: Caller, org: string, user: string): Promise<void>;
}

export function createIdentityService(o: {
  db: Db;
  clock: Clock;
  env?: NodeJS.ProcessEnv;
  /**
   * Told, after the commit, of every credential that stopped being valid (tokens revoked,
   * lineage included; members removed), so the live sessions they authorised end
   * (services/live-sessions.ts revoke()).
   */
  onRevoked?: (r: Revocation) => void;
}): IdentityService {
  const { db, clock } = o;

  async function authenticate(token: string): Promise<Principal> {
    if (!tokenShape(token)) throw unauthenticated("the bearer token is not a Warren token");
    const hash = hashToken(token);
    const row = await q.getTokenByHash(db, hash);
    if (!row || !hashesEqual(row.hash, hash)) throw unauthenticated("the token is not known");
    if (row.revoked_at !== null) throw unauthenticated("the token was revoked", row);
    if (row.expires_at <= isoNow(clock)) throw unauthenticated(`the token expired at ${row.expires_at}`, row);
    if (row.kind === "runner") return { kind: "runner", orgId: row.org_id, tokenId: row.id };
    // The role is read now, not stored in the token, so a demotion takes effect at once.
    const role = row.user_id ? await q.getRole(db, row.org_id, row.user_id) : undefined;
    if (!row.user_id || !role)
      throw unauthenticated("the token's user is no longer in its organisation", row);
    const principal: Caller = {
      kind: "user",
      userId: row.user_id,
      orgId: row.org_id,
      role,
      via: "token",
      tokenId: row.id,
    };
    const scopes = scopesFromColumn(row.scopes);
    if (scopes.length > 0) principal.scopes = scopes;
    return principal;
  }

  async function mint(c: Caller, kind: TokenKind, req: CreateTokenRequest): Promise<CreatedToken> {
    const now = isoNow(clock);
    const maxDays = await orgTokenMaxDays(db, c.orgId, o.env);
    const parent = c.tokenId ? await q.getToken(db, c.tokenId) : undefined;
    const expiresAt = withinParent(expiryFor(new Date(clock.now()), req.expiresInDays, maxDays), req, parent);
    const scopes = checkScopes(req.scopes, kind, c.scopes ?? []);
    const token = newTokenSecret(kind);
    const id = `tok_${randomBytes(8).toString("hex")}`;
    await q.insertToken(db, {
      id,
      kind,
      name: req.name,
      hash: hashToken(token),
      org_id: c.orgId,
      user_id: kind === "user" ? c.userId : null,
      created_by: c.userId,
      created_at: now,
      expires_at: expiresAt,
      revoked_at: null,
      parent_id: parent?.id ?? null,
      scopes: scopes.join(" "),
    });
    // A revocation of the parent that ran while this was inserted may have missed the new row.
    if (parent && (await q.getToken(db, parent.id))?.revoked_at) {
      await q.revokeTokenTree(db, [id], isoNow(clock));
      throw unauthenticated("the token was revoked");
    }
    return { id, token, expiresAt };
  }

  async function orgFor(c: Caller, org: string): Promise<string> {
    const row = await q.getOrg(db, org);
    // Another organisation's name or id is "not found", never "forbidden".
    if (!row || row.id !== c.orgId)
      throw new WarrenError("NOT_FOUND", `organisation "${org}" does not exist`);
    return row.id;
  }

  return {
    authenticate,
    async whoami(actor) {
      const c = requireUser(actor, "whoami");
      const user = await q.getUser(db, c.userId);
      const org = await q.getOrg(db, c.orgId);
      const out: Whoami = {
        user: { id: c.userId, name: user?.name ?? c.userId },
        org: { id: c.orgId, name: org?.name ?? c.orgId },
        role: c.role,
        via: c.via,
      };
      if (c.tokenId) out.tokenId = c.tokenId;
      return out;
    },
    createToken: async (actor, req) => mint(requireUser(actor, "creating a token"), "user", req),
    async createRunnerToken(actor, req) {
      const c = requireUser(actor, "creating a runner token");
      requireRole(c, "admin", "creating a runner token");
      return mint(c, "runner", req);
    },
    async listTokens(actor) {
      const c = requireUser(actor, "listing tokens");
      const rows = await q.listTokens(db, { orgId: c.orgId, userId: c.userId, withRunner: isAdmin(c) });
      return rows.map((r) => {
        const t: TokenInfo = {
          id: r.id,
          kind: r.kind,
          name: r.name,
          createdAt: r.created_at,
          expiresAt: r.expires_at,
          scopes: scopesFromColumn(r.scopes),
        };
        if (r.revoked_at) t.revokedAt = r.revoked_at;
        return t;
      });
    },
    async revokeToken(actor, id) {
      const c = requireUser(actor, "revoking a token");
      const row = await q.getToken(db, id);
      // Members revoke their own tokens; admins any token of their organisation but an owner's.
      const visible = row && row.org_id === c.orgId && (row.user_id === c.userId || isAdmin(c));
      if (!row || !visible)
        throw new WarrenError("NOT_FOUND", `token "${id}" does not exist; see \`warren token ls\``);
      if (row.user_id && row.user_id !== c.userId && c.role !== "owner") {
        if ((await q.getRole(db, row.org_id, row.user_id)) === "owner") {
          throw new WarrenError(
            "FORBIDDEN",
            `token "${id}" belongs to an owner; only an owner may revoke it`,
          );
        }
      }
      // The tokens it created go with it: they drew their authority from it.
      const revoked = await db.transaction().execute((trx) => q.revokeTokenTree(trx, [id], isoNow(clock)));
      o.onRevoked?.({ tokenIds: revoked });
    },
    async listMembers(actor, org) {
      const c = requireUser(actor, "managing membership");
      const orgId = await orgFor(c, org);
      requireRole(c, "owner", "managing membership");
      return (await q.listMembers(db, orgId)).map((m) => ({ userId: m.user_id, name: m.name, role: m.role }));
    },
    async addMember(actor, org, req) {
      const c = requireUser(actor, "managing membership");
      const orgId = await orgFor(c, org);
      requireRole(c, "owner", "managing membership");
      const now = isoNow(clock);
      return db.transaction().execute(async (trx) => {
        let user = await q.getUserByName(trx, req.name);
        if (!user) {
          user = { id: `usr_${randomBytes(8).toString("hex")}`, name: req.name, created_at: now };
          await q.insertUser(trx, user);
        }
        if (req.role !== "owner" && (await q.getRole(trx, orgId, user.id)) === "owner") {
          await keepAnOwner(trx, orgId);
        }
        await q.upsertMembership(trx, { org_id: orgId, user_id: user.id, role: req.role, created_at: now });
        return { userId: user.id, name: user.name, role: req.role };
      });
    },
    async removeMember(actor, org, user) {
      const c = requireUser(actor, "managing membership");
      const orgId = await orgFor(c, org);
      requireRole(c, "owner", "managing membership");
      const gone = await db.transaction().execute(async (trx) => {
        const u = (await q.getUser(trx, user)) ?? (await q.getUserByName(trx, user));
        const role = u ? await q.getRole(trx, orgId, u.id) : undefined;
        if (!u || !role) throw new WarrenError("NOT_FOUND", `"${user}" is not a member of this organisation`);
        if (role === "owner") await keepAnOwner(trx, orgId);
        await q.deleteMembership(trx, orgId, u.id);
        // Revoked, not just unusable while they are out: adding them back must not revive them.
        const tokenIds = await q.revokeTokenTree(trx, await q.userTokenIds(trx, orgId, u.id), isoNow(clock));
        return { tokenIds, members: [{ orgId, userId: u.id }] };
      });
      o.onRevoked?.(gone);
    },
  };
}

/**
 * A token created with another token may not outlive it: without an explicit lifetime it ends
 * with its parent at the latest; an explicit one past the parent's expiry is refused.
 */
function withinParent(expiresAt: string, req: CreateTokenRequest, parent: q.TokenRow | undefined): string {
  if (!parent || expiresAt <= parent.expires_at) return expiresAt;
  if (req.expiresInDays === undefined) return parent.expires_at;
  throw new WarrenError(
    "INVALID_ARGUMENT",
    `a token cannot create a token that outlives it: the token you are using expires at ${parent.expires_at}; ask for fewer days, or omit expiresInDays to end with it`,
    { field: "expiresInDays", parentExpiresAt: parent.expires_at },
  );
}

/** An organisation must keep an owner, or nobody could manage its membership again. */
async function keepAnOwner(db: q.Db, orgId: string): Promise<void> {
  if ((await q.countOwners(db, orgId)) <= 1) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "an organisation needs at least one owner; add another owner first",
    );
  }
}
