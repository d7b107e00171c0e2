// What `runDaemon` takes and returns (daemon.ts): the embedded control plane's options, and the
// handle a caller closes it with.
import type { RunnerApi, RuntimeName } from "@warren/protocol";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { Clock } from "./clock.ts";
import type { EnvironmentController } from "./controllers/environment/controller.ts";
import type { PortProxyDaemonOptions } from "./ingress/http-proxy-start.ts";
import type { RunnerHub } from "./runners/hub.ts";
import type { OidcConfig } from "./services/oidc.ts";
import type { AnyStore } from "./store/db.ts";

export interface DaemonOptions {
  /** Default: protocol socketPath() ($WARREN_SOCKET or /run/warren/warren.sock). */
  socketPath?: string;
  /** Directory holding db/warren.db (unless `db` says otherwise), the TLS material and the key files. */
  root: string;
  /**
   * The store: a postgres:// URL (many replicas share it) or a directory for SQLite; default
   * `root`. Key files and the TLS certificate stay under `root` either way.
   */
  db?: string | undefined;
  /**
   * The runner in embedded mode (in-process, `warren daemon`). Absent in server mode (`warren
   * server`): runners dial in over /api/runner/v1 with runner tokens (runners/hub.ts).
   */
  runner?: RunnerApi;
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
  /** `HOST:PORT` for the remote (TCP+TLS) listener; off when undefined. */
  listen?: string | undefined;
  /** Operator-provided certificate and key (PEM paths); default: self-signed under ${root}/tls/. */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  /** OIDC sign-in; default: from WARREN_OIDC_* (services/oidc.ts), off when WARREN_OIDC_ISSUER is unset. */
  oidc?: OidcConfig | undefined;
  /** `HOST:PORT` for the SSH gateway (ingress/ssh-gateway.ts); off when undefined. Port 0 picks one. */
  sshListen?: string | undefined;
  /** The address is only the default: if it is taken, log it and run without the gateway. */
  sshListenOptional?: boolean;
  /** The port proxy (ingress/http-proxy-start.ts): `listen` HOST:PORT, base domain, certificate; off without `listen`. */
  portProxy?: PortProxyDaemonOptions | undefined;
  /**
   * Server mode: `HOST:PORT` of the internal listener (mutual TLS, relay/) other replicas relay live
   * calls to for runners this replica holds; port 0 picks one. Off when undefined.
   */
  relayListen?: string | undefined;
  /** https://HOST:PORT other replicas reach that listener at; default from the bound address. */
  relayAdvertise?: string | undefined;
  /** The address is only the default: if relays cannot start, log why and run without them. */
  relayListenOptional?: boolean;
  /**
   * Server mode: how often held runners report usage (default 15 s; env WARREN_RUNNER_HEARTBEAT_MS),
   * how long no replica may hold a runner before its environments are marked RunnerUnreachable
   * (default 60 s; WARREN_RUNNER_GRACE_MS), how old placement's view of other replicas' runners
   * may get (default 1.5 s; WARREN_FLEET_REFRESH_MS). Milliseconds.
   */
  fleet?: { heartbeatMs?: number; unreachableGraceMs?: number; refreshMs?: number };
  /** Server mode: the runner autoscaler's configuration file (JSON or YAML; autoscaler/config.ts). */
  autoscalerConfig?: string | undefined;
}

export interface Daemon {
  app: FastifyInstance;
  store: AnyStore;
  /** Server mode only: the runners connected over /api/runner/v1. */
  hub?: RunnerHub;
  controller: EnvironmentController;
  socketPath: string;
  /** The remote listener's bound address and certificate fingerprint, when listening. */
  tls?: { host: string; port: number; fingerprint: string };
  /** The relay listener's advertised URL and certificate fingerprint, when relays are on. */
  relay?: { url: string; fingerprint: string };
  /** Stops accepting, ends waits and streams, finishes reconciles in flight, closes the DB. */
  close(): Promise<void>;
}
