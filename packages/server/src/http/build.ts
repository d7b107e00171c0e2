// The HTTP app factory. No I/O at import or build time, so tests drive it with inject().

import websocket from "@fastify/websocket";
import {
  type HttpProxyInfo,
  MAX_WIRE_FRAME,
  type RunnerApi,
  type SshGatewayInfo,
  WarrenError,
} from "@warren/protocol";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import { type BlobUrlRouteOptions, blobUrlRoutes } from "../blobstore/http-routes.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { DashboardSessions } from "../ingress/dashboard-sessions.ts";
import type { PortSignIn } from "../ingress/port-signin.ts";
import { type ControlPlaneMetrics, createControlPlaneMetrics } from "../metrics/control-plane.ts";
import { installHttpMetrics } from "../metrics/http-hook.ts";
import { metricsRoutes } from "../metrics/routes.ts";
import { installRelay, type RelayRouting } from "../relay/relay-hook.ts";
import type { RunnerHub } from "../runners/hub.ts";
import type { ActivityTracker } from "../services/activity.ts";
import type { AuditService } from "../services/audit.ts";
import { automationServiceFor } from "../services/automations.ts";
import type { ClassService } from "../services/classes.ts";
import { type EnvWaker, requireRunningWaker } from "../services/env-wake.ts";
import type { EnvironmentService } from "../services/environments.ts";
import { createFleetService, type FleetService } from "../services/fleet.ts";
import { createHostService, type HostService } from "../services/host.ts";
import type { IdentityService } from "../services/identity.ts";
import type { ImageService } from "../services/images.ts";
import { createLiveSessions, type LiveSessions } from "../services/live-sessions.ts";
import type { OidcService } from "../services/oidc.ts";
import { createPoolService, type PoolService } from "../services/pools.ts";
import { createPortService, type PortService } from "../services/ports.ts";
import { createPrebuildService, type PrebuildService } from "../services/prebuilds.ts";
import type { QuotaService } from "../services/quotas.ts";
import type { RegistryLoginService } from "../services/registry-logins.ts";
import { oneRunner } from "../services/runner-for.ts";
import type { SecretService } from "../services/secrets.ts";
import type { SetupService } from "../services/setups.ts";
import type { SshKeyService } from "../services/ssh-keys.ts";
import { createUsageService } from "../services/usage.ts";
import { createUserGitService } from "../services/user-git.ts";
import type { EnvWatchService } from "../services/watch.ts";
import type { Db } from "../store/db.ts";
import { WARREN_VERSION } from "../version.ts";
import { installAudit } from "./audit-hook.ts";
import { installAuth } from "./auth.ts";
import { createAuthFailureGuard } from "./auth-failures.ts";
import { createDashboardCookieAuth, EXEC_PROTOCOL } from "./dashboard-auth.ts";
import { landOnDashboard } from "./dashboard-oidc.ts";
import { dashboardRoutes } from "./dashboard-routes.ts";
import { installErrorHandlers } from "./errors.ts";
import { execRoutes } from "./exec-ws.ts";
import { installGuards } from "./guards.ts";
import { openApiRoutes, type RouteDoc } from "./openapi.ts";
import type { RateLimitOptions } from "./rate-limit.ts";
import { installResponseValidation, responseValidationEnabled } from "./response-validation.ts";
import { adminRoutes } from "./routes-admin.ts";
import { auditRoutes } from "./routes-audit.ts";
import { authRoutes } from "./routes-auth.ts";
import { automationRoutes } from "./routes-automations.ts";
import { classRoutes } from "./routes-classes.ts";
import { dnsRoutes } from "./routes-dns.ts";
import { environmentRoutes } from "./routes-environments.ts";
import { fleetRoutes } from "./routes-fleet.ts";
import { httpProxyRoutes } from "./routes-http-proxy.ts";
import { imageRoutes } from "./routes-images.ts";
import { logRoutes } from "./routes-logs.ts";
import { poolRoutes } from "./routes-pools.ts";
import { portForwardRoutes } from "./routes-port-forward.ts";
import { portSignInRoutes } from "./routes-port-signin.ts";
import { portRoutes } from "./routes-ports.ts";
import { prebuildRoutes } from "./routes-prebuilds.ts";
import { registryRoutes } from "./routes-registries.ts";
import { runnerRoutes } from "./routes-runner.ts";
import { secretRoutes } from "./routes-secrets.ts";
import { setupRoutes } from "./routes-setup.ts";
import { sshGatewayRoutes } from "./routes-ssh-gateway.ts";
import { sshKeyRoutes } from "./routes-ssh-keys.ts";
import { statsRoutes } from "./routes-stats.ts";
import { systemRoutes } from "./routes-system.ts";
import { usageRoutes } from "./routes-usage.ts";
import { userGitRoutes } from "./routes-user-git.ts";
import type { TransportKind } from "./transport.ts";

export interface HttpDeps {
  envs: EnvironmentService;
  classes: ClassService;
  images: ImageService;
  registries: RegistryLoginService;
  /** The runner's host facts and DNS counters. */
  host: HostService;
  version: string;
  /** Aborts when the daemon shuts down, ending follows and waits. */
  shutdown: AbortSignal | undefined;
  /** Environment watches (?watch=1); without it they are refused. */
  watch?: EnvWatchService | undefined;
  /** The audit trail; exec sessions record themselves through it. */
  audit?: AuditService | undefined;
  /** Long-lived sessions (exec, log follows, watches) register here to end on revocation. */
  sessions: LiveSessions;
  /** Starts a stopped environment for exec and port-forward and waits until it runs. */
  wake: EnvWaker;
  /** Terminal use keeps environments up (services/activity.ts); absent: nothing is recorded. */
  activity?: ActivityTracker | undefined;
  /** Repository environments: an interactive exec runs postAttachCommand. */
  setups?: SetupService | undefined;
}

export interface BuildOptions {
  envs: EnvironmentService;
  classes: ClassService;
  images: ImageService;
  /** Registry logins; without it the routes answer that logins are not configured. */
  registries?: RegistryLoginService;
  /** The runner behind `host` when that is not given (embedded mode and tests: one runner). */
  runner: RunnerApi;
  /** Host facts per organisation's runner; default: from `runner`. */
  host?: HostService;
  version?: string;
  shutdown?: AbortSignal;
  /** A pino-compatible logger instance, or fastify's logger option (default: JSON at info). */
  logger?: FastifyBaseLogger | FastifyServerOptions["logger"];
  /** Tokens, users and organisations; without it only root on the local socket gets in. */
  identity?: IdentityService;
  /** "tls" for an app that serves only remote listeners: no request is the local root (http/auth.ts). */
  transport?: TransportKind;
  /** The store: durable Idempotency-Key records (http/idempotency.ts). */
  db?: Db;
  /** Environment watches over SSE (services/watch.ts). */
  watch?: EnvWatchService;
  /** Per-token and per-IP limits (http/rate-limit.ts); off unless given. */
  rateLimit?: RateLimitOptions;
  /** For idempotency expiry and rate limits. */
  clock?: Clock;
  /** The audit trail (services/audit.ts); without it nothing is recorded and the log is refused. */
  audit?: AuditService;
  /** Organisation quotas (services/quotas.ts); the checks themselves live in the services. */
  quotas?: QuotaService;
  /** OIDC sign-in and the device-code flow (services/oidc.ts); without it those routes say so. */
  oidc?: OidcService;
  /** Environment secrets (services/secrets.ts); without it writes are refused. */
  secrets?: SecretService;
  /** Users' SSH public keys (services/ssh-keys.ts); without it the routes say so. */
  sshKeys?: SshKeyService;
  /** The SSH gateway's address and host key (ingress/ssh-gateway.ts), once it listens. */
  sshGateway?: () => SshGatewayInfo | undefined;
  /** The port proxy's address and base domain (ingress/http-proxy.ts), once it listens. */
  httpProxy?: () => HttpProxyInfo | undefined;
  /**
   * Check every /api/v1 response against the OpenAPI document (http/response-validation.ts);
   * default: on when WARREN_VALIDATE_RESPONSES=1 (the test runner sets it).
   */
  validateResponses?: boolean;
  /** Remote runners (`warren server`): serves /api/runner/v1/connect. Embedded mode has none. */
  runnerHub?: RunnerHub;
  /**
   * Live sessions that end when their credential is revoked (services/live-sessions.ts); the
   * daemon shares one with the identity service. Default: a registry of this app's own.
   */
  sessions?: LiveSessions;
  /**
   * Waking stopped environments for exec and port-forward (services/env-wake.ts); the daemon
   * passes one. Default: none, a stopped environment is refused with ENV_NOT_RUNNING.
   */
  wake?: EnvWaker;
  /** Idle stop's activity tracker (services/activity.ts); the daemon passes its one. */
  activity?: ActivityTracker;
  /**
   * Port visibility and detection (services/ports.ts); the daemon passes the one the proxy uses.
   * Default with `db`: one of this app's own, without port URLs.
   */
  ports?: PortService;
  /** One-time sign-in links for port URLs (ingress/port-signin.ts); without it the route says no proxy runs. */
  portSignIn?: PortSignIn;
  /** Repository environments: uploads, rebuild, hooks (services/setups.ts). */
  setups?: SetupService;
  /** Prebuilds (services/prebuilds.ts); without it the routes say they are not configured. */
  prebuilds?: PrebuildService;
  /** Warm pools (services/pools.ts); default with `db`: one whose changes wait for the next resync. */
  pools?: PoolService;
  /**
   * The dashboard's cookie sessions (ingress/dashboard-sessions.ts); with `db`, a request with its
   * cookie, CSRF token and Origin authenticates (http/dashboard-auth.ts). Without: cookies are ignored.
   */
  dashboard?: DashboardSessions;
  /** Prometheus series (/metrics); the daemon shares its one with the queue and store. Default: this app's own. */
  metrics?: ControlPlaneMetrics;
  /**
   * The fleet's API (services/fleet.ts). Default with `db`: from the store, with `runnerHub`'s live
   * reports of the runners it holds, or else with `runner` as the embedded daemon's one.
   */
  fleet?: FleetService;
  /** Relays of live calls to the replica holding the runner (relay/relay-hook.ts); off without it. */
  relay?: RelayRouting | undefined;
  /** The filesystem blob store's presigned URLs (/blob/v1/…, blobstore/http-routes.ts); off without it. */
  blobUrls?: BlobUrlRouteOptions | undefined;
}

export const BODY_LIMIT = 1024 * 1024;

export function build(opts: BuildOptions): FastifyInstance {
  const logOpts: Pick<FastifyServerOptions, "logger" | "loggerInstance"> = isLoggerInstance(opts.logger)
    ? { loggerInstance: opts.logger }
    : { logger: opts.logger ?? { level: "info" } };
  const app = Fastify({
    ...logOpts,
    bodyLimit: BODY_LIMIT,
    // One access-log line per request (below) instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Leave the default AJV coercion on for querystrings only (tail=10 -> 10), but never
    // strip or default-fill bodies silently.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: false } },
  }) as unknown as FastifyInstance;
  const deps: HttpDeps = {
    envs: opts.envs,
    classes: opts.classes,
    images: opts.images,
    registries: opts.registries ?? noRegistryLogins,
    host: opts.host ?? createHostService({ runnerFor: oneRunner(opts.runner) }),
    version: opts.version ?? WARREN_VERSION,
    shutdown: opts.shutdown,
    watch: opts.watch,
    audit: opts.audit,
    sessions: opts.sessions ?? createLiveSessions({ clock: opts.clock ?? systemClock, logger: app.log }),
    wake: opts.wake ?? requireRunningWaker(opts.envs),
    activity: opts.activity,
    setups: opts.setups,
  };
  // Response schemas document the API (openapi.ts) and tests check replies against them, but they
  // must never change a reply: fast-json-stringify would drop or coerce anything a schema missed.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // Every route as registered, for the OpenAPI document; hooks added here reach the scoped plugin.
  const routes: RouteDoc[] = [];
  app.addHook("onRoute", (r) => {
    routes.push({ method: r.method, url: r.url, schema: r.schema });
  });
  app.addHook("onResponse", (req, reply, done) => {
    req.log.info(
      {
        method: req.method,
        url: req.routeOptions.url ?? req.url.split("?", 1)[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      "request",
    );
    done();
  });
  const metrics = opts.metrics ?? createControlPlaneMetrics({ processMetrics: false });
  installHttpMetrics(app, metrics);
  installErrorHandlers(app);
  if (responseValidationEnabled(opts.validateResponses))
    installResponseValidation(app, routes, () => deps.version);
  const failures = createAuthFailureGuard({
    rateLimit: opts.rateLimit,
    audit: opts.audit,
    clock: opts.clock,
  });
  const dashboardCookies =
    opts.dashboard && opts.db
      ? createDashboardCookieAuth({ sessions: opts.dashboard, db: opts.db, clock: opts.clock ?? systemClock })
      : undefined;
  installAuth(app, {
    identity: opts.identity,
    transport: opts.transport ?? "local",
    failures,
    dashboard: dashboardCookies,
  });
  // Its onSend before the idempotency guard's: the record rides on the kept answer's commit.
  installAudit(app, opts.audit);
  installGuards(app, { db: opts.db, rateLimit: opts.rateLimit, clock: opts.clock });
  // After authentication and the rate limits: only callers this replica admitted are relayed.
  if (opts.relay) installRelay(app, { ...opts.relay, envs: opts.envs });
  // Runner-protocol replies (an image list, every environment a host has) can pass the 1 MiB
  // body limit; MAX_WIRE_FRAME bounds them instead. Exec frames are small either way.
  void app.register(websocket, {
    // The dashboard offers ["warren.exec", "csrf.<token>"]: only the first is ever echoed back.
    options: {
      maxPayload: MAX_WIRE_FRAME,
      handleProtocols: (offered) => offered.has(EXEC_PROTOCOL) && EXEC_PROTOCOL,
    },
  });
  void app.register(async (scoped) => {
    systemRoutes(scoped, deps);
    environmentRoutes(scoped, deps);
    logRoutes(scoped, deps);
    statsRoutes(scoped, deps);
    execRoutes(scoped, deps);
    portForwardRoutes(scoped, deps);
    portRoutes(
      scoped,
      opts.ports ??
        (opts.db
          ? createPortService({
              db: opts.db,
              clock: opts.clock ?? systemClock,
              envs: opts.envs,
              runner: opts.runner,
            })
          : undefined),
    );
    portSignInRoutes(scoped, deps, opts.portSignIn);
    automationRoutes(scoped, opts.db ? automationServiceFor(opts.envs, opts.runner, opts.db) : undefined);
    classRoutes(scoped, deps);
    imageRoutes(scoped, deps);
    registryRoutes(scoped, deps);
    dnsRoutes(scoped, deps);
    adminRoutes(scoped, opts.identity);
    auditRoutes(scoped, opts.audit, opts.quotas);
    authRoutes(
      scoped,
      opts.oidc,
      opts.portSignIn,
      landOnDashboard({ cookies: dashboardCookies, httpProxy: opts.httpProxy }),
    );
    dashboardRoutes(scoped, {
      cookies: dashboardCookies,
      identity: opts.identity,
      httpProxy: opts.httpProxy,
      failures,
      oidc: opts.oidc,
    });
    secretRoutes(scoped, opts.secrets);
    sshKeyRoutes(scoped, opts.sshKeys);
    userGitRoutes(scoped, opts.db && createUserGitService({ db: opts.db, clock: opts.clock ?? systemClock }));
    usageRoutes(scoped, opts.db && createUsageService({ db: opts.db, clock: opts.clock ?? systemClock }));
    fleetRoutes(scoped, opts.fleet ?? (opts.db ? defaultFleet(opts, opts.db) : undefined));
    sshGatewayRoutes(scoped, opts.sshGateway);
    httpProxyRoutes(scoped, opts.httpProxy);
    runnerRoutes(scoped, opts.runnerHub, opts.audit, deps.sessions);
    setupRoutes(scoped, opts.setups, opts.envs);
    poolRoutes(
      scoped,
      opts.pools ??
        (opts.db ? createPoolService({ db: opts.db, clock: opts.clock ?? systemClock }) : undefined),
    );
    prebuildRoutes(
      scoped,
      opts.prebuilds ??
        (opts.db
          ? createPrebuildService({
              db: opts.db,
              clock: opts.clock ?? systemClock,
              envs: opts.envs,
              runnerFor: oneRunner(opts.runner),
            })
          : undefined),
    );
    openApiRoutes(scoped, routes, deps.version);
    metricsRoutes(scoped, { metrics, db: opts.db, runner: opts.runner, host: deps.host });
    blobUrlRoutes(scoped, opts.blobUrls);
  });
  return app;
}

function defaultFleet(opts: BuildOptions, db: Db): FleetService {
  return createFleetService({
    db,
    clock: opts.clock ?? systemClock,
    stop: (a, id) => opts.envs.stop(a, id),
    ...(opts.runnerHub ? { live: opts.runnerHub.live.bind(opts.runnerHub) } : { embedded: opts.runner }),
  });
}

function isLoggerInstance(l: unknown): l is FastifyBaseLogger {
  return typeof l === "object" && l !== null && typeof (l as FastifyBaseLogger).child === "function";
}

const noLogins = (): never => {
  throw new WarrenError("INVALID_ARGUMENT", "registry logins are not configured on this server");
};
const noRegistryLogins: RegistryLoginService = {
  list: async () => [],
  login: async () => noLogins(),
  logout: async () => noLogins(),
  credentialFor: async () => undefined,
};
