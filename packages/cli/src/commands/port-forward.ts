// warren port-forward ENV [LOCAL:]REMOTE... [--address ADDR]: listens on this machine (127.0.0.1
// unless --address says otherwise) and tunnels every accepted connection over the API, one
// WebSocket each, to REMOTE on the environment's own 127.0.0.1. As kubectl's: `8080` listens on
// 8080 locally, `:8080` or `0:8080` on a free port (printed). Runs until Ctrl-C or SIGTERM, which
// close the listeners and every connection and exit 0.
import { createServer, isIP, type Server, type Socket } from "node:net";
import { bridgeWebSocket, openPortForward, type Transport, WarrenError } from "@warren/protocol";
import { apiTransport, connect } from "../connect.ts";

export interface PortForwardOptions {
  address?: string;
  json?: boolean;
}

export interface PortSpec {
  /** 0: a free port. */
  local: number;
  remote: number;
}

/** `REMOTE`, `LOCAL:REMOTE`, `:REMOTE` or `0:REMOTE`; anything else is refused with the forms. */
export function parsePortSpec(spec: string): PortSpec {
  const m = /^(?:(\d*):)?(\d+)$/.exec(spec);
  const bad = (why: string) =>
    new WarrenError(
      "INVALID_ARGUMENT",
      `invalid port "${spec}": ${why}; use REMOTE, LOCAL:REMOTE or :REMOTE (a free local port), e.g. 8080 or 9000:80`,
    );
  if (!m) throw bad("not a port or LOCAL:REMOTE pair");
  const remote = Number(m[2]);
  const local = m[1] === undefined ? remote : m[1] === "" ? 0 : Number(m[1]);
  if (remote < 1 || remote > 65_535) throw bad("the remote port must be 1-65535");
  if (local > 65_535) throw bad("the local port must be 0-65535");
  return { local, remote };
}

/** `--address`: comma-separated IP addresses or `localhost` (127.0.0.1). */
export function parseAddresses(address: string | undefined): string[] {
  const list = (address ?? "127.0.0.1").split(",").map((a) => a.trim());
  return list.map((a) => {
    if (a === "localhost") return "127.0.0.1";
    if (isIP(a) === 0) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `invalid --address "${a}": give IP addresses separated by commas, e.g. 127.0.0.1 or 0.0.0.0`,
      );
    }
    return a;
  });
}

interface Listener {
  server: Server;
  address: string;
  local: number;
  remote: number;
}

export async function portForwardCommand(
  env: string,
  specs: string[],
  opts: PortForwardOptions,
): Promise<number> {
  if (specs.length === 0) {
    throw new WarrenError("INVALID_ARGUMENT", "no port given: warren port-forward ENV [LOCAL:]REMOTE...");
  }
  const ports = specs.map(parsePortSpec);
  const addresses = parseAddresses(opts.address);
  const client = await connect();
  // An unknown environment fails now, not at the first connection. A stopped one is started by
  // the first connection, which waits for it.
  await client.getEnvironment(env);
  const transport = apiTransport();
  const events = reporter(opts.json === true);
  const sockets = new Set<Socket>();
  const listeners: Listener[] = [];
  let nextId = 1;

  try {
    for (const p of ports) {
      // A free port picked for the first address is reused for the others, so one number reaches both.
      let local = p.local;
      for (const address of addresses) {
        const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (sock) => {
          const id = nextId++;
          sockets.add(sock);
          sock.once("close", () => sockets.delete(sock));
          void forward(transport, env, p.remote, sock, id, events);
        });
        local = await listen(server, address, local);
        listeners.push({ server, address, local, remote: p.remote });
        events.listening(address, local, p.remote);
      }
    }
  } catch (err) {
    for (const l of listeners) l.server.close();
    throw err;
  }

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  for (const l of listeners) l.server.close();
  for (const s of sockets) s.destroy();
  events.stopped();
  return 0;
}

function listen(server: Server, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      const why =
        err.code === "EADDRINUSE"
          ? `${address}:${port} is in use; pick another local port (LOCAL:REMOTE) or :REMOTE for a free one`
          : `cannot listen on ${address}:${port}: ${err.message}`;
      reject(new WarrenError("INVALID_ARGUMENT", why, { errno: err.code }));
    });
    server.listen({ host: address, port }, () => {
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : port);
    });
  });
}

async function forward(
  transport: Transport,
  env: string,
  remote: number,
  sock: Socket,
  id: number,
  events: Reporter,
): Promise<void> {
  // A client that resets before the tunnel is up must not crash the command.
  sock.on("error", () => {});
  const from = `${sock.remoteAddress}:${sock.remotePort}`;
  events.open(id, from, remote);
  let ws: Awaited<ReturnType<typeof openPortForward>>;
  try {
    ws = await openPortForward(transport, env, remote);
  } catch (err) {
    sock.destroy();
    events.failed(id, remote, err instanceof Error ? err.message : String(err));
    return;
  }
  if (sock.destroyed) {
    ws.close(1000);
    events.closed(id, remote, { sent: 0, received: 0 });
    return;
  }
  const r = await bridgeWebSocket(ws, sock);
  // From this machine's point of view: what went to the environment, and what came back.
  events.closed(id, remote, { sent: r.sent, received: r.received, ...(r.error ? { error: r.error } : {}) });
}

interface Reporter {
  listening(address: string, local: number, remote: number): void;
  open(id: number, from: string, remote: number): void;
  failed(id: number, remote: number, message: string): void;
  closed(id: number, remote: number, r: { sent: number; received: number; error?: string }): void;
  stopped(): void;
}

/** Listening lines on stdout; connections on stderr (or everything as JSON lines on stdout). */
function reporter(json: boolean): Reporter {
  const line = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const err = (s: string) => process.stderr.write(`${s}\n`);
  if (json) {
    return {
      listening: (address, local, remote) => line({ event: "listening", address, local, remote }),
      open: (id, from, remote) => line({ event: "open", id, from, remote }),
      failed: (id, remote, message) => line({ event: "error", id, remote, message }),
      closed: (id, remote, r) => line({ event: "close", id, remote, ...r }),
      stopped: () => line({ event: "stopped" }),
    };
  }
  const host = (a: string) => (a.includes(":") ? `[${a}]` : a);
  return {
    listening: (address, local, remote) =>
      process.stdout.write(`Forwarding from ${host(address)}:${local} -> ${remote}\n`),
    open: (id, from, remote) => err(`connection ${id} from ${from} -> ${remote}: open`),
    failed: (id, remote, message) => err(`warren: connection ${id} -> ${remote} failed: ${message}`),
    closed: (id, remote, r) =>
      err(
        `connection ${id} -> ${remote}: closed (${r.sent} bytes sent, ${r.received} received)${r.error ? `: ${r.error}` : ""}`,
      ),
    stopped: () => {},
  };
}
