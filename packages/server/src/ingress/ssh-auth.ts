// Authentication of SSH logins: public keys only, against the keys users registered with
// `warren ssh-key add`. The username names the environment: `ENV`, or `ENV.ORG` when the name alone
// is ambiguous. Access follows exec's rules (services/scope.ts): the owner, and admins of the
// environment's organisation.
//
// Every refusal looks the same to the client ("Permission denied (publickey)"): an unknown key, an
// unknown environment, one the key's user may not see, one in an organisation they are not in, a
// malformed username, a name that matches in several of their organisations. The log and the audit
// trail say which.
//
// A key query without a signature (the client asking "would this key do?") is answered from the
// key alone, never from the environment: anyone may hold someone's public key, and the answer must
// not tell them which environments exist.
import { NAME_RE, WarrenError } from "@warren/protocol";
import ssh2, { type AuthContext } from "ssh2";
import type { Logger } from "../logger.ts";
import { system, type UserActor } from "../services/actor.ts";
import type { AuditService } from "../services/audit.ts";
import type { EnvironmentService } from "../services/environments.ts";
import { ownershipOf } from "../services/scope.ts";
import { fingerprintOf } from "../services/ssh-key-parse.ts";
import type { SshLoginCandidate, SshLoginService } from "../services/ssh-logins.ts";
import { BOOTSTRAP_ORG_ID } from "../store/migrations/005_identity.ts";

export const SSH_LOGIN_ACTION = "ssh.login";
/** Denied logins recorded per source address and minute; the rest are only logged. */
const AUDITED_DENIALS_PER_MINUTE = 10;
const MAX_ORG_NAME = 100;

export interface SshLogin {
  keyId: string;
  fingerprint: string;
  actor: UserActor;
  env: { id: string; name: string; orgId: string };
}

export type SshAuthDecision =
  | { kind: "accept"; login: SshLogin }
  /** A key query without a signature that the key may go on with: PK_OK. */
  | { kind: "key-ok" }
  /** `counts`: a real attempt (OpenSSH's MaxAuthTries counts those, not the "none" probe). */
  | { kind: "reject"; counts: boolean };

export interface SshAuthDeps {
  logins: SshLoginService;
  envs: Pick<EnvironmentService, "find">;
  audit?: AuditService | undefined;
  logger: Logger;
}

/** `ENV` or `ENV.ORG`; undefined for anything else. */
export function parseSshUser(username: string): { env: string; org?: string } | undefined {
  const dot = username.indexOf(".");
  const env = dot < 0 ? username : username.slice(0, dot);
  if (!NAME_RE.test(env)) return undefined;
  if (dot < 0) return { env };
  const org = username.slice(dot + 1);
  if (org.length === 0 || org.length > MAX_ORG_NAME || /[\u0000-\u0020\u007f-\u009f]/.test(org))
    return undefined;
  return { env, org };
}

const GATEWAY = system("ssh-gateway");

export function createSshAuthenticator(d: SshAuthDeps) {
  const denials = new Map<string, { minute: number; n: number }>();

  const audit = (
    source: string,
    result: "ok" | "denied",
    orgId: string,
    actor: string,
    target: string,
    code?: string,
  ) => {
    if (!d.audit) return;
    if (result === "denied") {
      const minute = Math.floor(Date.now() / 60_000);
      const seen = denials.get(source);
      const entry = seen && seen.minute === minute ? seen : { minute, n: 0 };
      entry.n++;
      denials.set(source, entry);
      if (denials.size > 10_000) denials.clear(); // bounded; a flood only loses audit records
      if (entry.n > AUDITED_DENIALS_PER_MINUTE) return;
    }
    d.audit
      .record({ orgId, actor, action: SSH_LOGIN_ACTION, target, sourceAddress: source, result, code })
      .catch((err: unknown) => d.logger.warn({ err }, "could not record an SSH login in the audit trail"));
  };

  /** The candidate actors that can see the environment (each lookup fails closed). */
  async function visibleIn(cands: SshLoginCandidate[], env: string): Promise<SshLogin[]> {
    const hits: SshLogin[] = [];
    for (const c of cands) {
      try {
        const row = await d.envs.find(c.actor, env);
        hits.push({
          keyId: c.keyId,
          fingerprint: "",
          actor: c.actor,
          env: { id: row.id, name: row.name, orgId: ownershipOf(row).org_id },
        });
      } catch (err) {
        if (!(err instanceof WarrenError && err.code === "ENV_NOT_FOUND"))
          d.logger.warn({ err, env, orgId: c.actor.orgId }, "SSH login: looking up the environment failed");
      }
    }
    return hits;
  }

  async function decide(ctx: AuthContext, source: string): Promise<SshAuthDecision> {
    if (ctx.method !== "publickey") return { kind: "reject", counts: ctx.method !== "none" };
    const who = parseSshUser(ctx.username);
    const fingerprint = fingerprintOf(ctx.key.data);
    const log = { user: ctx.username.slice(0, 200), fingerprint, source };
    if (!who) {
      d.logger.info(log, "SSH login refused: the username is not ENV or ENV.ORG");
      if (ctx.signature)
        audit(source, "denied", BOOTSTRAP_ORG_ID, "anonymous", ctx.username, "INVALID_ARGUMENT");
      return { kind: "reject", counts: true };
    }
    let cands = (await d.logins.candidates(GATEWAY, fingerprint)).filter((c) => sameKey(c, ctx.key.data));
    if (who.org !== undefined)
      cands = cands.filter((c) => c.orgName === who.org || c.actor.orgId === who.org);
    if (cands.length === 0) {
      d.logger.info(log, "SSH login refused: no member of that organisation registered this key");
      if (ctx.signature)
        audit(source, "denied", BOOTSTRAP_ORG_ID, "anonymous", ctx.username, "UNAUTHENTICATED");
      return { kind: "reject", counts: true };
    }
    if (!ctx.signature || !ctx.blob) return { kind: "key-ok" };
    const first = cands[0] as SshLoginCandidate;
    if (!verifies(first, ctx)) {
      d.logger.info(log, "SSH login refused: the signature does not verify");
      audit(source, "denied", first.actor.orgId, first.actor.userId, ctx.username, "UNAUTHENTICATED");
      return { kind: "reject", counts: true };
    }
    const hits = await visibleIn(cands, who.env);
    if (hits.length !== 1) {
      const ambiguous = hits.length > 1;
      d.logger.info(
        { ...log, orgs: ambiguous ? cands.map((c) => c.orgName) : undefined },
        ambiguous
          ? `SSH login refused: "${who.env}" names an environment in more than one of the user's organisations; connect as ${who.env}.ORG`
          : "SSH login refused: no such environment that this user may reach",
      );
      audit(source, "denied", first.actor.orgId, first.actor.userId, ctx.username, "ENV_NOT_FOUND");
      return { kind: "reject", counts: true };
    }
    const login = { ...(hits[0] as SshLogin), fingerprint };
    audit(source, "ok", login.env.orgId, login.actor.userId, login.env.name);
    return { kind: "accept", login };
  }

  return { decide };
}

function sameKey(c: SshLoginCandidate, blob: Buffer): boolean {
  const parsed = ssh2.utils.parseKey(c.publicKey);
  return !(parsed instanceof Error) && parsed.getPublicSSH().equals(blob);
}

function verifies(c: SshLoginCandidate, ctx: AuthContext & { method: "publickey" }): boolean {
  const parsed = ssh2.utils.parseKey(c.publicKey);
  if (parsed instanceof Error || !ctx.signature || !ctx.blob) return false;
  try {
    return parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
  } catch {
    return false;
  }
}
