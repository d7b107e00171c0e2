// The local channel between the runner and its resolver process: newline-delimited JSON over a
// unix socket in the runner's root-only run dir. The runner pushes environment names and asks for
// stats; the resolver answers each request by id. Both ends check every line's shape, so a bug on
// one side shows up as a refused message, never as a crash of the resolver every environment uses.
import type net from "node:net";
import type { DnsStats } from "@warren/protocol";

/** What must match for a running resolver to be adopted instead of replaced. */
export interface ResolverIdentity {
  listen: { host: string; port: number }[];
  zone: string;
  upstreams: string[];
}

export type ControlRequest =
  | { id: number; op: "hello" }
  | { id: number; op: "names"; names: [ip: string, name: string][] }
  | { id: number; op: "set"; ip: string; name: string }
  | { id: number; op: "delete"; ip: string }
  | { id: number; op: "stats" }
  | { id: number; op: "stop" };

export type ControlReply =
  | { id: number; ok: true; pid?: number; identity?: ResolverIdentity; stats?: DnsStats }
  | { id: number; ok: false; error: string };

/** The resolver process's exit status when another resolver already answers: nothing to do. */
export const EXIT_ALREADY_RUNNING = 75;

/** A names table for 10,000 environments is well under 1 MiB; anything longer is a broken peer. */
export const MAX_LINE = 4 << 20;

const str = (v: unknown, max = 255): v is string => typeof v === "string" && v.length > 0 && v.length <= max;

export function parseRequest(line: string): ControlRequest | string {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return "not JSON";
  }
  if (typeof m !== "object" || m === null || !Number.isSafeInteger(m["id"])) return "missing id";
  const id = m["id"] as number;
  switch (m["op"]) {
    case "hello":
    case "stats":
    case "stop":
      return { id, op: m["op"] };
    case "set":
      return str(m["ip"], 64) && str(m["name"]) ? { id, op: "set", ip: m["ip"], name: m["name"] } : "bad set";
    case "delete":
      return str(m["ip"], 64) ? { id, op: "delete", ip: m["ip"] } : "bad delete";
    case "names": {
      const names = m["names"];
      const ok =
        Array.isArray(names) &&
        names.every((p) => Array.isArray(p) && p.length === 2 && str(p[0], 64) && str(p[1]));
      return ok ? { id, op: "names", names: names as [string, string][] } : "bad names";
    }
    default:
      return `unknown op ${JSON.stringify(m["op"])}`;
  }
}

export function parseReply(line: string): ControlReply | null {
  try {
    const m = JSON.parse(line) as Record<string, unknown>;
    if (typeof m !== "object" || m === null || !Number.isSafeInteger(m["id"])) return null;
    if (m["ok"] === true) return m as ControlReply;
    if (m["ok"] === false && typeof m["error"] === "string") return m as ControlReply;
    return null;
  } catch {
    return null;
  }
}

/** Calls `onLine` per complete line; a line past MAX_LINE ends the connection. */
export function readLines(sock: net.Socket, onLine: (line: string) => void): void {
  let buf = "";
  sock.setEncoding("utf8");
  sock.on("data", (chunk: string) => {
    buf += chunk;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.length > 0) onLine(line);
      nl = buf.indexOf("\n");
    }
    if (buf.length > MAX_LINE) sock.destroy(new Error("control line too long"));
  });
}

type Req = ControlRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/** The runner's end of one connection: requests matched to replies by id. */
export class ControlClient {
  readonly #sock: net.Socket;
  readonly #pending = new Map<number, { resolve: (r: ControlReply) => void; reject: (e: Error) => void }>();
  #next = 1;
  readonly closed: Promise<void>;

  constructor(sock: net.Socket) {
    this.#sock = sock;
    readLines(sock, (line) => {
      const r = parseReply(line);
      const p = r ? this.#pending.get(r.id) : undefined;
      if (!r || !p) return sock.destroy(new Error("unexpected reply from the resolver"));
      this.#pending.delete(r.id);
      p.resolve(r);
    });
    this.closed = new Promise((resolve) => {
      sock.on("error", () => {});
      sock.on("close", () => {
        for (const p of this.#pending.values())
          p.reject(new Error("the resolver closed its control channel"));
        this.#pending.clear();
        resolve();
      });
    });
  }

  /** Sends and waits for the reply; rejects when the resolver refuses, dies or does not answer. */
  request(req: Req, timeoutMs = 5000): Promise<ControlReply & { ok: true }> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      if (this.#sock.destroyed) return reject(new Error("the resolver's control channel is closed"));
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`the resolver did not answer ${req.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          if (r.ok) resolve(r);
          else reject(new Error(`resolver refused ${req.op}: ${r.error}`));
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#sock.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** Fire and forget: order on the socket is what matters (a later full table overrides). */
  send(req: Req): void {
    if (this.#sock.destroyed) return;
    this.request(req).catch(() => {});
  }

  close(): void {
    this.#sock.destroy();
  }
}
