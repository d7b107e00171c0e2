// Wires the embedded control plane: store, services, controller and HTTP on a unix socket.
// The runner is passed in (in-process in embedded mode), so nothing here touches the host.
import { randomBytes } from "node:crypto";
import { socketPath as defaultSocketPath, type RunnerApi } from "@warren/protocol";
import { startAuditRetention } from "./audit-retention.ts";
import { autoscalerConfigFrom, startAutoscaler } from "./autoscaler/start.ts";
import { systemClock } from "./clock.ts";
import {
  createEnvironmentController,
  type EnvironmentController,
} from "./controllers/environment/controller.ts";
import { matchPrebuild } from "./controllers/setup/prebuild-match.ts";
import { wireChangeBus } from "./daemon-change-bus.ts";
import { createIdleParts } from "./daemon-idle.ts";
import { daemonLogger } from "./daemon-logger.ts";
import type { Daemon, DaemonOptions } from "./daemon-options.ts";
import { createPoolParts } from "./daemon-pool.ts";
import { exitOnSignals } from "./daemon-signals.ts";
import { build } from "./http/build.ts";
import { listenUnix } from "./http/listen.ts";
import { listenTlsFromOptions } from "./http/listen-tls.ts";
import { rateLimitFromEnv } from "./http/rate-limit.ts";
import { createDashboardSessions } from "./ingress/dashboard-sessions.ts";
import type { HttpProxy } from "./ingress/http-proxy.ts";
import type { SshGateway } from "./ingress/ssh-gateway.ts";
import {
  controlPlaneHost,
  createPortSignInParts,
  startPortIngress,
  startSshIngress,
} from "./ingress/start-ingress.ts";
import { createControlPlaneMetrics, queueObserver, storeTimer } from "./metrics/control-plane.ts";
import { ingressRelayParts } from "./relay/ingress-wiring.ts";
import { relayFromOptions } from "./relay/relay.ts";
import { fleetTimings } from "./runners/fleet-timings.ts";
import { createRunnerHub, type RunnerHub } from "./runners/hub.ts";
import { registerEmbeddedRunner } from "./scheduler/embedded-view.ts";
import { createAuditService } from "./services/audit.ts";
import { createChangeFeed } from "./services/changes.ts";
import { createClassService } from "./services/classes.ts";
import { storeCredentialCheck } from "./services/credential-check.ts";
import { createEnvWaker } from "./services/env-wake.ts";
import { createEnvironmentService } from "./services/environments.ts";
import { createHostService } from "./services/host.ts";
import { createIdentityService } from "./services/identity.ts";
import { createImageService } from "./services/images.ts";
import { createLiveSessions } from "./services/live-sessions.ts";
import { createOidcService, oidcConfigFromEnv } from "./services/oidc.ts";
import { createPortService } from "./services/ports.ts";
import { createQuotaService } from "./services/quotas.ts";
import { createRegistryLoginService } from "./services/registry-logins.ts";
import { secretBox } from "./services/registry-secrets.ts";
import { oneRunner, type RunnerFor } from "./services/runner-for.ts";
import { withSecrets } from "./services/secret-delivery.ts";
import { createSecretService } from "./services/secrets.ts";
import { createSshKeyService } from "./services/ssh-keys.ts";
import { createEnvWatchService } from "./services/watch.ts";
import { createSetupParts } from "./setup-parts.ts";
import { openStoreAt } from "./store/db.ts";
import { BOOTSTRAP_ORG_ID } from "./store/migrations/005_identity.ts";
import type { PgChangeBus } from "./store/pg-change-bus.ts";
import { listEnvIdsOfRunner } from "./store/queries/runners.ts";

export type { Daemon, DaemonOptions } from "./daemon-options.ts";

export async function runDaemon(opts: DaemonOptions): Promise<Daemon> {
  const clock = opts.clock ?? systemClock;
  const scaling = autoscalerConfigFrom({ ...opts, serverMode: !opts.runner });
  const sock = opts.socketPath ?? defaultSocketPath();
  const log = daemonLogger(opts.logger);
  const shutdown = new AbortController();
  const metrics = createControlPlaneMetrics();
  const store = await openStoreAt(opts.db ?? opts.root, {
    backgroundCheckpoints: true,
    onQuery: storeTimer(metrics),
  });
  let controller: EnvironmentController | undefined;
  let hub: RunnerHub | undefined;
  let bus: PgChangeBus | undefined;
  let stopSessions = () => {};
  // What a start that fails part-way must stop, in reverse order (timers would keep it alive).
  const undo: (() => Promise<unknown> | unknown)[] = [];
  try {
    const changes = createChangeFeed();
    // Sessions that outlive their token's check end when it is revoked or expires, here and, over
    // the change bus, on every other replica (services/live-sessions.ts).
    const sessions = createLiveSessions({
      clock,
      logger: log.child({ component: "live-sessions" }),
      check: storeCredentialCheck(store.db, clock),
    });
    stopSessions = () => sessions.close();
    // Set once the watch service exists; appends heard before then are read at its first use.
    let heardWatchLog = (_rv: number) => {};
    // Replicas sharing PostgreSQL tell each other which environments changed (store/pg-change-bus.ts).
    if (store.kind === "postgres" && opts.db) {
      bus = wireChangeBus({
        url: opts.db,
        db: store.db,
        log,
        changes,
        sessions,
        enqueue: (id) => controller?.enqueue(id),
        onWatchLog: (rv) => heardWatchLog(rv),
      });
    }
    const replicaId = bus?.replicaId ?? randomBytes(6).toString("hex");
    hub = opts.runner
      ? undefined
      : createRunnerHub({
          db: store.db,
          logger: log.child({ component: "runners" }),
          replicaId,
          ...fleetTimings(opts),
          onEnvChange: (id) => changes.emit(id),
        });
    const hostRunner: RunnerApi = opts.runner ?? (hub as RunnerHub);
    const h = hub;
    // Which replica reconciles an environment: the one holding its runner (the embedded daemon: all).
    const ownership = h
      ? (id: string, route?: { runnerId: string; orgId: string }) =>
          h.ownership(id, route).catch(() => "none" as const)
      : undefined;
    // Live calls for runners other replicas hold are relayed to them (relay/).
    const relay = await relayFromOptions(opts, { db: store.db, replicaId, hub, logger: log });
    if (relay) undo.push(() => relay.close());
    // Calls not about one environment go to the acting organisation's runner (services/runner-for.ts).
    const runnerFor: RunnerFor = h ? (org) => h.forOrg(org) : oneRunner(hostRunner);
    const registryBox = secretBox(opts.root);
    const secrets = createSecretService({ db: store.db, clock, root: opts.root, registryBox });
    // Secrets reach the runner only in ensureRunning's spec; logs and events come back masked.
    const runner = withSecrets(hostRunner, { db: store.db, secrets });
    controller = createEnvironmentController({
      // Embedded: passes do host work on this machine, a few at a time. Server mode: a pass is
      // mostly a wait on a remote runner, which limits its own host's work.
      concurrency: Number(process.env["WARREN_RECONCILE_CONCURRENCY"]) || (hub ? 32 : 4),
      queueObserver: queueObserver(metrics, "environment"),
      db: store.db,
      runner,
      clock,
      logger: log.child({ component: "env-controller" }),
      changes,
      ...(opts.resyncMs !== undefined ? { resyncMs: opts.resyncMs } : {}),
      ...(opts.backoff?.baseMs !== undefined ? { baseDelayMs: opts.backoff.baseMs } : {}),
      ...(opts.backoff?.maxMs !== undefined ? { maxDelayMs: opts.backoff.maxMs } : {}),
      ...(ownership ? { ownership } : {}),
    });
    const registries = createRegistryLoginService({ db: store.db, clock, secrets: registryBox });
    // Images are scoped to organisations; a create from one the caller's does not hold pulls it.
    const images = createImageService({
      runner: hostRunner,
      runnerFor,
      logins: registries,
      db: store.db,
      clock,
    });
    // Warm pools: a plain create of a pooled image and class takes over a ready environment.
    const pools = createPoolParts({
      db: store.db,
      clock,
      logger: log.child({ component: "pool" }),
      runner,
      changes,
      enqueueEnv: (id) => controller?.enqueue(id, { now: true }),
      runnerFor,
      ...(h ? { fleet: h.fleet } : {}),
    });
    const envs = createEnvironmentService({
      pool: pools.claimer,
      images,
      runnerFor,
      // Server mode places across the organisation's pool (runners/fleet-cache.ts).
      ...(h ? { fleet: h.fleet, runnerById: (id: string) => h.forRunner(id) } : {}),
      // `up --repo` of a repository with a ready prebuild starts from a copy of its disk.
      prebuilds: { fromTemplate: (a, made) => matchPrebuild({ db: store.db, runnerFor }, a, made) },
      db: store.db,
      runner,
      clock,
      logger: log.child({ component: "environments" }),
      changes,
      enqueue: (id) => controller?.enqueue(id, { now: true }),
      defaultRuntime: opts.defaultRuntime,
      shutdown: shutdown.signal,
      ...(opts.settleTimeoutMs !== undefined ? { settleTimeoutMs: opts.settleTimeoutMs } : {}),
    });
    // SSH logins, exec and port-forwards start a stopped environment and wait for it (bounded).
    const wake = createEnvWaker({
      envs,
      settle: { db: store.db, changes, clock, pollMs: 1000 },
      shutdown: shutdown.signal,
    });
    // Idle stop: terminal, SSH and signed-in proxy use keeps environments up (daemon-idle.ts).
    const { activity, idle, usageSampler } = createIdleParts({
      db: store.db,
      clock,
      logger: log,
      changes,
      runner,
      enqueue: (id) => controller?.enqueue(id, { now: true }),
      ownership,
    });
    pools.start(envs);
    undo.push(
      () => pools.close(),
      () => activity.close(),
      () => idle.close(),
      () => usageSampler.close(),
    );
    const watch = createEnvWatchService({
      db: store.db,
      changes,
      clock,
      logger: log.child({ component: "watch" }),
      shared: store.kind === "postgres",
    });
    heardWatchLog = (rv) => watch.heard(rv);
    const audit = createAuditService({ db: store.db, clock });
    const sshKeys = createSshKeyService({
      db: store.db,
      clock,
      logger: log.child({ component: "ssh-keys" }),
    });
    let gateway: SshGateway | undefined;
    let portProxy: HttpProxy | undefined;
    // Port visibility: the API sets it, the proxy reads it per request; URLs follow the proxy.
    const ports = createPortService({
      db: store.db,
      clock,
      envs,
      runner,
      proxy: () => {
        const i = portProxy?.info();
        return i?.listening ? { scheme: i.scheme, baseDomain: i.baseDomain, listenPort: i.port } : undefined;
      },
      logger: log.child({ component: "ports" }),
    });
    const { portSessions, portSignIn } = createPortSignInParts({
      db: store.db,
      clock,
      sessions,
      ports,
      proxy: () => portProxy,
    });
    // The dashboard's cookie sessions end, like port sessions, when their credential does.
    const dashboard = createDashboardSessions({ clock, live: sessions });
    const oidcConfig = opts.oidc ?? oidcConfigFromEnv();
    const setup = createSetupParts({
      db: store.db,
      clock,
      root: opts.root,
      runner,
      changes,
      envs,
      images,
      registries,
      runnerFor,
      ...(ownership ? { ownership } : {}),
      logger: log.child({ component: "setup" }),
    });
    undo.push(() => setup.close());
    const app = build({
      dashboard,
      setups: setup.setups,
      prebuilds: setup.prebuilds,
      pools: pools.service,
      portSignIn,
      audit,
      quotas: createQuotaService({ db: store.db, clock }),
      db: store.db,
      watch,
      rateLimit: rateLimitFromEnv(),
      clock,
      envs,
      classes: createClassService({ db: store.db, clock }),
      images,
      registries,
      runner,
      host: createHostService({ runnerFor }),
      shutdown: shutdown.signal,
      logger: log,
      identity: createIdentityService({ db: store.db, clock, onRevoked: (r) => sessions.revoke(r) }),
      sessions,
      wake,
      activity,
      secrets,
      sshKeys,
      sshGateway: () => gateway?.info(),
      ports,
      httpProxy: () => portProxy?.info(),
      oidc: createOidcService({ config: oidcConfig, db: store.db, clock, audit }),
      ...(hub ? { runnerHub: hub } : {}),
      ...(relay ? { relay: relay.routing } : {}),
      metrics,
    });
    if (hub) metrics.countRunnersWith(() => hub?.connected().length ?? 0);
    // Sweep before serving: an environment created during the sweep would not be in its keep set.
    const ctl = controller;
    const { swept } = await ctl.start();
    // Embedded: the in-process runner's capacity is recorded before serving (fleet ls, placement).
    if (opts.runner)
      await registerEmbeddedRunner(store.db, opts.runner, BOOTSTRAP_ORG_ID).catch((err: unknown) =>
        log.warn({ err }, "recording the runner's capacity failed; the first create retries"),
      );
    idle.start();
    usageSampler.start();
    await setup.controller.start();
    setup.prebuildController.start();
    // A runner that (re)connects gets every environment reconciled at once, not at the next resync.
    hub?.onAttach((runnerId) => {
      void listEnvIdsOfRunner(store.db, runnerId).then((ids) => {
        for (const id of ids) ctl.enqueue(id);
      });
    });
    const stopAuditRetention = startAuditRetention(audit, log);
    watch.start();
    await listenUnix(app, sock);
    const remote = await listenTlsFromOptions(app, opts, log);
    const tls = remote?.listener;
    const tlsInfo: Daemon["tls"] = remote?.info;
    // The SSH gateway's and port proxy's streams reach runners other replicas hold, both ways.
    const ingressRelay = ingressRelayParts(relay, {
      hub,
      db: store.db,
      clock,
      envs,
      ports,
      runner,
      logger: log,
    });
    const relayInfo = await relay?.listen(app, ingressRelay?.serve);
    const ingress = { db: store.db, clock, root: opts.root, logger: log };
    try {
      gateway = await startSshIngress({
        ...ingress,
        listen: opts.sshListen,
        optional: opts.sshListenOptional ?? false,
        envs,
        sshKeys,
        sessions,
        wake,
        activity,
        audit,
        onAttach: (id) => setup.setups.attached(id),
        observer: metrics.ingress.ssh,
        wrapTarget: ingressRelay?.wrapTarget,
      });
      portProxy = await startPortIngress({
        ...ingress,
        config: opts.portProxy,
        embedded: !hub,
        ports,
        portSessions,
        activity,
        oidcRedirectUrl: oidcConfig?.redirectUrl,
        runner,
        dial: ingressRelay?.dial,
        wake,
        observer: metrics.ingress.proxy,
        control: controlPlaneHost(app, {
          sessions: dashboard,
          logger: log.child({ component: "dashboard" }),
          oidcRedirectUrl: oidcConfig?.redirectUrl,
        }),
      });
    } catch (err) {
      await gateway?.close();
      await tls?.close();
      await app.close();
      throw err;
    }
    const mode = hub ? "server" : "embedded";
    log.info(
      { socketPath: sock, root: opts.root, store: store.kind, mode, swept: swept.length },
      "warren daemon listening",
    );
    const scaler =
      scaling &&
      startAutoscaler(scaling, { db: store.db, clock, log, replicaId, tls: tlsInfo, audit, metrics });

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        log.info({}, "warren daemon stopping; environments keep running");
        shutdown.abort();
        stopAuditRetention();
        tls?.server.close(); // stop accepting remote connections first
        await relay?.close();
        await gateway?.close();
        await portProxy?.close();
        hub?.close();
        await app.close();
        await bus?.close();
        stopSessions();
        await tls?.close();
        await scaler?.close();
        await pools.close();
        await ctl.close();
        await setup.close();
        await idle.close();
        await usageSampler.close();
        await activity.close();
        await watch.close();
        await store.close();
        removeSignalHandlers();
      })();
      return closing;
    };
    const removeSignalHandlers = opts.handleSignals !== false ? exitOnSignals(close, log) : () => {};
    return {
      app,
      store,
      controller: ctl,
      socketPath: sock,
      ...(tlsInfo ? { tls: tlsInfo } : {}),
      ...(relayInfo ? { relay: relayInfo } : {}),
      ...(hub ? { hub } : {}),
      close,
    };
  } catch (err) {
    shutdown.abort();
    for (const u of undo.reverse()) await Promise.resolve(u()).catch(() => undefined);
    stopSessions();
    hub?.close();
    await bus?.close();
    await controller?.close();
    await store.close();
    throw err;
  }
}
