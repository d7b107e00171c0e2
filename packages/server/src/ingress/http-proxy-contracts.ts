// What the port proxy needs from its neighbours, as the shapes it calls: port visibility
// (services/ports.ts), sign-in and sessions (ingress/port-auth.ts), activity for idle stop
// (services/activity.ts) and the "starting…" page (ingress/wake-page.ts). Declared here
// structurally so the proxy depends on the calls it makes, not on those modules' other exports.
//
// The fallbacks used when a neighbour is not wired fail closed: every port private, nobody signed
// in (so nothing but an allowed public port is reachable), no wake page beyond a plain hold.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Actor } from "../services/actor.ts";

export type PortVisibility = "private" | "org" | "public";

export interface ProxyPorts {
  /** A port's visibility; "private" when nobody set one. */
  visibility(envId: string, port: number): Promise<PortVisibility>;
  /** Whether the organisation's policy allows public ports (`warren quota set --public-ports`). */
  publicAllowed(orgId: string): Promise<boolean>;
}

export interface PortAuthTarget {
  envId: string;
  orgId: string;
  ownerId: string;
  port: number;
  host: string;
  visibility: PortVisibility;
}

export type PortDecision =
  | { kind: "allow"; actor?: Actor; sessionId?: string }
  | { kind: "redirect"; location: string }
  | { kind: "deny"; status: 403 | 404; message: string };

export interface ProxyAuth {
  decide(req: IncomingMessage, target: PortAuthTarget): Promise<PortDecision>;
  /** The proxy's own paths on a port host (/__warren/auth, /__warren/signout); true if handled. */
  handleAuthPath(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** A reason when a state-changing request or an upgrade comes from another environment's origin. */
  csrfRefused(req: IncomingMessage, target: PortAuthTarget): string | undefined;
  /** Calls `cb` when the session ends (sign-out, revocation, stricter visibility); returns an unsubscribe. */
  onSessionEnd?(sessionId: string, cb: (why: string) => void): () => void;
}

export interface ProxyActivity {
  record(envId: string, kind: "http", source: string): void;
}

/** Traffic per environment, for the control plane's metrics (metrics/ingress.ts). */
export interface ProxyObserver {
  /** A request (or WebSocket handshake) forwarded to the environment. */
  request(envId: string): void;
  /** Body or WebSocket bytes: to_env from the client, from_env from the app. */
  bytes(envId: string, direction: "to_env" | "from_env", n: number): void;
  /** A WebSocket joined; the returned function is called when it closes. */
  websocketOpened(envId: string): () => void;
}

/**
 * Holds a request while its environment starts. True: it runs now, forward the request. False:
 * the response was answered (a "starting…" page, or a 504 after the timeout).
 */
export type HoldForWake = (
  res: ServerResponse,
  env: { id: string; name: string },
  wake: (signal: AbortSignal) => Promise<unknown>,
  opts: { req: IncomingMessage },
) => Promise<boolean>;

/** Every port private and no policy allowing public ones. */
export const privatePorts: ProxyPorts = {
  visibility: async () => "private",
  publicAllowed: async () => false,
};

/** No sign-in: only public ports are reachable, anonymously; everything else is "not found". */
export const noSignIn: ProxyAuth = {
  decide: async (_req, t) =>
    t.visibility === "public" ? { kind: "allow" } : { kind: "deny", status: 404, message: "not found" },
  handleAuthPath: async () => false,
  csrfRefused: () => undefined,
};

export const noActivity: ProxyActivity = { record: () => {} };
