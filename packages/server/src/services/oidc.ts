// Sign-in through the company's identity provider. Warren is the OIDC client: authorization code
// flow with PKCE (S256), state and nonce. The ID token is verified here (signature against the
// provider's JWKS, iss, aud, azp, exp, nonce) with node:crypto, then its claims (merged with the
// userinfo endpoint's, same `sub`) map to an organisation and a role (WARREN_OIDC_MAPPING). The
// caller gets a Warren token (wrn_...): the provider's own tokens are used once, to read claims,
// and never stored, returned, or accepted as Warren tokens (identity.authenticate only knows wrn_).
// The person is the Warren user linked to the provider's (issuer, sub), never matched by email
// (oidc-users.ts says why).
//
// Warren's own device-code flow serves headless terminals (oidc-device.ts): the person confirms
// the terminal's code on a page naming who asked, then signs in through the same browser flow.
//
// A browser flow is bound to the browser that started it: start() hands back a random binding
// that the HTTP layer keeps in a cookie (only its digest is stored), and callback() accepts the
// provider's redirect only with it, so a leaked or relayed callback URL cannot be finished
// elsewhere.
//
// Sign-ins in progress are rows in the database (migration 011), not memory, so with several
// replicas behind a load balancer any of them can take the provider's redirect or the terminal's
// poll. Each row is taken by one DELETE ... RETURNING, so a state or device code works once even
// when replicas race, and rows past their ten minutes are refused and swept.
import { randomBytes } from "node:crypto";
import { type DeviceCode, type DeviceTokenResult, WarrenError } from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import { BOOTSTRAP_ORG_ID } from "../store/migrations/005_identity.ts";
import type { Queryable } from "../store/queries/envs.ts";
import * as qo from "../store/queries/oidc.ts";
import type { AuditService } from "./audit.ts";
import { matchRules, notConfigured, type OidcConfig, refused } from "./oidc-config.ts";
import { createDeviceCodes } from "./oidc-device.ts";
import { createProviderClient } from "./oidc-provider-client.ts";
import type { FlowStart, OidcService } from "./oidc-types.ts";
import { displayName, type LinkedUser, linkUser, mintToken, rolesPerOrg } from "./oidc-users.ts";
import { expiryFor, hashToken, orgTokenMaxDays } from "./tokens.ts";

export {
  matchRules,
  type OidcConfig,
  type OidcMappingRule,
  oidcConfigFromEnv,
  parseMapping,
} from "./oidc-config.ts";
export { type DeviceRequest, type DeviceRequester, normalizeUserCode } from "./oidc-device.ts";
export type {
  DashboardFlowResult,
  DeviceApproval,
  FlowStart,
  OidcService,
  PortFlowResult,
  SignInResult,
} from "./oidc-types.ts";
export type { DeviceCode, DeviceTokenResult };

export const FLOW_TTL_MS = 10 * 60_000;
const SWEEP_EVERY_MS = 60_000;

const b64u = (b: Buffer) => b.toString("base64url");
const iso = (ms: number) => new Date(ms).toISOString();

export function createOidcService(o: {
  config: OidcConfig | undefined;
  db: Db;
  clock: Clock;
  audit?: AuditService | undefined;
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}): OidcService {
  const { db, clock } = o;
  const provider = createProviderClient(o);
  const { discover, getJson, verifyIdToken, userinfo } = provider;
  let lastSweep = Number.NEGATIVE_INFINITY;

  const cfg = (): OidcConfig => {
    if (!o.config) throw notConfigured();
    return o.config;
  };

  const sweep = () => qo.sweepOidcPending(db, isoNow(clock));
  /** Called where rows are made, so the tables hold at most about ten minutes of sign-ins. */
  async function sweepNow() {
    if (clock.now() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = clock.now();
    await sweep();
  }

  /** A sign-in's token lives as long as its organisation allows (migration 015), at most 30 days. */
  const newExpiry = async (trx: Queryable, orgId: string) =>
    expiryFor(new Date(clock.now()), undefined, await orgTokenMaxDays(trx, orgId, o.env));

  /**
   * Links the claims to a Warren user and applies the mapping, then, in the same transaction,
   * either mints a token or approves the device code `userCode`. Records the sign-in.
   */
  async function signIn<T>(
    issuer: string,
    claims: Record<string, unknown>,
    source: string,
    finish: (trx: Db, user: LinkedUser, now: string) => Promise<T>,
  ): Promise<T> {
    const c = cfg();
    const sub = String(claims["sub"]);
    const name = displayName(claims);
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
    const rules = matchRules(c.mapping, claims, c.groupsClaim);
    if (rules.length === 0) {
      await audit(BOOTSTRAP_ORG_ID, `oidc:${sub}`, "denied", "UNAUTHENTICATED");
      throw new WarrenError(
        "UNAUTHENTICATED",
        `sign-in refused: "${name}" matches no rule of this server's OIDC mapping (no mapped group or email ` +
          "domain), so Warren cannot give it an organisation or role; ask an administrator to add you",
      );
    }
    const perOrg = rolesPerOrg(rules);
    const attempt = () =>
      db.transaction().execute(async (trx) => {
        const now = isoNow(clock);
        const user = await linkUser(trx, { issuer, claims, perOrg, now });
        if (!user) {
          // Thrown inside the transaction, so a first sign-in leaves no user behind.
          throw new WarrenError(
            "UNAUTHENTICATED",
            `sign-in refused: the OIDC mapping sends "${name}" to organisations that do not exist (${[...perOrg.keys()].join(", ")})`,
          );
        }
        return { user, out: await finish(trx, user, now) };
      });
    let done: Awaited<ReturnType<typeof attempt>>;
    try {
      try {
        done = await attempt();
      } catch (err) {
        if (err instanceof WarrenError) throw err;
        // Two first sign-ins of the same identity (two tabs, two replicas) race on the
        // identity's primary key or a user name; the loser's retry finds the winner's rows.
        done = await attempt();
      }
    } catch (err) {
      if (err instanceof WarrenError) await audit(BOOTSTRAP_ORG_ID, `oidc:${sub}`, "denied", err.code);
      throw err;
    }
    await audit(done.user.orgId, done.user.userId, "ok");
    return done.out;
  }

  const devices = createDeviceCodes({ db, clock, cfg, sweepNow, newExpiry });

  async function createFlow(
    userCode: string | undefined,
    port?: { envId: string; port: number },
    dashboardHost?: string,
  ): Promise<FlowStart> {
    const d = await discover();
    const state = b64u(randomBytes(24));
    const nonce = b64u(randomBytes(24));
    const verifier = b64u(randomBytes(32));
    const binding = b64u(randomBytes(24));
    await qo.insertFlow(db, {
      state_hash: hashToken(state),
      verifier,
      nonce_hash: hashToken(nonce),
      user_code: userCode ?? null,
      browser_hash: hashToken(binding),
      port_env_id: port?.envId ?? null,
      port: port?.port ?? null,
      dashboard_host: dashboardHost ?? null,
      created_at: isoNow(clock),
      expires_at: iso(clock.now() + FLOW_TTL_MS),
    });
    const c = cfg();
    const url = new URL(d.authorization_endpoint);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("client_id", c.clientId);
    url.searchParams.set("redirect_uri", c.redirectUrl);
    url.searchParams.set("scope", "openid email profile groups");
    url.searchParams.set("state", state);
    url.searchParams.set("nonce", nonce);
    url.searchParams.set("code_challenge", b64u(Buffer.from(hashToken(verifier), "hex")));
    url.searchParams.set("code_challenge_method", "S256");
    return { url: url.toString(), state, binding };
  }

  /** Redeems the authorization code at the provider and returns the verified, merged claims. */
  async function claimsFor(code: string, flow: qo.OidcFlowRow) {
    const c = cfg();
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
    const idClaims = await verifyIdToken(tokens.id_token, flow.nonce_hash);
    const info = await userinfo(tokens.access_token, String(idClaims["sub"]));
    return { issuer: String(idClaims["iss"]), claims: { ...info, ...idClaims } };
  }

  return {
    sweep,

    async start(userCode) {
      cfg();
      const code = userCode === undefined ? undefined : (await devices.liveUserCode(userCode)).user_code;
      await sweepNow();
      return createFlow(code);
    },

    async startForPort(envId, port) {
      cfg();
      await sweepNow();
      return createFlow(undefined, { envId, port });
    },

    async startForDashboard(host) {
      cfg();
      await sweepNow();
      return createFlow(undefined, undefined, host);
    },

    configured: () => o.config !== undefined,

    async callback(params, source, binding) {
      cfg();
      const state = params["state"];
      if (!state) throw refused("the identity provider's redirect has no state; start again");
      const stateHash = hashToken(state);
      // One use, on whichever replica, and only by the browser holding the binding: another
      // browser's attempt leaves the flow for the one that started it.
      const flow = binding ? await qo.takeFlow(db, stateHash, hashToken(binding)) : undefined;
      if (!flow) {
        if (await qo.flowExists(db, stateHash))
          throw refused(
            "this sign-in was started in another browser (this one does not hold its sign-in cookie); " +
              "finish it in the browser where it started, or start again here",
          );
        throw refused("this sign-in is unknown or was already completed (state); start again");
      }
      if (flow.expires_at <= isoNow(clock))
        throw refused(
          `this sign-in expired: it must finish within ${FLOW_TTL_MS / 60_000} minutes of starting; start again`,
        );
      if (params["error"]) {
        throw refused(
          `the identity provider said ${params["error"]}${params["error_description"] ? `: ${params["error_description"]}` : ""}`,
        );
      }
      const code = params["code"];
      if (!code) throw refused("the identity provider sent no authorization code");
      const { issuer, claims } = await claimsFor(code, flow);
      const userCode = flow.user_code;
      const { port_env_id: portEnvId, port } = flow;
      if (portEnvId !== null && port !== null) {
        // The person is linked as by any sign-in, but no token is minted: the port sign-in issues
        // a single-use code for that port's URL, if the port admits them.
        return signIn(issuer, claims, source, async (_trx, user) => ({
          device: false as const,
          port: { envId: portEnvId, port },
          userId: user.userId,
          orgId: user.orgId,
          role: user.role,
        }));
      }
      const dashboardHost = flow.dashboard_host;
      if (dashboardHost !== null) {
        // As for a port: linked as by any sign-in, no token minted; the dashboard issues a code.
        return signIn(issuer, claims, source, async (_trx, user) => ({
          device: false as const,
          dashboard: { host: dashboardHost },
          userId: user.userId,
          orgId: user.orgId,
          role: user.role,
        }));
      }
      if (userCode !== null) {
        return signIn(issuer, claims, source, async (trx, user, now) => {
          const approved = await qo.approveDeviceCode(trx, {
            userCode,
            userId: user.userId,
            orgId: user.orgId,
            now,
          });
          if (!approved)
            throw refused(
              "the terminal's code expired or was used while you signed in; run `warren login` again",
            );
          return { device: true as const, user: user.name, org: user.orgName, role: user.role };
        });
      }
      return signIn(issuer, claims, source, async (trx, user, now) => {
        const expiresAt = await newExpiry(trx, user.orgId);
        const token = await mintToken(trx, { userId: user.userId, orgId: user.orgId, now, expiresAt });
        return {
          device: false as const,
          token,
          expiresAt,
          user: user.name,
          org: user.orgName,
          role: user.role,
        };
      });
    },

    callbackScope() {
      const u = new URL(cfg().redirectUrl);
      return { path: u.pathname, secure: u.protocol === "https:" };
    },

    createDeviceCode: devices.createDeviceCode,
    describeDeviceCode: devices.describeDeviceCode,
    pollDeviceCode: devices.pollDeviceCode,
  };
}
