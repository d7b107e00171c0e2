// Sign-in through the company's identity provider. Warren is the OIDC client: authorization code
// flow with PKCE (S256), state and nonce. The ID token is verified here (signature against the
// provider's JWKS, iss, aud, azp, exp, nonce) with node:crypto, then its claims (merged with the
// userinfo endpoint's, same `sub`) map to an organisation and a role (WARREN_OIDC_MAPPING). The
// caller gets a Warren token (wrn_...): the provider's own tokens are used once, to read claims,
// and never stored, returned, or accepted as Warren tokens (identity.authenticate only knows wrn_).
//
// Warren's own device-code flow serves headless terminals: POST /auth/device makes a device code
// and a short user code; the person opens the verification page on any browser, types the code,
// and signs in through the same browser flow; the terminal polls /auth/device/token for the token.
//
// Pending browser flows and device codes live in memory (ten minutes at most): a restart only
// makes someone sign in again. Behind several server processes, route sign-in to one of them.
import { createHash, randomBytes } from "node:crypto";
import { type DeviceCode, type DeviceTokenResult, type Role, WarrenError } from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import { BOOTSTRAP_ORG_ID } from "../store/migrations/005_identity.ts";
import * as q from "../store/queries/identity.ts";
import type { AuditService } from "./audit.ts";
import { matchRules, notConfigured, type OidcConfig, refused } from "./oidc-config.ts";
import { createProviderClient } from "./oidc-provider-client.ts";
import { expiryFor, hashToken, maxTokenDays, newTokenSecret } from "./tokens.ts";

export {
  matchRules,
  type OidcConfig,
  type OidcMappingRule,
  oidcConfigFromEnv,
  parseMapping,
} from "./oidc-config.ts";
export type { DeviceCode, DeviceTokenResult };

export interface SignInResult {
  token: string;
  expiresAt: string;
  user: string;
  org: string;
  role: Role;
}

export interface OidcService {
  /** The provider URL to send the browser to; `userCode` binds the sign-in to a device code. */
  start(userCode?: string): Promise<string>;
  /** Finishes a browser flow; `device` is set when it completed a device code instead. */
  callback(
    params: Record<string, string | undefined>,
    source: string,
  ): Promise<SignInResult & { device: boolean }>;
  createDeviceCode(): DeviceCode;
  pollDeviceCode(deviceCode: string): DeviceTokenResult;
}

const FLOW_TTL_MS = 10 * 60_000;
const DEVICE_TTL_S = 600;
const DEVICE_INTERVAL_S = 5;
const ROLE_RANK: Record<Role, number> = { member: 1, admin: 2, owner: 3 };
const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"; // no vowels: no words, no 0/O or 1/I mix-ups

const b64u = (b: Buffer) => b.toString("base64url");

interface PendingFlow {
  verifier: string;
  nonce: string;
  userCode: string | undefined;
  expires: number;
}

interface DeviceEntry {
  userCode: string;
  expires: number;
  lastPoll: number;
  interval: number;
  result?: { token: string; expiresAt: string };
}

export function createOidcService(o: {
  config: OidcConfig | undefined;
  db: Db;
  clock: Clock;
  audit?: AuditService | undefined;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}): OidcService {
  const { db, clock } = o;
  const flows = new Map<string, PendingFlow>();
  const devices = new Map<string, DeviceEntry>();
  const byUserCode = new Map<string, string>();
  const provider = createProviderClient(o);
  const { discover, getJson, verifyIdToken, userinfo } = provider;

  const cfg = (): OidcConfig => {
    if (!o.config) throw notConfigured();
    return o.config;
  };

  function sweep() {
    const now = clock.now();
    for (const [k, f] of flows) if (f.expires <= now) flows.delete(k);
    for (const [k, d] of devices)
      if (d.expires <= now) {
        devices.delete(k);
        byUserCode.delete(d.userCode);
      }
  }

  /** Creates the user on first sign-in, applies the mapping, and mints a Warren token. */
  async function signIn(claims: Record<string, unknown>, source: string): Promise<SignInResult> {
    const c = cfg();
    const sub = String(claims["sub"]);
    const email = typeof claims["email"] === "string" ? claims["email"] : undefined;
    const name =
      email ??
      (typeof claims["preferred_username"] === "string" ? claims["preferred_username"] : undefined) ??
      `oidc:${sub}`;
    const rules = matchRules(c.mapping, claims, c.groupsClaim);
    const audit = async (orgId: string, actor: string, result: "ok" | "denied", code?: string) => {
      try {
        await o.audit?.record({
          orgId,
          actor,
          action: "auth.sign-in",
          target: name,
          sourceAddress: source,
          result,
          code,
        });
      } catch {
        // A failed audit write never changes the outcome of a sign-in (as in http/audit-hook.ts).
      }
    };
    if (rules.length === 0) {
      await audit(BOOTSTRAP_ORG_ID, `oidc:${sub}`, "denied", "UNAUTHENTICATED");
      throw new WarrenError(
        "UNAUTHENTICATED",
        `sign-in refused: "${name}" matches no rule of this server's OIDC mapping (no mapped group or email ` +
          "domain), so Warren cannot give it an organisation or role; ask an administrator to add you",
      );
    }
    // The strongest role per organisation; the first matched rule names the token's organisation.
    const perOrg = new Map<string, Role>();
    for (const r of rules) {
      const prev = perOrg.get(r.org);
      if (!prev || ROLE_RANK[r.role] > ROLE_RANK[prev]) perOrg.set(r.org, r.role);
    }
    const now = isoNow(clock);
    const expiresAt = expiryFor(new Date(clock.now()), undefined, maxTokenDays(o.env));
    const token = newTokenSecret("user");
    const out = await db.transaction().execute(async (trx) => {
      let user = await q.getUserByName(trx, name);
      if (!user) {
        user = { id: `usr_${randomBytes(8).toString("hex")}`, name, created_at: now };
        await q.insertUser(trx, user);
      }
      let first: { orgId: string; orgName: string; role: Role } | undefined;
      for (const [orgRef, mapped] of perOrg) {
        const org = await q.getOrg(trx, orgRef);
        if (!org) continue;
        const existing = await q.getRole(trx, org.id, user.id);
        // Sign-in grants, never demotes: an owner made by hand stays owner.
        const role = existing && ROLE_RANK[existing] >= ROLE_RANK[mapped] ? existing : mapped;
        if (role !== existing)
          await q.upsertMembership(trx, { org_id: org.id, user_id: user.id, role, created_at: now });
        first ??= { orgId: org.id, orgName: org.name, role };
      }
      if (!first) return undefined;
      await q.insertToken(trx, {
        id: `tok_${randomBytes(8).toString("hex")}`,
        kind: "user",
        name: "oidc sign-in",
        hash: hashToken(token),
        org_id: first.orgId,
        user_id: user.id,
        created_by: user.id,
        created_at: now,
        expires_at: expiresAt,
        revoked_at: null,
      });
      return { userId: user.id, ...first };
    });
    if (!out) {
      await audit(BOOTSTRAP_ORG_ID, `oidc:${sub}`, "denied", "UNAUTHENTICATED");
      throw new WarrenError(
        "UNAUTHENTICATED",
        `sign-in refused: the OIDC mapping sends "${name}" to organisations that do not exist (${[...perOrg.keys()].join(", ")})`,
      );
    }
    await audit(out.orgId, out.userId, "ok");
    return { token, expiresAt, user: name, org: out.orgName, role: out.role };
  }

  return {
    async start(userCode) {
      const c = cfg();
      sweep();
      let code: string | undefined;
      if (userCode !== undefined) {
        code = normalizeUserCode(userCode);
        const dc = byUserCode.get(code);
        const d = dc ? devices.get(dc) : undefined;
        if (!d || d.result)
          throw new WarrenError(
            "INVALID_ARGUMENT",
            `the code "${userCode}" is unknown, used or expired; run \`warren login\` again`,
            {
              field: "user_code",
            },
          );
      }
      const d = await discover();
      const state = b64u(randomBytes(24));
      const nonce = b64u(randomBytes(24));
      const verifier = b64u(randomBytes(32));
      flows.set(state, { verifier, nonce, userCode: code, expires: clock.now() + FLOW_TTL_MS });
      const url = new URL(d.authorization_endpoint);
      url.searchParams.set("response_type", "code");
      url.searchParams.set("client_id", c.clientId);
      url.searchParams.set("redirect_uri", c.redirectUrl);
      url.searchParams.set("scope", "openid email profile groups");
      url.searchParams.set("state", state);
      url.searchParams.set("nonce", nonce);
      url.searchParams.set("code_challenge", b64u(createHash("sha256").update(verifier).digest()));
      url.searchParams.set("code_challenge_method", "S256");
      return url.toString();
    },

    async callback(params, source) {
      const c = cfg();
      sweep();
      const state = params["state"];
      const flow = state ? flows.get(state) : undefined;
      if (!state || !flow) throw refused("this sign-in is unknown or expired (state); start again");
      flows.delete(state); // one use
      if (params["error"]) {
        throw refused(
          `the identity provider said ${params["error"]}${params["error_description"] ? `: ${params["error_description"]}` : ""}`,
        );
      }
      const code = params["code"];
      if (!code) throw refused("the identity provider sent no authorization code");
      const d = await discover();
      const form = new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: c.redirectUrl,
        code_verifier: flow.verifier,
      });
      const headers: Record<string, string> = {
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      };
      if (c.clientSecret !== undefined) {
        const basic = `${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`;
        headers["authorization"] = `Basic ${Buffer.from(basic).toString("base64")}`;
      } else {
        form.set("client_id", c.clientId);
      }
      const tokens = await getJson<{ id_token?: string; access_token?: string }>(d.token_endpoint, {
        method: "POST",
        headers,
        body: form.toString(),
      });
      if (!tokens.id_token) throw refused("the identity provider returned no ID token");
      const idClaims = await verifyIdToken(tokens.id_token, flow.nonce);
      const info = await userinfo(tokens.access_token, String(idClaims["sub"]));
      const result = await signIn({ ...info, ...idClaims }, source);
      if (flow.userCode !== undefined) {
        const dc = byUserCode.get(flow.userCode);
        const entry = dc ? devices.get(dc) : undefined;
        if (!entry)
          throw refused("the terminal's code expired while you signed in; run `warren login` again");
        entry.result = { token: result.token, expiresAt: result.expiresAt };
        byUserCode.delete(flow.userCode);
        return { ...result, device: true };
      }
      return { ...result, device: false };
    },

    createDeviceCode() {
      const c = cfg();
      sweep();
      const deviceCode = b64u(randomBytes(32));
      let userCode: string;
      do {
        const bytes = randomBytes(8);
        const chars = [...bytes].map((b) => USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.length]).join("");
        userCode = `${chars.slice(0, 4)}-${chars.slice(4)}`;
      } while (byUserCode.has(userCode));
      devices.set(deviceCode, {
        userCode,
        expires: clock.now() + DEVICE_TTL_S * 1000,
        lastPoll: 0,
        interval: DEVICE_INTERVAL_S,
      });
      byUserCode.set(userCode, deviceCode);
      const page = new URL("/api/v1/auth/device/verify", c.redirectUrl);
      const complete = new URL(page);
      complete.searchParams.set("user_code", userCode);
      return {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: page.toString(),
        verification_uri_complete: complete.toString(),
        interval: DEVICE_INTERVAL_S,
        expires_in: DEVICE_TTL_S,
      };
    },

    pollDeviceCode(deviceCode) {
      cfg();
      sweep();
      const d = devices.get(deviceCode);
      if (!d)
        throw new WarrenError(
          "INVALID_ARGUMENT",
          "the device code is unknown or expired; run `warren login` again",
          { field: "device_code" },
        );
      if (d.result) {
        devices.delete(deviceCode); // the token is handed out once
        return { status: "complete", ...d.result };
      }
      const now = clock.now();
      if (now - d.lastPoll < d.interval * 1000) {
        d.interval += 5; // RFC 8628 §3.5
        d.lastPoll = now;
        return { status: "slow_down", interval: d.interval };
      }
      d.lastPoll = now;
      return { status: "authorization_pending", interval: d.interval };
    },
  };
}

export function normalizeUserCode(s: string): string {
  const c = s.toUpperCase().replace(/[^A-Z]/g, "");
  return c.length === 8 ? `${c.slice(0, 4)}-${c.slice(4)}` : s.toUpperCase();
}
