// The control plane's half of port sign-in: it works out the port URL from (environment, port),
// never from anything the browser sends, checks that the user may use that port now, and issues a
// single-use code bound to that URL's host (port-sessions.ts). The link it returns,
// `<port URL>/__warren/auth?code=…`, is what `warren port open` prints or opens, and where an OIDC
// sign-in started from a port URL ends. No token is ever put in a URL: the code names a sign-in
// that already happened, is good for 60 s, and works once.
import { type Role, WarrenError } from "@warren/protocol";
import type { Actor } from "../services/actor.ts";
import { requireUser } from "../services/actor.ts";
import { canSeeEnv, ownershipOf } from "../services/scope.ts";
import type { Queryable } from "../store/queries/envs.ts";
import { findEnv, getEnvById } from "../store/queries/envs.ts";
import { getOrg } from "../store/queries/identity.ts";
import { AUTH_PATH } from "./port-auth.ts";
import { admits, type PortGrant, type PortSessions, type PortVisibility } from "./port-sessions.ts";

/** What the proxy's URL builder (port-host.ts portUrl) needs besides its own scheme and domain. */
export interface PortUrlTarget {
  port: number;
  envId: string;
  envName: string;
  orgName: string;
}

export interface PortSignInLink {
  url: string;
  expiresAt: string;
}

/** A user who signed in through OIDC: no token, the membership is the credential. */
export interface OidcPortUser {
  userId: string;
  orgId: string;
  role: Role;
}

export interface PortSignIn {
  /** `warren port open ENV PORT`: a one-time link for the calling user. */
  link(a: Actor, envName: string, port: number): Promise<PortSignInLink>;
  /** The end of an OIDC sign-in started at a port URL (by environment id): the same link. */
  linkForOidc(user: OidcPortUser, envId: string, port: number): Promise<PortSignInLink>;
}

export function createPortSignIn(o: {
  db: Queryable;
  sessions: PortSessions;
  visibility: (envId: string, port: number) => Promise<PortVisibility>;
  /** The port's URL (`http://3000--dev--acme.localhost:8080`), or undefined when no proxy listens. */
  urlFor: (t: PortUrlTarget) => string | undefined;
}): PortSignIn {
  const notFound = (name: string) =>
    new WarrenError("ENV_NOT_FOUND", `environment "${name}" does not exist; run \`warren ls\` to see them`, {
      name,
    });

  async function issue(
    row: NonNullable<Awaited<ReturnType<typeof findEnv>>>,
    port: number,
    who: Omit<PortGrant, "host" | "envId" | "port" | "envOrgId" | "ownerId">,
    seen: boolean,
    asked: string,
  ): Promise<PortSignInLink> {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `port ${port} is out of range; give a TCP port from 1 to 65535`,
      );
    const own = ownershipOf(row);
    if (own.org_id !== who.orgId) throw notFound(asked);
    const v = await o.visibility(row.id, port);
    const admitted = admits(v, who, { envOrgId: own.org_id, ownerId: own.owner_id });
    // A member may not know another member's environment exists; an admin may, and is told why below.
    if (!admitted && !seen) throw notFound(asked);
    const org = await getOrg(o.db, own.org_id);
    const base = o.urlFor({ port, envId: row.id, envName: row.name, orgName: org?.name ?? own.org_id });
    if (base === undefined)
      throw new WarrenError(
        "INVALID_ARGUMENT",
        "this server runs no port proxy, so ports have no URLs; start the daemon with --http-listen HOST:PORT",
      );
    if (!admitted)
      throw new WarrenError(
        "FORBIDDEN",
        `port ${port} of environment "${row.name}" is private to its owner; ` +
          `they can share it with \`warren port set ${row.name} ${port} --visibility org\``,
      );
    const host = new URL(base).host;
    const { code, expiresAt } = o.sessions.issueCode({
      ...who,
      host,
      envId: row.id,
      port,
      envOrgId: own.org_id,
      ownerId: own.owner_id,
    });
    const url = new URL(AUTH_PATH, base);
    url.searchParams.set("code", code);
    return { url: url.toString(), expiresAt: new Date(expiresAt).toISOString() };
  }

  return {
    async link(a, envName, port) {
      const user = requireUser(a, "a port sign-in link");
      const row = await findEnv(o.db, envName, user.orgId);
      if (!row) throw notFound(envName);
      return issue(
        row,
        port,
        {
          userId: user.userId,
          orgId: user.orgId,
          role: user.role,
          tokenId: user.tokenId,
          via: user.via === "local-socket" ? "local-socket" : "token",
        },
        canSeeEnv(user, row),
        envName,
      );
    },

    async linkForOidc(user, envId, port) {
      const row = await getEnvById(o.db, envId);
      if (!row) throw notFound(envId);
      const actor: Actor = { kind: "user", ...user, via: "token" };
      return issue(row, port, { ...user, via: "oidc" }, canSeeEnv(actor, row), envId);
    },
  };
}
