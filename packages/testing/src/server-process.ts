// `warren server` as a real child process (the CLI entry), for tests and bench/api that need more
// than one control-plane replica on one database. Plus a raw JSON call over any Transport.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { type Transport, tlsTransport, unixTransport } from "@warren/protocol";

const REPO = path.resolve(import.meta.dirname, "../../..");

export interface ServerProcess {
  url: string;
  fingerprint: string;
  socket: string;
  /** Root on the local socket: acts as the bootstrap owner. */
  local: Transport;
  tls(token: string): Transport;
  /** Its log records at warn and above, for a failing test's message. */
  problems: string[];
  /** Its stdout lines that are not log records (node's own --trace-gc output, say). */
  other: string[];
  stop(): Promise<void>;
}

/** Starts `warren server --db DB --listen 127.0.0.1:0` with its own root; resolves once it listens. */
export async function startServerProcess(o: {
  db: string;
  root: string;
  env?: NodeJS.ProcessEnv;
  /** Extra node flags (bench/api: --cpu-prof, --trace-gc); stdout lines that are not JSON go to `other`. */
  nodeArgs?: string[];
}): Promise<ServerProcess> {
  const socket = path.join(o.root, "run", "warren.sock");
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(o.nodeArgs ?? []),
      path.join(REPO, "packages/cli/src/main.ts"),
      "server",
      "--db",
      o.db,
      "--listen",
      "127.0.0.1:0",
      "--root",
      o.root,
      "--socket",
      socket,
      "--default-runtime",
      "runc",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...o.env } },
  );
  const stderr: string[] = [];
  const problems: string[] = [];
  const other: string[] = [];
  child.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
  const listening = await new Promise<{ port: number; fingerprint: string }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    let tls: { port: number; fingerprint: string } | undefined;
    lines.on("line", (line) => {
      let rec: { port?: number; fingerprint?: string; msg?: string; level?: number };
      try {
        rec = JSON.parse(line);
      } catch {
        other.push(line);
        return;
      }
      if ((rec.level ?? 0) >= 40) problems.push(line);
      if (rec.fingerprint && rec.port) tls = { port: rec.port, fingerprint: rec.fingerprint };
      if (rec.msg === "warren daemon listening" && tls) resolve(tls);
    });
    child.once("exit", (code) => reject(new Error(`warren server exited ${code}: ${stderr.join("")}`)));
  });
  const url = `https://127.0.0.1:${listening.port}`;
  return {
    url,
    fingerprint: listening.fingerprint,
    socket,
    local: unixTransport(socket),
    problems,
    other,
    tls: (token) => tlsTransport({ url, fingerprint: listening.fingerprint, token }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

export interface JsonReply {
  status: number;
  body: unknown;
  ms: number;
}

/** One request with a JSON body; resolves with status, parsed body and latency. */
export function callJson(
  t: Transport,
  method: string,
  reqPath: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonReply> {
  const t0 = performance.now();
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = t.request(
      {
        method,
        path: reqPath,
        headers: { ...(payload ? { "content-type": "application/json" } : {}), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed, ms: performance.now() - t0 });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
