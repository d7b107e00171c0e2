// The runner's registry policy, from its config or the daemon's environment. Read per pull, so
// a malformed allow-list fails the pull with a message instead of the daemon's start.
import type { RunnerConfig } from "../../host/config.ts";
import { ALLOW_ENV, namesHost, parseAllowList } from "./address-guard.ts";
import type { HttpPolicy } from "./http.ts";

export const INSECURE_ENV = "WARREN_REGISTRY_INSECURE";

export function registryPolicy(cfg: Pick<RunnerConfig, "registryAllow" | "registryInsecure">): HttpPolicy {
  const insecure = (cfg.registryInsecure ?? process.env[INSECURE_ENV] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return {
    allow: parseAllowList(cfg.registryAllow ?? process.env[ALLOW_ENV]),
    insecure: new Set(insecure),
    timeoutMs: 30_000,
  };
}

/**
 * Whether a login (or a token made from one) may travel to `url`: always over https; over plain
 * HTTP only to a host the allow-list names itself (address-guard.ts namesHost), so that a
 * registry or token realm on an address merely within an allowed range never sees it in clear.
 */
export function mayCarryCredentials(url: URL, policy: HttpPolicy): boolean {
  if (url.protocol === "https:") return true;
  const port = url.port ? Number(url.port) : 80;
  return url.protocol === "http:" && namesHost(policy.allow, url.hostname, port);
}

/** Why a login is withheld from `url`, and how an administrator allows it. */
export function plainHttpRefusal(what: string, url: URL): string {
  return (
    `${what} ${url.host} is plain HTTP, so the login is not sent there; serve it over https, or ` +
    `name that host in ${ALLOW_ENV} (e.g. "${url.host}") in the daemon's environment and restart it`
  );
}
