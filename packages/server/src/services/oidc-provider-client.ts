// Talking to the identity provider: discovery, its signing keys, ID token verification
// (signature with node:crypto against the JWKS, then iss, aud, azp, exp, iat, nonce, sub) and
// userinfo. The provider's tokens are only read here, never kept.
import { createPublicKey, verify as cryptoVerify, type JsonWebKey } from "node:crypto";
import type { Clock } from "../clock.ts";
import { notConfigured, type OidcConfig, refused } from "./oidc-config.ts";
import { hashesEqual, hashToken } from "./tokens.ts";

const SKEW_S = 60;

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
}

export interface ProviderClient {
  getJson<T>(url: string, init?: RequestInit): Promise<T>;
  discover(): Promise<Discovery>;
  /** Verifies the ID token; `nonceHash` is the hex SHA-256 of the nonce this sign-in sent. */
  verifyIdToken(idToken: string, nonceHash: string): Promise<Record<string, unknown>>;
  userinfo(accessToken: string | undefined, sub: string): Promise<Record<string, unknown>>;
}

export function createProviderClient(o: {
  config: OidcConfig | undefined;
  clock: Clock;
  fetch?: typeof fetch;
}): ProviderClient {
  const { clock } = o;
  const doFetch = o.fetch ?? fetch;
  let discovery: Promise<Discovery> | undefined;
  let jwks: { keys: (JsonWebKey & { kid?: string; alg?: string; use?: string })[] } | undefined;
  const cfg = (): OidcConfig => {
    if (!o.config) throw notConfigured();
    return o.config;
  };

  async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
    const res = await doFetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (!res.ok) throw refused(`the identity provider answered ${res.status} at ${new URL(url).pathname}`);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw refused(`the identity provider sent something other than JSON from ${new URL(url).pathname}`);
    }
  }

  function discover(): Promise<Discovery> {
    if (!discovery) {
      const issuer = cfg().issuer.replace(/\/$/, "");
      discovery = getJson<Discovery>(`${issuer}/.well-known/openid-configuration`).then(
        (d) => {
          if (d.issuer.replace(/\/$/, "") !== issuer)
            throw refused(`the provider's discovery names issuer "${d.issuer}", not "${cfg().issuer}"`);
          return d;
        },
        (err: unknown) => {
          discovery = undefined; // retry on the next sign-in
          throw err;
        },
      );
    }
    return discovery;
  }

  async function keyFor(kid: string | undefined, alg: string) {
    const d = await discover();
    const pick = () =>
      jwks?.keys.find(
        (k) => (kid === undefined || k.kid === kid) && (k.use === undefined || k.use === "sig"),
      );
    let jwk = pick();
    if (!jwk) {
      // Unknown kid: the provider may have rotated its keys.
      jwks = await getJson(d.jwks_uri);
      jwk = pick();
    }
    if (!jwk) throw refused("the ID token is signed with a key the provider does not publish");
    if (jwk.alg !== undefined && jwk.alg !== alg)
      throw refused("the ID token's algorithm does not match its key");
    return createPublicKey({ key: jwk, format: "jwk" });
  }

  async function verifyIdToken(idToken: string, nonceHash: string): Promise<Record<string, unknown>> {
    const parts = idToken.split(".");
    if (parts.length !== 3) throw refused("the ID token is not a signed JWT");
    const [h, p, s] = parts as [string, string, string];
    let header: { alg?: string; kid?: string };
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
      claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    } catch {
      throw refused("the ID token is not valid JSON");
    }
    const alg = header.alg ?? "";
    const key = await keyFor(header.kid, alg);
    const data = Buffer.from(`${h}.${p}`);
    const sig = Buffer.from(s, "base64url");
    const hashOf: Record<string, string> = { "256": "sha256", "384": "sha384", "512": "sha512" };
    const bits = alg.slice(2);
    let ok: boolean;
    if (/^RS(256|384|512)$/.test(alg)) ok = cryptoVerify(hashOf[bits] ?? "", data, key, sig);
    else if (/^PS(256|384|512)$/.test(alg))
      ok = cryptoVerify(hashOf[bits] ?? "", data, { key, padding: 6, saltLength: Number(bits) / 8 }, sig);
    else if (/^ES(256|384|512)$/.test(alg))
      ok = cryptoVerify(hashOf[bits] ?? "", data, { key, dsaEncoding: "ieee-p1363" }, sig);
    else if (alg === "EdDSA") ok = cryptoVerify(null, data, key, sig);
    else throw refused(`the ID token uses algorithm "${alg}", which Warren does not accept`);
    if (!ok) throw refused("the ID token's signature does not verify");
    const c = cfg();
    const d = await discover();
    if (claims["iss"] !== d.issuer) throw refused("the ID token comes from another issuer");
    const aud = claims["aud"];
    const auds = Array.isArray(aud) ? aud : [aud];
    if (!auds.includes(c.clientId)) throw refused("the ID token is meant for another client");
    if (auds.length > 1 && claims["azp"] !== undefined && claims["azp"] !== c.clientId)
      throw refused("the ID token was issued to another party (azp)");
    const now = clock.now() / 1000;
    if (typeof claims["exp"] !== "number" || claims["exp"] + SKEW_S < now)
      throw refused("the ID token expired");
    if (typeof claims["iat"] === "number" && claims["iat"] - SKEW_S > now)
      throw refused("the ID token was issued in the future");
    const nonce = claims["nonce"];
    if (typeof nonce !== "string" || !hashesEqual(hashToken(nonce), nonceHash))
      throw refused("the ID token's nonce does not match this sign-in");
    if (typeof claims["sub"] !== "string" || !claims["sub"]) throw refused("the ID token has no subject");
    if (claims["sub"].length > 255)
      throw refused("the ID token's subject is longer than OIDC's 255 characters");
    return claims;
  }

  async function userinfo(accessToken: string | undefined, sub: string): Promise<Record<string, unknown>> {
    const d = await discover();
    if (!accessToken || !d.userinfo_endpoint) return {};
    const info = await getJson<Record<string, unknown>>(d.userinfo_endpoint, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    if (info["sub"] !== sub) throw refused("the userinfo subject differs from the ID token's");
    return info;
  }

  return { getJson, discover, verifyIdToken, userinfo };
}
