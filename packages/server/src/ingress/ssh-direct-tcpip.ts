// Port forwarding into an environment (`ssh -L`, VS Code Remote-SSH's tunnels):
// - `direct-tcpip` is dialled from inside the environment's network namespace (RunnerApi.dial
//   through the services), so 127.0.0.1 is the environment's own loopback and every other address
//   passes the environment's egress policy; the host's loopback and metadata addresses are not
//   reachable this way. The destination must be an IP literal or "localhost": the gateway resolves
//   no names, since it would resolve them on the host, not in the environment;
// - `direct-streamlocal@openssh.com` (`ssh -L PORT:/path/sock`) is connected by a process inside
//   the environment (ingress/ssh-streamlocal.ts), never through a host path;
// - the channel is confirmed only once the far end answered, so a refusal reaches the client as an
//   open failure with the reason ("open failed: connect failed: ...").
// Remote forwarding (`ssh -R`, tcpip-forward) would listen inside the environment; it is refused.
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import type { AcceptConnection, Connection, RejectConnection, ServerChannel, TcpipRequestInfo } from "ssh2";
import { failureText, type SshConn } from "./ssh-conn.ts";

const PROHIBITED = 1;
const CONNECT_FAILED = 2;

interface ProtocolInternals {
  _protocol?: { channelOpenFail?(sender: number, reason: number, description: string): void };
}

/**
 * ssh2's reject() always sends an empty description. Its protocol layer is swapped for the one
 * synchronous call, so the client sees why; without that internal the plain reject still refuses.
 */
export function rejectWithReason(
  conn: Connection,
  reject: RejectConnection,
  code: number,
  why: string,
): void {
  const proto = (conn as unknown as ProtocolInternals)._protocol;
  const original = proto?.channelOpenFail;
  if (!proto || typeof original !== "function") {
    reject();
    return;
  }
  proto.channelOpenFail = (sender, _reason, _desc) => original.call(proto, sender, code, why.slice(0, 200));
  try {
    reject();
  } finally {
    proto.channelOpenFail = original;
  }
}

/** The dial destination for a direct-tcpip request, or why it is refused. */
export function forwardDestination(
  host: string,
  port: number,
): { host: string; port: number } | { refused: string } {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return { refused: `port ${port} is not a TCP port` };
  if (host === "localhost") return { host: "127.0.0.1", port };
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (isIP(bare) === 0) {
    return {
      refused: `"${host.slice(0, 64)}" is not an IP address; the gateway resolves no names, forward to an IP or localhost`,
    };
  }
  return { host: bare, port };
}

/** Pipes an accepted channel and a socket both ways, half-closes included; either failing ends both. */
export function splice(channel: ServerChannel, sock: Duplex, c: SshConn): void {
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    untrack();
    sock.destroy();
    channel.close();
  };
  const untrack = c.track({ notify: () => {}, stop });
  channel.on("error", (err: Error) => {
    c.log.debug({ err }, "SSH forwarded channel error");
    stop();
  });
  sock.on("error", (err: Error) => {
    c.log.debug({ err }, "SSH forward: the connection inside the environment failed");
    stop();
  });
  // The client closed the channel: nothing more reaches it, but what it sent still goes in.
  channel.once("close", () => {
    if (sock.destroyed || sock.writableFinished) return stop();
    sock.end();
    sock.once("finish", stop);
    setTimeout(stop, 10_000).unref();
  });
  // The server inside closed: an orderly end reaches the client through the pipe once its bytes
  // are written (then the client closes the channel); only an abort cuts the channel at once.
  sock.once("close", () => {
    if (!sock.readableEnded) stop();
  });
  channel.pipe(sock);
  sock.pipe(channel);
  // Forwarded bytes either way are use of the environment (idle stop); after the pipes, so
  // these listeners never start the flow early.
  const touch = c.activity;
  if (touch) {
    channel.on("data", () => touch());
    sock.on("data", () => touch());
  }
}

function forward(
  conn: Connection,
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  c: SshConn,
  what: string,
  open: () => Promise<Duplex>,
): void {
  if (c.ending) {
    rejectWithReason(conn, reject, PROHIBITED, "the session is ending");
    return;
  }
  (async () => {
    await c.ready();
    return open();
  })().then(
    (sock) => {
      if (c.ending) {
        sock.destroy();
        rejectWithReason(conn, reject, PROHIBITED, "the session is ending");
        return;
      }
      let channel: ServerChannel | undefined;
      try {
        channel = accept();
      } catch (err) {
        c.log.debug({ err }, "SSH forward: the client went away before the channel opened");
      }
      if (!channel) {
        sock.destroy();
        return;
      }
      splice(channel, sock, c);
    },
    (err: unknown) => {
      c.log.info({ err, env: c.target.envName, to: what }, "SSH forward refused");
      try {
        rejectWithReason(conn, reject, CONNECT_FAILED, failureText(err));
      } catch {}
    },
  );
}

export function handleDirectTcpip(
  conn: Connection,
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  info: TcpipRequestInfo,
  c: SshConn,
): void {
  const dest = forwardDestination(String(info.destIP), Number(info.destPort));
  if ("refused" in dest) {
    c.log.info({ env: c.target.envName, why: dest.refused }, "SSH forward refused");
    rejectWithReason(conn, reject, PROHIBITED, dest.refused);
    return;
  }
  forward(conn, accept, reject, c, `${dest.host}:${dest.port}`, () => c.target.dial(dest.port, dest.host));
}

export function handleDirectStreamlocal(
  conn: Connection,
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  socketPath: string,
  c: SshConn,
): void {
  if (
    typeof socketPath !== "string" ||
    !socketPath.startsWith("/") ||
    socketPath.length > 107 ||
    socketPath.includes("\0")
  ) {
    rejectWithReason(conn, reject, PROHIBITED, "the socket path must be absolute and at most 107 bytes");
    return;
  }
  forward(conn, accept, reject, c, socketPath, async () => {
    const { dialUnixInEnv } = await import("./ssh-streamlocal.ts");
    return dialUnixInEnv(c.target, socketPath);
  });
}
