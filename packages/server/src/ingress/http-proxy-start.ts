// Starting the port proxy from the daemon: where it listens, its base domain, and its certificate.
//
// - `localhost` (the embedded default): plain HTTP; browsers and curl resolve *.localhost to
//   loopback and treat it as a secure context.
// - Any other base domain: HTTPS with the operator's wildcard certificate (--http-cert/--http-key).
//   Embedded mode without one makes a self-signed certificate for *.BASE once (kept under
//   ${root}/tls/ports-BASE/) and says so; server mode without one serves plain HTTP and warns, for
//   deployments that terminate TLS in front of it.
// As with the SSH gateway, a default address that is taken is logged and the daemon runs without.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseListen } from "../http/listen-tls.ts";
import { generateSelfSigned } from "../http/tls-cert.ts";
import type { Logger } from "../logger.ts";
import { type HttpProxy, type HttpProxyOptions, startHttpProxy } from "./http-proxy.ts";
import { normaliseBaseDomain } from "./port-host.ts";

export const DEFAULT_BASE_DOMAIN = "localhost";

export interface PortProxyConfig {
  /** `HOST:PORT`; off when undefined. Port 0 picks one. */
  listen?: string | undefined;
  /** The address is only the default: if it is taken, log it and run without the proxy. */
  optional?: boolean | undefined;
  baseDomain?: string | undefined;
  certPath?: string | undefined;
  keyPath?: string | undefined;
  /** Where a self-signed certificate is kept. */
  root: string;
  /** Embedded mode (`warren daemon`) may make its own certificate. */
  embedded: boolean;
}

export type PortProxyDeps = Omit<HttpProxyOptions, "host" | "port" | "baseDomain" | "tls" | "logger"> & {
  /**
   * Builds the sign-in once the scheme and base domain are known (the cookie's name and Secure
   * follow the scheme); used when `auth` is not given.
   */
  makeAuth?: (o: { scheme: "http" | "https"; baseDomain: string }) => HttpProxyOptions["auth"];
};

/** The daemon's option: where and how to serve, and (tests, other wiring) the neighbours to call. */
export type PortProxyDaemonOptions = Omit<PortProxyConfig, "root" | "embedded"> &
  Partial<Pick<PortProxyDeps, "ports" | "auth" | "activity" | "holdForWake" | "upstreamIdleMs">>;

export async function startPortProxy(
  cfg: PortProxyConfig,
  deps: PortProxyDeps,
  log: Logger,
): Promise<HttpProxy | undefined> {
  if (cfg.listen === undefined) return undefined;
  const where = parseListen(cfg.listen);
  const baseDomain = normaliseBaseDomain(cfg.baseDomain || DEFAULT_BASE_DOMAIN);
  const tls = await certificateFor(cfg, baseDomain, log);
  try {
    const { makeAuth, ...rest } = deps;
    const auth = rest.auth ?? makeAuth?.({ scheme: tls ? "https" : "http", baseDomain });
    return await startHttpProxy({
      ...rest,
      ...(auth ? { auth } : {}),
      ...where,
      baseDomain,
      tls,
      logger: log,
    });
  } catch (err) {
    if (!cfg.optional) throw err;
    log.warn({ err, listen: cfg.listen }, "the port proxy could not listen; running without it");
    return undefined;
  }
}

async function certificateFor(
  cfg: PortProxyConfig,
  baseDomain: string,
  log: Logger,
): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (cfg.certPath || cfg.keyPath) {
    if (!cfg.certPath || !cfg.keyPath) {
      throw new Error(
        "--http-cert and --http-key (WARREN_HTTP_CERT, WARREN_HTTP_KEY) must be given together",
      );
    }
    const [cert, key] = await Promise.all([readFile(cfg.certPath), readFile(cfg.keyPath)]);
    return { cert, key };
  }
  if (baseDomain === DEFAULT_BASE_DOMAIN) return undefined;
  if (!cfg.embedded) {
    log.warn(
      { baseDomain },
      "the port proxy serves plain HTTP: give it a wildcard certificate with --http-cert/--http-key unless TLS ends in front of it",
    );
    return undefined;
  }
  const dir = path.join(cfg.root, "tls", `ports-${baseDomain}`);
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  try {
    return { cert: await readFile(certFile), key: await readFile(keyFile) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await generateSelfSigned(dir, [`DNS:*.${baseDomain}`, `DNS:${baseDomain}`]);
  log.warn(
    { baseDomain, cert: certFile },
    `made a self-signed certificate for *.${baseDomain}; browsers will warn about it until an operator gives a wildcard certificate with --http-cert/--http-key`,
  );
  return { cert: await readFile(certFile), key: await readFile(keyFile) };
}
