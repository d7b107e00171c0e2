// Registry authentication, as the distribution spec and Docker do it: try anonymously; on a 401,
// read WWW-Authenticate. Bearer: fetch a token from its realm (sending the login, if any, as
// Basic credentials) and retry with it. Basic: retry with the login. A login is never sent over
// plain HTTP unless WARREN_REGISTRY_ALLOW names that host (policy.ts mayCarryCredentials), and
// that is decided from the URL before anything is sent, never from the answer.
import type { RegistryCredential } from "@warren/protocol";
import { WarrenError } from "@warren/protocol";
import { resolveChecked } from "./address-guard.ts";
import { errorText, type HttpPolicy, type Response, readBody, request } from "./http.ts";
import { mayCarryCredentials, plainHttpRefusal } from "./policy.ts";

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://a/token",service="reg",scope="repository:x:pull"`. */
export function parseChallenge(header: string | undefined): Challenge | null {
  if (!header) return null;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?/g;
  for (let p = re.exec(m[2]!); p; p = re.exec(m[2]!)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

export class Authorizer {
  readonly host: string;
  readonly #credential: RegistryCredential | undefined;
  readonly #policy: HttpPolicy;
  #header: string | undefined;

  constructor(host: string, credential: RegistryCredential | undefined, policy: HttpPolicy) {
    this.host = host;
    this.#credential = credential;
    this.#policy = policy;
  }

  get header(): string | undefined {
    return this.#header;
  }

  /** Answers a 401; resolves once a retry with `header` may succeed, otherwise throws. */
  async answer(res: Response, scope: string): Promise<void> {
    const ch = parseChallenge(firstHeader(res.headers["www-authenticate"]));
    res.body.resume();
    const had = this.#header;
    if (ch?.scheme === "bearer" && ch.params["realm"]) {
      // A token got with the login is as good as the login to this registry.
      if (this.#credential) this.#checkPlain(res);
      this.#header = `Bearer ${await this.#token(ch, scope)}`;
    } else if (ch?.scheme === "basic" && this.#credential) {
      this.#checkPlain(res);
      this.#header = `Basic ${basic(this.#credential)}`;
    } else {
      throw this.#denied(ch ? `it asks for ${ch.scheme} authentication` : "it sent no WWW-Authenticate");
    }
    // The same answer twice means the registry refused it.
    if (had === this.#header) throw this.#denied("it refused the credentials");
  }

  async #token(ch: Challenge, scope: string): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(ch.params["realm"]!);
    } catch {
      throw new WarrenError("REGISTRY_UNAVAILABLE", `registry ${this.host}: malformed token realm`);
    }
    if (realm.protocol !== "https:" && realm.protocol !== "http:") {
      throw new WarrenError("REGISTRY_UNAVAILABLE", `registry ${this.host}: token realm is not http(s)`);
    }
    if (this.#credential && !mayCarryCredentials(realm, this.#policy)) {
      // A realm the runner may not reach at all says so first: that refusal is the one to fix.
      await resolveChecked(
        realm.hostname.replace(/^\[|\]$/g, ""),
        Number(realm.port || 80),
        this.#policy.allow,
        "token realm",
      );
      throw this.#denied(plainHttpRefusal("its token realm", realm));
    }
    if (ch.params["service"]) realm.searchParams.set("service", ch.params["service"]);
    realm.searchParams.set("scope", ch.params["scope"] ?? scope);
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#credential) headers["authorization"] = `Basic ${basic(this.#credential)}`;
    // request() drops the login on a redirect to another host or down to plain HTTP.
    const res = await request(
      realm,
      { headers, what: `token for ${this.host}`, role: "token realm", authHost: realm.host },
      this.#policy,
    );
    if (res.status !== 200) {
      const text = await errorText(res);
      throw this.#denied(`its token service ${realm.host} answered ${res.status} (${text})`);
    }
    const body = await readBody(res, 1024 * 1024, `token for ${this.host}`);
    let tok: { token?: string; access_token?: string };
    try {
      tok = JSON.parse(body.toString("utf8"));
    } catch {
      throw new WarrenError(
        "REGISTRY_UNAVAILABLE",
        `registry ${this.host}: its token service sent invalid JSON`,
      );
    }
    const t = tok.token ?? tok.access_token;
    if (!t || !/^[\x21-\x7e]+$/.test(t)) {
      throw new WarrenError("REGISTRY_UNAVAILABLE", `registry ${this.host}: its token service sent no token`);
    }
    return t;
  }

  #checkPlain(res: Response): void {
    if (!mayCarryCredentials(res.url, this.#policy))
      throw this.#denied(plainHttpRefusal("the registry", res.url));
  }

  #denied(why: string): WarrenError {
    const fix = this.#credential
      ? `check the login with \`warren registry login ${this.host}\``
      : `log in with \`warren registry login ${this.host}\``;
    return new WarrenError("REGISTRY_AUTH_FAILED", `registry ${this.host} denied access: ${why}; ${fix}`, {
      host: this.host,
    });
  }
}

function basic(c: RegistryCredential): string {
  return Buffer.from(`${c.username}:${c.password}`).toString("base64");
}

function firstHeader(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}
