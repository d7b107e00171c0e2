// OIDC configuration: the WARREN_OIDC_* variables and the claim mapping (group or email domain to
// an organisation and a role). Pure, so the mapping rules are testable without a provider.
import { type Role, WarrenError } from "@warren/protocol";

export interface OidcMappingRule {
  group?: string;
  emailDomain?: string;
  org: string;
  role: Role;
}

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  /** The absolute URL of GET /api/v1/auth/oidc/callback as the browser reaches it. */
  redirectUrl: string;
  mapping: OidcMappingRule[];
  /** Claim holding group names; default "groups". */
  groupsClaim?: string;
}

export const notConfigured = () =>
  new WarrenError(
    "INVALID_ARGUMENT",
    "OIDC sign-in is not configured on this server; set WARREN_OIDC_ISSUER, WARREN_OIDC_CLIENT_ID, " +
      "WARREN_OIDC_CLIENT_SECRET, WARREN_OIDC_REDIRECT_URL and WARREN_OIDC_MAPPING",
  );
export const refused = (why: string) => new WarrenError("UNAUTHENTICATED", `sign-in failed: ${why}`);

/** The config from WARREN_OIDC_* variables, or undefined when WARREN_OIDC_ISSUER is unset. */
export function oidcConfigFromEnv(env: NodeJS.ProcessEnv = process.env): OidcConfig | undefined {
  const issuer = env["WARREN_OIDC_ISSUER"];
  if (!issuer) return undefined;
  const clientId = env["WARREN_OIDC_CLIENT_ID"];
  const redirectUrl = env["WARREN_OIDC_REDIRECT_URL"];
  if (!clientId || !redirectUrl) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "WARREN_OIDC_ISSUER is set, so WARREN_OIDC_CLIENT_ID and WARREN_OIDC_REDIRECT_URL must be too",
    );
  }
  return {
    issuer,
    clientId,
    clientSecret: env["WARREN_OIDC_CLIENT_SECRET"] || undefined,
    redirectUrl,
    mapping: parseMapping(env["WARREN_OIDC_MAPPING"] ?? "[]"),
  };
}

export function parseMapping(raw: string): OidcMappingRule[] {
  const bad = (why: string) =>
    new WarrenError(
      "INVALID_ARGUMENT",
      `WARREN_OIDC_MAPPING ${why}; expected JSON like ` +
        '[{"group":"eng","org":"default","role":"member"},{"emailDomain":"example.com","org":"default","role":"admin"}]',
    );
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw bad("is not JSON");
  }
  if (!Array.isArray(v)) throw bad("is not a list");
  return v.map((r: unknown, i) => {
    const o = r as Partial<OidcMappingRule> | null;
    if (typeof o !== "object" || o === null) throw bad(`entry ${i} is not an object`);
    if (typeof o.org !== "string" || !o.org) throw bad(`entry ${i} has no "org"`);
    if (o.role !== "member" && o.role !== "admin" && o.role !== "owner")
      throw bad(`entry ${i} has no valid "role" (member, admin or owner)`);
    const hasGroup = typeof o.group === "string" && o.group !== "";
    const hasDomain = typeof o.emailDomain === "string" && o.emailDomain !== "";
    if (hasGroup === hasDomain) throw bad(`entry ${i} needs exactly one of "group" or "emailDomain"`);
    return hasGroup
      ? { group: o.group as string, org: o.org, role: o.role }
      : { emailDomain: (o.emailDomain as string).toLowerCase().replace(/^@/, ""), org: o.org, role: o.role };
  });
}

/** The rules a user's claims match, in configuration order. */
export function matchRules(
  rules: OidcMappingRule[],
  claims: Record<string, unknown>,
  groupsClaim = "groups",
) {
  const rawGroups = claims[groupsClaim];
  const groups = new Set(
    Array.isArray(rawGroups) ? rawGroups.map(String) : typeof rawGroups === "string" ? [rawGroups] : [],
  );
  const email = typeof claims["email"] === "string" ? claims["email"].toLowerCase() : "";
  // An unverified address proves nothing about its domain, and only the boolean true says it was
  // verified: a missing claim, "true" or "false" as strings, 1, all count as unverified.
  const domain =
    email.includes("@") && claims["email_verified"] === true ? email.split("@").pop() : undefined;
  return rules.filter((r) => (r.group !== undefined ? groups.has(r.group) : r.emailDomain === domain));
}
