// warren server: the control plane alone (no runner in this process). Runners on other hosts dial
// in over TLS with runner tokens (`warren runner`). The store is SQLite under --root, or
// PostgreSQL with --db postgres://... so several servers can share it behind a load balancer.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { exitOnUnhandledFaults, WarrenError } from "@warren/protocol";
import { runDaemon } from "@warren/server";
import {
  DEFAULT_SSH_LISTEN,
  type PortProxyFlags,
  portProxyOptions,
  takeLock,
  untilSignal,
} from "../daemon-entry.ts";

export interface ServerOptions extends PortProxyFlags {
  db?: string;
  listen?: string;
  sshListen?: string;
  root?: string;
  socket?: string;
  defaultRuntime?: string;
  relayListen?: string;
  relayAdvertise?: string;
  autoscalerConfig?: string;
}

export async function serverCommand(opts: ServerOptions): Promise<number> {
  const root = opts.root ?? process.env["WARREN_SERVER_ROOT"] ?? "/var/lib/warren-server";
  const socketPath = opts.socket ?? process.env["WARREN_SERVER_SOCKET"] ?? "/run/warren-server/warren.sock";
  const runtime = opts.defaultRuntime ?? "crun";
  if (runtime !== "crun" && runtime !== "runc" && runtime !== "gvisor") {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `--default-runtime must be crun, runc or gvisor, not ${JSON.stringify(runtime)}`,
    );
  }
  mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  exitOnUnhandledFaults({ component: "server" });
  const release = takeLock(path.join(path.dirname(socketPath), "server.pid"));
  const db = opts.db ?? process.env["WARREN_DB"];
  const listen = opts.listen ?? process.env["WARREN_LISTEN"] ?? "127.0.0.1:7443";
  try {
    const daemon = await runDaemon({
      root,
      socketPath,
      db,
      defaultRuntime: runtime,
      handleSignals: false,
      listen,
      sshListen: opts.sshListen || process.env["WARREN_SSH_LISTEN"] || DEFAULT_SSH_LISTEN,
      sshListenOptional: !(opts.sshListen || process.env["WARREN_SSH_LISTEN"]),
      portProxy: portProxyOptions(opts),
      tlsCert: process.env["WARREN_TLS_CERT"],
      tlsKey: process.env["WARREN_TLS_KEY"],
      ...relayOptions(opts, db, listen),
      autoscalerConfig: opts.autoscalerConfig ?? process.env["WARREN_AUTOSCALER_CONFIG"],
    });
    await untilSignal(() => daemon.close());
  } finally {
    release();
  }
  return 0;
}

/**
 * Relays between replicas: on with an explicit --relay-listen; by default with a PostgreSQL store
 * (replicas share it), on the --listen host with any free port, and then optional: a server that
 * cannot start them says why and runs without them.
 */
function relayOptions(
  opts: ServerOptions,
  db: string | undefined,
  listen: string,
): { relayListen?: string; relayAdvertise?: string; relayListenOptional?: boolean } {
  const advertise = opts.relayAdvertise ?? process.env["WARREN_RELAY_ADVERTISE"];
  const explicit = opts.relayListen ?? process.env["WARREN_RELAY_LISTEN"];
  const withAdvertise = advertise ? { relayAdvertise: advertise } : {};
  if (explicit) return { relayListen: explicit, ...withAdvertise };
  if (!db || !/^postgres(ql)?:\/\//.test(db)) return {};
  return { relayListen: listen.replace(/:\d+$/, ":0"), relayListenOptional: true, ...withAdvertise };
}
