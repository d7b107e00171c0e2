// What a scoped token may call (protocol identity.ts TOKEN_SCOPES). A token without scopes has
// its user's full access; a scoped one only what its scopes list, checked before any handler runs,
// so a leaked Prometheus credential cannot list, create or exec into environments.
import { type TokenScope, WarrenError } from "@warren/protocol";
import type { Principal } from "../services/actor.ts";

/** The Prometheus endpoints (metrics/routes.ts). */
export const METRICS_PATHS: ReadonlySet<string> = new Set(["/metrics", "/metrics/runners"]);

export function scopeAllows(scope: TokenScope, method: string, path: string): boolean {
  switch (scope) {
    case "metrics:read":
      return (method === "GET" || method === "HEAD") && METRICS_PATHS.has(path);
  }
}

/** Refuses a request its principal's scopes do not cover (403 naming them); unscoped passes. */
export function requireScopeAllows(p: Principal, method: string, path: string): void {
  if (p.kind !== "user" || !p.scopes || p.scopes.length === 0) return;
  if (p.scopes.some((s) => scopeAllows(s, method, path))) return;
  throw new WarrenError(
    "FORBIDDEN",
    `this token is limited to scope ${p.scopes.join(", ")}, which does not allow ${method} ${path}; ` +
      "use a token without scopes (`warren admin token create`) for other calls",
    { scopes: [...p.scopes] },
  );
}
