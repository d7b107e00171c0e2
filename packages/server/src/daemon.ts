// Wires the embedded control plane: store, services, controller and HTTP on a unix socket.
// The runner is passed in (in-process in embedded mode), so nothing here touches the host.
import { socketPath as defaultSocketPath, type RunnerApi, type RuntimeName } from "@warren/protocol";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { type Clock, systemClock } from "./clock.ts";
import {
  createEnvironmentController,
  type EnvironmentController,
} from "./controllers/environment/controller.ts";
import { build } from "./http/build.ts";
import { listenUnix } from "./http/listen.ts";
import { createChangeFeed } from "./services/changes.ts";
import { createClassService } from "./services/classes.ts";
import { createEnvironmentService } from "./services/environments.ts";
import { createImageService } from "./services/images.ts";
import { createRegistryLoginService } from "./services/registry-logins.ts";
import { secretBox } from "./services/registry-secrets.ts";
import { openStore, type Store } from "./store/db.ts";

export interface DaemonOptions {
  /** Default: protocol socketPath() ($WARREN_SOCKET or /run/warren/warren.sock). */
  socketPath?: string;
  /** Directory holding warren.db. */
  root: string;
  runner: RunnerApi;
  /** Used when neither the request nor the class names a runtime. */
  defaultRuntime: RuntimeName;
  /** Period of the full resync that heals drift; default 10 s. */
  resyncMs?: number;
  /** A pino-compatible logger; default: fastify's JSON logger at info. */
  logger?: FastifyBaseLogger | boolean;
  clock?: Clock;
  /** How long start/stop/create/delete wait for the state to settle; default 120 s. */
  settleTimeoutMs?: number;
  /** Install SIGTERM/SIGINT handlers that close the daemon; default true. */
  handleSignals?: boolean;
  /** Backoff bounds of the reconcile queue (tests shorten them). */
  backoff?: { baseMs?: number; maxMs?: number };
}

export interface Daemon {
  app: FastifyInstance;
  store: Store;
  controller: EnvironmentController;
  socketPath: string;
  /** Stops accepting, ends waits and streams, finishes reconciles in flight, closes the DB. */
  close(): Promise<void>;
}

export async function runDaemon(opts: DaemonOptions): Promise<Daemon> {
  const clock = opts.clock ?? systemClock;
  const sock = opts.socketPath ?? defaultSocketPath();
  const log = daemonLogger(opts.logger);
  const shutdown = new AbortController();
  const store = openStore(opts.root);
  let controller: EnvironmentController | undefined;
  try {
    const changes = createChangeFeed();
    controller = createEnvironmentController({
      db: store.db,
      runner: opts.runner,
      clock,
      logger: log.child({ component: "env-controller" }),
      changes,
      ...(opts.resyncMs !== undefined ? { resyncMs: opts.resyncMs } : {}),
      ...(opts.backoff?.baseMs !== undefined ? { baseDelayMs: opts.backoff.baseMs } : {}),
      ...(opts.backoff?.maxMs !== undefined ? { maxDelayMs: opts.backoff.maxMs } : {}),
    });
    const envs = createEnvironmentService({
      db: store.db,
      runner: opts.runner,
      clock,
      logger: log.child({ component: "environments" }),
      changes,
      enqueue: (id) => controller?.enqueue(id, { now: true }),
      defaultRuntime: opts.defaultRuntime,
      shutdown: shutdown.signal,
      ...(opts.settleTimeoutMs !== undefined ? { settleTimeoutMs: opts.settleTimeoutMs } : {}),
    });
    const registries = createRegistryLoginService({ db: store.db, clock, secrets: secretBox(opts.root) });
    const app = build({
      envs,
      classes: createClassService({ db: store.db, clock }),
      images: createImageService({ runner: opts.runner, logins: registries }),
      registries,
      runner: opts.runner,
      shutdown: shutdown.signal,
      logger: log,
    });
    // Sweep before serving: an environment created during the sweep would not be in its keep set.
    const ctl = controller;
    const { swept } = await ctl.start();
    await listenUnix(app, sock);
    log.info({ socketPath: sock, root: opts.root, swept: swept.length }, "warren daemon listening");

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        log.info({}, "warren daemon stopping; environments keep running");
        shutdown.abort();
        await app.close();
        await ctl.close();
        await store.close();
        removeSignalHandlers();
      })();
      return closing;
    };
    const onSignal = (signal: NodeJS.Signals) => {
      log.info({ signal }, "signal received");
      close().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, "unclean shutdown");
          process.exit(1);
        },
      );
    };
    const removeSignalHandlers = () => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    };
    if (opts.handleSignals !== false) {
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    }
    return { app, store, controller: ctl, socketPath: sock, close };
  } catch (err) {
    shutdown.abort();
    await controller?.close();
    await store.close();
    throw err;
  }
}

/**
 * The daemon needs its logger before the app exists (the services take one); a logger-only
 * fastify instance yields fastify's own pino setup without a direct pino dependency.
 */
function daemonLogger(logger: FastifyBaseLogger | boolean | undefined): FastifyBaseLogger {
  if (typeof logger === "object") return logger;
  return Fastify({ logger: logger === false ? false : { level: "info" } }).log;
}
