// The SSH gateway: an ssh2 server in the control-plane process that lets `ssh`, `scp`, `sftp`,
// `rsync`, `ssh -L` and editors reach environments (`ssh -p 2222 ENV@HOST`). Authentication is
// ingress/ssh-auth.ts; channels are ingress/ssh-session.ts and ingress/ssh-direct-tcpip.ts; all of
// them reach the environment through its runner, never through host paths.
//
// Bounds, so a hostile or broken client costs little:
// - connections per source address and in total; a connection must authenticate within
//   handshakeTimeoutMs; after maxAuthAttempts failed attempts it is dropped;
// - keepalives: a client that stops answering keepaliveCountMax probes is dropped;
// - every socket, connection, session and channel has an error handler: malformed input ends
//   that connection, never the process.
//
// Each login is a live session (services/live-sessions.ts, kind "ssh") of the key's user: removing
// them from the organisation ends it. Removing the key ends it too (sshKeys.onRemoved, at once; a
// periodic re-read catches a removal made on another replica). Open sessions are told why on
// stderr, then the connection closes.
import net from "node:net";
import type { SshGatewayInfo } from "@warren/protocol";
import ssh2, { type Connection } from "ssh2";
import type { Logger } from "../logger.ts";
import { type ActivityTracker, activitySource } from "../services/activity.ts";
import { system } from "../services/actor.ts";
import type { AuditService } from "../services/audit.ts";
import { type EnvWaker, WAKE_TIMEOUT_MS } from "../services/env-wake.ts";
import type { EnvironmentService } from "../services/environments.ts";
import type { LiveSessions, SessionHandle } from "../services/live-sessions.ts";
import type { SshHostKeyService } from "../services/ssh-host-key.ts";
import type { SshKeyService } from "../services/ssh-keys.ts";
import type { SshLoginService } from "../services/ssh-logins.ts";
import { openAgentChannel } from "./ssh-agent-channel.ts";
import { createSshAuthenticator, type SshLogin } from "./ssh-auth.ts";
import type { OpenChannel, SshConn } from "./ssh-conn.ts";
import type { SshEnvTarget } from "./ssh-context.ts";
import { handleDirectStreamlocal, handleDirectTcpip } from "./ssh-direct-tcpip.ts";
import { handleSession } from "./ssh-session.ts";
import { sshTarget } from "./ssh-target.ts";

export interface SshGatewayLimits {
  maxAuthAttempts: number;
  maxPerSource: number;
  maxConnections: number;
  handshakeTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** How often the keys of open connections are read again (removals made on other replicas). */
  recheckMs: number;
}

export const DEFAULT_SSH_LIMITS: SshGatewayLimits = {
  maxAuthAttempts: 6,
  maxPerSource: 32,
  maxConnections: 1024,
  handshakeTimeoutMs: 30_000,
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 3,
  recheckMs: 30_000,
};

export interface SshGatewayOptions {
  host: string;
  port: number;
  hostKeys: SshHostKeyService;
  logins: SshLoginService;
  envs: Pick<EnvironmentService, "find" | "exec" | "dial">;
  sshKeys: Pick<SshKeyService, "onRemoved" | "byFingerprint">;
  sessions: LiveSessions;
  wake: EnvWaker;
  /** Idle stop: channel data keeps the environment up; open sessions get the stop warning. */
  activity?: ActivityTracker | undefined;
  audit?: AuditService | undefined;
  logger: Logger;
  limits?: Partial<SshGatewayLimits>;
  /** An interactive session began on an environment (postAttachCommand). */
  onAttach?: ((envId: string) => void) | undefined;
  /** Logins and their bytes per environment, for the control plane's metrics (metrics/ingress.ts). */
  observer?: SshObserver | undefined;
  /** Wraps each login's target (relays to the replica holding the runner: relay/ingress-relay.ts). */
  wrapTarget?: ((t: SshEnvTarget, login: SshLogin) => SshEnvTarget) | undefined;
}

export interface SshObserver {
  /** A login to the environment; `bytes` reads its connection's counters; the result ends it. */
  sessionOpened(envId: string, bytes: () => { toEnv: number; fromEnv: number }): () => void;
}

export interface SshGateway {
  info(): SshGatewayInfo;
  /** Authenticated connections now open. */
  connections(): number;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

const GATEWAY = system("ssh-gateway");
/** After the goodbye on stderr, the time a connection gets to close itself before it is cut. */
const END_GRACE_MS = 500;
/** How long open channels get to close (and their clients to print why) before the disconnect. */
const CHANNEL_CLOSE_GRACE_MS = 200;

interface Live {
  login: SshLogin;
  client: Connection;
  socket: net.Socket;
  channels: Set<OpenChannel>;
  handle?: SessionHandle;
  ending: boolean;
  abort: AbortController;
}

export async function startSshGateway(o: SshGatewayOptions): Promise<SshGateway> {
  const limits = { ...DEFAULT_SSH_LIMITS, ...o.limits };
  const log = o.logger;
  const hostKey = await o.hostKeys.hostKey(GATEWAY);
  const auth = createSshAuthenticator({ logins: o.logins, envs: o.envs, audit: o.audit, logger: log });
  const perSource = new Map<string, number>();
  const pending = new Map<string, net.Socket>();
  const sockets = new Set<net.Socket>();
  const live = new Set<Live>();
  const byKey = new Map<string, Set<Live>>();

  const end = (l: Live, message: string) => {
    if (l.ending) return;
    l.ending = true;
    l.abort.abort();
    const open = [...l.channels];
    for (const ch of open) ch.notify(message);
    for (const ch of open) ch.stop();
    // The channels close first, so the client shows the goodbye before the connection drops
    // (OpenSSH drops output it has not written yet when a disconnect arrives).
    setTimeout(
      () => {
        l.client.end();
        setTimeout(() => l.socket.destroy(), END_GRACE_MS).unref();
      },
      open.length > 0 ? CHANNEL_CLOSE_GRACE_MS : 0,
    ).unref();
  };

  o.sshKeys.onRemoved((k) => {
    for (const l of [...(byKey.get(k.id) ?? [])]) {
      end(l, `the SSH key ${k.fingerprint} was removed; this session is closed`);
    }
  });

  const recheck = async () => {
    const fps = new Map<string, Live[]>();
    for (const l of live) fps.set(l.login.fingerprint, [...(fps.get(l.login.fingerprint) ?? []), l]);
    for (const [fp, ls] of fps) {
      const ids = new Set((await o.sshKeys.byFingerprint(GATEWAY, fp)).map((k) => k.id));
      for (const l of ls)
        if (!ids.has(l.login.keyId)) end(l, `the SSH key ${fp} was removed; this session is closed`);
    }
  };
  const recheckTimer = setInterval(() => {
    recheck().catch((err: unknown) =>
      log.warn({ err }, "SSH gateway: re-reading the keys of open sessions failed"),
    );
  }, limits.recheckMs);
  recheckTimer.unref();

  const onAuthenticated = (client: Connection, socket: net.Socket, login: SshLogin) => {
    const l: Live = {
      login,
      client,
      socket,
      channels: new Set(),
      ending: false,
      abort: new AbortController(),
    };
    live.add(l);
    const keyed = byKey.get(login.keyId) ?? new Set();
    keyed.add(l);
    byKey.set(login.keyId, keyed);
    l.handle = o.sessions.open("ssh", login.actor, (why) => end(l, why.message));
    const observed = o.observer?.sessionOpened(login.env.id, () => ({
      toEnv: socket.bytesRead,
      fromEnv: socket.bytesWritten,
    }));
    const base = sshTarget(login, o.envs);
    const target = o.wrapTarget ? o.wrapTarget(base, login) : base;
    let waking: Promise<void> | undefined;
    const conn: SshConn = {
      target,
      log,
      ready: () => {
        waking ??= o.wake
          .wake(login.actor, login.env.id, { timeoutMs: WAKE_TIMEOUT_MS, signal: l.abort.signal })
          .then(() => undefined)
          .finally(() => {
            waking = undefined;
          });
        return waking;
      },
      openAgentChannel: () => openAgentChannel(client),
      track: (ch) => {
        l.channels.add(ch);
        return () => l.channels.delete(ch);
      },
      get ending() {
        return l.ending;
      },
    };
    const tracker = o.activity;
    let disconnected: (() => void) | undefined;
    if (tracker) {
      const source = activitySource(login.actor);
      conn.activity = () => tracker.record(login.env.id, "ssh", source);
      // The warning before an idle stop goes to the stderr of every session of this login.
      disconnected = tracker.connected(login.env.id, source, (message) => {
        for (const ch of l.channels) ch.notify(message);
      });
    }
    if (o.onAttach) {
      const onAttach = o.onAttach;
      conn.attached = () => onAttach(login.env.id);
    }
    client.on("session", (accept, reject) => handleSession(accept, reject, conn));
    client.on("tcpip", (accept, reject, info) => handleDirectTcpip(client, accept, reject, info, conn));
    client.on("openssh.streamlocal", (accept, reject, info) =>
      handleDirectStreamlocal(client, accept, reject, info.socketPath, conn),
    );
    client.on("request", (_accept, reject, name) => {
      log.info(
        { env: login.env.name, request: name },
        "SSH gateway: remote forwarding is not offered; refused",
      );
      reject?.();
    });
    client.once("close", () => {
      observed?.();
      disconnected?.();
      l.abort.abort();
      l.handle?.close();
      for (const ch of [...l.channels]) ch.stop();
      live.delete(l);
      keyed.delete(l);
      if (keyed.size === 0) byKey.delete(login.keyId);
    });
    log.info({ env: login.env.name, user: login.actor.userId, key: login.keyId }, "SSH login");
  };

  const onClient = (client: Connection, info: { ip: string; port: number }) => {
    const socket = pending.get(`${info.ip}:${info.port}`);
    client.on("error", (err: Error) => log.debug({ err, source: info.ip }, "SSH connection error"));
    if (!socket) {
      client.end();
      return;
    }
    let failures = 0;
    let login: SshLogin | undefined;
    client.on("authentication", (ctx) => {
      if (login) return ctx.reject();
      // A client may be gone by the time the answer is ready; answering it then must not throw.
      const answer = (f: () => void) => {
        try {
          f();
        } catch (err) {
          log.debug({ err, source: info.ip }, "SSH gateway: could not answer an authentication");
        }
      };
      auth.decide(ctx, info.ip).then(
        (d) =>
          answer(() => {
            if (d.kind === "accept") {
              login = d.login;
              ctx.accept();
            } else if (d.kind === "key-ok") ctx.accept();
            else {
              if (d.counts) failures++;
              ctx.reject(["publickey"]);
              if (failures >= limits.maxAuthAttempts) {
                log.info({ source: info.ip }, "SSH gateway: too many failed authentication attempts");
                client.end();
              }
            }
          }),
        (err: unknown) => {
          log.warn({ err }, "SSH gateway: authentication failed unexpectedly; refused");
          answer(() => ctx.reject(["publickey"]));
        },
      );
    });
    client.once("ready", () => {
      pending.delete(`${info.ip}:${info.port}`);
      (socket as net.Socket & { warrenAuthed?: boolean }).warrenAuthed = true;
      if (login) onAuthenticated(client, socket, login);
      else client.end();
    });
  };

  const server = new ssh2.Server(
    {
      hostKeys: [hostKey.privateKey],
      ident: "Warren",
      keepaliveInterval: limits.keepaliveIntervalMs,
      keepaliveCountMax: limits.keepaliveCountMax,
    },
    onClient,
  );
  server.on("error", (err: Error) => log.warn({ err }, "SSH gateway server error"));

  const tcp = net.createServer((socket) => {
    socket.on("error", () => {}); // ssh2's connection reports it; the socket just closes
    const source = socket.remoteAddress ?? "unknown";
    const count = perSource.get(source) ?? 0;
    if (count >= limits.maxPerSource || sockets.size >= limits.maxConnections) {
      log.info({ source, count }, "SSH gateway: connection limit reached; refused");
      socket.destroy();
      return;
    }
    perSource.set(source, count + 1);
    sockets.add(socket);
    const key = `${source}:${socket.remotePort}`;
    pending.set(key, socket);
    const timer = setTimeout(() => {
      if (!(socket as net.Socket & { warrenAuthed?: boolean }).warrenAuthed) socket.destroy();
    }, limits.handshakeTimeoutMs);
    timer.unref();
    socket.once("close", () => {
      clearTimeout(timer);
      pending.delete(key);
      sockets.delete(socket);
      const n = (perSource.get(source) ?? 1) - 1;
      if (n <= 0) perSource.delete(source);
      else perSource.set(source, n);
    });
    server.injectSocket(socket);
  });
  tcp.on("error", (err: Error) => log.warn({ err }, "SSH gateway listener error"));
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(o.port, o.host, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const addr = tcp.address() as net.AddressInfo;
  log.info(
    // Not `port`/`fingerprint`: those name the TLS listener in the daemon's start-up records.
    { sshHost: addr.address, sshPort: addr.port, hostKeyFingerprint: hostKey.fingerprint },
    `SSH gateway listening on ${addr.address}:${addr.port}; host key ${hostKey.fingerprint}`,
  );

  return {
    info: () => ({
      listening: tcp.listening,
      host: addr.address,
      port: addr.port,
      hostKey: hostKey.publicKey,
      fingerprint: hostKey.fingerprint,
    }),
    connections: () => live.size,
    async close() {
      clearInterval(recheckTimer);
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const l of [...live]) end(l, "the Warren server is shutting down");
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
