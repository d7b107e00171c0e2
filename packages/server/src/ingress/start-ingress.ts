// Starting the control plane's two ingress listeners, the SSH gateway and the port proxy, with
// what they need from the daemon; port sign-in, which joins the API (codes) to the proxy
// (sessions); and the control-plane host on the proxy's listener (the API and the dashboard). Kept out of daemon.ts so the daemon reads as the list of its parts.
import type { RunnerApi } from "@warren/protocol";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { Clock } from "../clock.ts";
import { dashboardOidcStartUrl } from "../http/dashboard-oidc.ts";
import { createDashboardSite } from "../http/dashboard-site.ts";
import { parseListen } from "../http/listen-tls.ts";
import { portOidcSignInUrl } from "../http/routes-port-oidc.ts";
import type { Logger } from "../logger.ts";
import type { ActivityTracker } from "../services/activity.ts";
import type { EnvWaker } from "../services/env-wake.ts";
import type { LiveSessions } from "../services/live-sessions.ts";
import { createPortTargetLookup } from "../services/port-targets.ts";
import type { PortService } from "../services/ports.ts";
import { secretsBox } from "../services/secrets.ts";
import { createSshHostKeyService } from "../services/ssh-host-key.ts";
import { createSshLoginService } from "../services/ssh-logins.ts";
import type { Db } from "../store/db.ts";
import type { ControlPlaneHost } from "./control-host.ts";
import type { DashboardSessions } from "./dashboard-sessions.ts";
import type { HttpProxy } from "./http-proxy.ts";
import type { ProxyObserver } from "./http-proxy-contracts.ts";
import { type PortProxyDaemonOptions, startPortProxy } from "./http-proxy-start.ts";
import type { Dial } from "./http-proxy-upstream.ts";
import { createPortAuth } from "./port-auth.ts";
import { parsePortHost, portUrl } from "./port-host.ts";
import { createPortSessions, type PortSessions } from "./port-sessions.ts";
import { createPortSignIn, type PortSignIn } from "./port-signin.ts";
import { cachedRouteLookups } from "./route-cache.ts";
import { type SshGateway, type SshGatewayOptions, startSshGateway } from "./ssh-gateway.ts";
import { holdForWake } from "./wake-page.ts";

interface Common {
  db: Db;
  clock: Clock;
  root: string;
  logger: FastifyBaseLogger;
}

/** The SSH gateway when asked for; an optional address that is taken only logs (running without it). */
export async function startSshIngress(
  o: Common & {
    listen: string | undefined;
    optional: boolean;
  } & Pick<
      SshGatewayOptions,
      "envs" | "sshKeys" | "sessions" | "wake" | "activity" | "audit" | "onAttach" | "observer" | "wrapTarget"
    >,
): Promise<SshGateway | undefined> {
  if (o.listen === undefined) return undefined;
  try {
    return await startSshGateway({
      ...parseListen(o.listen),
      hostKeys: createSshHostKeyService({ db: o.db, clock: o.clock, box: secretsBox(o.root) }),
      logins: createSshLoginService({ db: o.db }),
      envs: o.envs,
      sshKeys: o.sshKeys,
      sessions: o.sessions,
      wake: o.wake,
      activity: o.activity,
      audit: o.audit,
      onAttach: o.onAttach,
      observer: o.observer,
      wrapTarget: o.wrapTarget,
      logger: o.logger.child({ component: "ssh-gateway" }),
    });
  } catch (err) {
    if (!o.optional) throw err;
    o.logger.warn({ err, listen: o.listen }, "the SSH gateway could not listen; running without it");
    return undefined;
  }
}

/**
 * Port URL sign-in: single-use codes from the API, sessions the proxy checks. Revoking a token,
 * removing a member or making a port stricter ends the sessions it no longer admits.
 */
export function createPortSignInParts(o: {
  db: Db;
  clock: Clock;
  sessions: LiveSessions;
  ports: PortService;
  proxy: () => HttpProxy | undefined;
}): { portSessions: PortSessions; portSignIn: PortSignIn } {
  const portSessions = createPortSessions({ clock: o.clock, live: o.sessions });
  o.ports.onTightened((e, p, v) => portSessions.tightened(e, p, v));
  const portSignIn = createPortSignIn({
    db: o.db,
    sessions: portSessions,
    visibility: (e, p) => o.ports.visibility(e, p),
    urlFor: (t) => {
      const i = o.proxy()?.info();
      return i?.listening
        ? portUrl({ scheme: i.scheme, baseDomain: i.baseDomain, listenPort: i.port, ...t })
        : undefined;
    },
  });
  return { portSessions, portSignIn };
}

/** The port proxy (when configured), its lookups memoised, its sign-in through OIDC when that is set up. */
export function startPortIngress(
  o: Common & {
    config: PortProxyDaemonOptions | undefined;
    embedded: boolean;
    ports: PortService;
    portSessions: PortSessions;
    activity: ActivityTracker;
    /** The OIDC callback URL, whose origin is the control plane's own. */
    oidcRedirectUrl: string | undefined;
    runner: Pick<RunnerApi, "dial">;
    /** Upstream dials instead of the runner's own (relayed when another replica holds it). */
    dial?: Dial | undefined;
    wake: EnvWaker;
    /** The control plane's API and dashboard on `warren.<base>` (control-host.ts). */
    control?: ControlPlaneHost | undefined;
    /** Requests, bytes and WebSockets per environment (metrics/ingress.ts). */
    observer?: ProxyObserver | undefined;
  },
): Promise<HttpProxy | undefined> {
  const cfg = o.config;
  const targets = createPortTargetLookup({ db: o.db });
  const oidc = o.oidcRedirectUrl;
  return startPortProxy(
    { ...cfg, root: o.root, embedded: o.embedded },
    {
      ...cfg,
      // Tests pass their own ports; the daemon's go through the one-second memo.
      ...(cfg?.ports ? { targets, ports: cfg.ports } : cachedRouteLookups(o.clock, targets, o.ports)),
      activity: cfg?.activity ?? o.activity,
      holdForWake: cfg?.holdForWake ?? holdForWake,
      makeAuth: ({ scheme, baseDomain }) =>
        createPortAuth({
          sessions: o.portSessions,
          scheme,
          parseHost: (h) => parsePortHost(h, baseDomain),
          // With OIDC, a visitor signs in at the control plane (the origin of its callback URL).
          signInUrl: oidc ? (t) => portOidcSignInUrl(oidc, t) : undefined,
        }),
      dial: o.dial ?? ((id, p) => o.runner.dial(id, p)),
      wake: o.wake,
      control: o.control,
      observer: o.observer,
    },
    o.logger.child({ component: "port-proxy" }),
  );
}

/**
 * The control-plane host of the ingress listener: API requests into the app the unix socket
 * serves (it must be ready: listening already), everything else the dashboard.
 */
export function controlPlaneHost(
  app: FastifyInstance,
  o: {
    sessions: DashboardSessions;
    logger: Logger;
    dashboardDir?: string | undefined;
    /** The OIDC callback URL when OIDC is set up: /auth/oidc starts a sign-in on its origin. */
    oidcRedirectUrl?: string | undefined;
  },
): ControlPlaneHost {
  const oidcStart = o.oidcRedirectUrl === undefined ? undefined : dashboardOidcStartUrl(o.oidcRedirectUrl);
  return {
    api: (req, res) => app.routing(req, res),
    // @fastify/websocket handles upgrades on app.server (as for the TLS listener, listen-tls.ts).
    upgrade: (req, socket, head) => app.server.emit("upgrade", req, socket, head),
    site: createDashboardSite({
      sessions: o.sessions,
      dir: o.dashboardDir,
      oidcStartUrl: () => oidcStart,
      logger: o.logger,
    }),
  };
}
