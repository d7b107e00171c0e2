// HTTP for pulls: every request goes to an address resolveChecked() approved, redirects are
// followed by hand so each hop is checked again, and Authorization never leaves the host it was
// meant for (blob redirects point at storage that must not see registry tokens).
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { WarrenError } from "@warren/protocol";
import { type AllowList, type CheckedAddress, isLoopback, resolveChecked } from "./address-guard.ts";

export interface HttpPolicy {
  allow: AllowList;
  /** Hosts (host[:port]) spoken to over plain HTTP besides loopback ones. */
  insecure: Set<string>;
  /** Idle socket timeout; a stalled transfer fails and is resumed by a retry. */
  timeoutMs: number;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** The URL that answered, after redirects. */
  url: URL;
  /** The checked address it came from (plain HTTP is allowed to loopback only). */
  address: CheckedAddress;
}

const MAX_REDIRECTS = 5;

/** The scheme to use for a registry host: https unless it is loopback or listed as insecure. */
export async function registryBase(host: string, policy: HttpPolicy): Promise<URL> {
  const probe = new URL(`https://${host}`);
  const addr = await resolveChecked(
    probe.hostname.replace(/^\[|\]$/g, ""),
    port(probe),
    policy.allow,
    "registry",
  );
  const plain = isLoopback(addr.address) || policy.insecure.has(host);
  return new URL(`${plain ? "http" : "https"}://${host}`);
}

/** Sends one request (following redirects) and resolves once response headers arrive. */
export async function request(
  url: URL,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    what: string;
    /** "registry" or "token realm", for refusal messages. */
    role?: string;
    authHost?: string;
  },
  policy: HttpPolicy,
): Promise<Response> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const headers = { ...opts.headers };
    // Credentials go only to the host they were issued for, and a redirect from https down to
    // plain HTTP never carries what was meant to travel encrypted.
    if (current.host !== (opts.authHost ?? url.host)) delete headers["authorization"];
    if (current.protocol === "http:" && url.protocol === "https:") delete headers["authorization"];
    const res = await once(current, opts.method ?? "GET", headers, opts, policy);
    const loc = res.headers.location;
    if (res.status >= 300 && res.status < 400 && res.status !== 304 && loc) {
      res.body.resume();
      if (hop >= MAX_REDIRECTS) {
        throw new WarrenError("REGISTRY_UNAVAILABLE", `${opts.what}: too many redirects (last to ${loc})`);
      }
      const next = new URL(loc, current);
      if (next.protocol !== "https:" && next.protocol !== "http:") {
        throw new WarrenError(
          "REGISTRY_UNAVAILABLE",
          `${opts.what}: redirect to unsupported URL ${next.protocol}`,
        );
      }
      current = next;
      continue;
    }
    return res;
  }
}

async function once(
  url: URL,
  method: string,
  headers: Record<string, string>,
  opts: { what: string; role?: string },
  policy: HttpPolicy,
): Promise<Response> {
  const what = opts.what;
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const address = await resolveChecked(hostname, port(url), policy.allow, opts.role ?? "registry");
  // The connection goes to the checked address; the name stays for Host, SNI and certificates.
  const lookup: LookupFunction = (_h, o, cb) => {
    if ((o as { all?: boolean }).all) (cb as (e: null, a: object[]) => void)(null, [address]);
    else cb(null, address.address, address.family);
  };
  const mod = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      { method, headers: { "user-agent": "warren", ...headers }, lookup, timeout: policy.timeoutMs },
      (res) => {
        res.setTimeout(policy.timeoutMs, () => res.destroy(new Error(`no data for ${policy.timeoutMs} ms`)));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url, address });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer in ${policy.timeoutMs} ms`)));
    req.on("error", (err) =>
      reject(
        new WarrenError(
          "REGISTRY_UNAVAILABLE",
          `${what}: ${method} ${url.origin}${url.pathname}: ${(err as Error).message}`,
          { url: `${url.origin}${url.pathname}` },
        ),
      ),
    );
    req.end();
  });
}

function port(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === "http:" ? 80 : 443;
}

/** Reads a small body (manifests, tokens, errors), refusing one larger than `limit`. */
export async function readBody(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers["content-length"] ?? 0);
  if (declared > limit) {
    res.body.destroy();
    throw new WarrenError("REGISTRY_UNAVAILABLE", `${what}: the answer is ${declared} bytes, over ${limit}`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > limit) {
        res.body.destroy();
        throw new WarrenError("REGISTRY_UNAVAILABLE", `${what}: the answer is over ${limit} bytes`);
      }
      chunks.push(c as Buffer);
    }
  } catch (err) {
    if (err instanceof WarrenError) throw err;
    throw new WarrenError("REGISTRY_UNAVAILABLE", `${what}: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks);
}

/** The registry's error text ({errors:[{code,message}]}) for messages, best effort. */
export async function errorText(res: Response): Promise<string> {
  const body = await readBody(res, 64 * 1024, "error").catch(() => Buffer.alloc(0));
  try {
    const j = JSON.parse(body.toString("utf8")) as { errors?: { code?: string; message?: string }[] };
    const e = j.errors?.[0];
    if (e) return `${e.code ?? ""} ${e.message ?? ""}`.trim();
  } catch {
    // Not JSON: fall through to the status line.
  }
  return `HTTP ${res.status}`;
}
