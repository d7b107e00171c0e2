// Where a request to the port proxy goes, and whether it may: the Host names an environment port
// (ingress/port-host.ts), the environment exists (services/port-targets.ts), the port's visibility
// and the organisation's policy allow it, and the visitor's session does (ingress/port-auth.ts).
// The answer is either a page to send or a target to forward to; sending it is the caller's, as
// a normal request answers on its ServerResponse and an upgrade on its raw socket.
import type { IncomingMessage } from "node:http";
import type { Actor } from "../services/actor.ts";
import type { PortTarget, PortTargetLookup } from "../services/port-targets.ts";
import type { PortAuthTarget, ProxyActivity, ProxyAuth, ProxyPorts } from "./http-proxy-contracts.ts";
import {
  asleepPage,
  badHostPage,
  deniedPage,
  NOT_FOUND_PAGE,
  type ProxyPage,
  publicForbiddenPage,
} from "./http-proxy-pages.ts";
import { parsePortHost } from "./port-host.ts";

export interface RouteDeps {
  baseDomain: string;
  targets: PortTargetLookup;
  ports: ProxyPorts;
  auth: ProxyAuth;
  activity: ProxyActivity;
}

export interface Addressed {
  /** The Host header as sent (validated). */
  host: string;
  /** Without the port: what cookies and Set-Cookie domains are compared with. */
  hostname: string;
  port: number;
  ref: { env: string; org?: string };
}

export type PageAnswer = { kind: "page"; page: ProxyPage; headers?: Record<string, string> };

export type Routed =
  | PageAnswer
  | {
      kind: "forward";
      target: PortTarget;
      port: number;
      hostname: string;
      /** The signed-in visitor, if any (anonymous on a public port otherwise). */
      actor?: Actor;
      /** The visitor's port session: what it forwards ends when the session does. */
      sessionId?: string;
      /** Stopped: forward only after a wake (which needs `actor`). */
      asleep: boolean;
    };

function page(p: ProxyPage, headers?: Record<string, string>): PageAnswer {
  return { kind: "page", page: p, ...(headers ? { headers } : {}) };
}

/** The Host and request target checks that need no lookup. */
export function addressOf(req: IncomingMessage, baseDomain: string): Addressed | PageAnswer {
  let hosts = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === "host") hosts++;
  const host = req.headers.host;
  // node keeps the first of two Host headers; a backend that kept the other would route elsewhere.
  if (hosts !== 1 || host === undefined) return page(badHostPage("exactly one Host header is required"));
  // Only origin-form (`/path`): an absolute URL could name a different host than the Host header.
  if (!req.url?.startsWith("/")) {
    return page(badHostPage("the request target must be a path (origin-form), not an absolute URL"));
  }
  const parsed = parsePortHost(host, baseDomain);
  if ("error" in parsed) {
    return parsed.error === 404 ? page(NOT_FOUND_PAGE) : page(badHostPage(parsed.message));
  }
  const hostname = host.replace(/:[0-9]+$/, "");
  const ref = parsed.org !== undefined ? { env: parsed.env, org: parsed.org } : { env: parsed.env };
  return { host, hostname, port: parsed.port, ref };
}

/** Visibility, policy and the visitor's session; records activity for signed-in visitors. */
export async function authorize(d: RouteDeps, req: IncomingMessage, a: Addressed): Promise<Routed> {
  const target = await d.targets.resolve(a.ref);
  if (!target) return page(NOT_FOUND_PAGE);
  const visibility = await d.ports.visibility(target.envId, a.port);
  if (visibility === "public" && !(await d.ports.publicAllowed(target.orgId))) {
    return page(publicForbiddenPage());
  }
  const authTarget: PortAuthTarget = {
    envId: target.envId,
    orgId: target.orgId,
    ownerId: target.ownerId,
    port: a.port,
    host: a.hostname,
    visibility,
  };
  const decision = await d.auth.decide(req, authTarget);
  if (decision.kind === "redirect") {
    return page(
      { status: 302, title: "Sign in", message: "This port is private: sign in to continue." },
      { location: decision.location },
    );
  }
  if (decision.kind === "deny") return page(deniedPage(decision.status, decision.message));
  const refused = d.auth.csrfRefused(req, authTarget);
  if (refused !== undefined) {
    return page({ status: 403, title: "Refused", message: `This request was refused: ${refused}.` });
  }
  const actor = decision.actor;
  if (actor?.kind === "user") d.activity.record(target.envId, "http", actor.userId);
  if (!target.running && actor === undefined) return page(asleepPage(target.envName));
  return {
    kind: "forward",
    target,
    port: a.port,
    hostname: a.hostname,
    ...(actor ? { actor } : {}),
    ...(decision.sessionId !== undefined ? { sessionId: decision.sessionId } : {}),
    asleep: !target.running,
  };
}
