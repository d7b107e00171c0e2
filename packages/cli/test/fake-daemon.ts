// A fake Warren daemon for CLI tests: speaks the HTTP API (api.ts) and the exec WebSocket framing
// (exec-stream.ts) on a temp unix socket, with in-memory state. Only the network boundary is fake.
// Exec runs a tiny command table instead of processes: `exit N`, `echo ARGS`, `cat`, `fail`.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  Channel,
  type ClassSpec,
  type ControlMessage,
  controlFrame,
  DEFAULT_EGRESS,
  DEFAULT_IMAGE,
  type DnsStats,
  type Environment,
  type ErrorBody,
  frame,
  type ImageInfo,
  parseEgress,
  parseFrame,
  parseSize,
  type SshGatewayInfo,
} from "@warren/protocol";
import { type WebSocket, WebSocketServer } from "ws";

export const MAIN = resolve(import.meta.dirname, "../src/main.ts");

export interface FakeDaemon {
  socket: string;
  dir: string;
  envs: Map<string, Environment>;
  classes: ClassSpec[];
  images: ImageInfo[];
  /** What GET /api/v1/dns/stats answers. */
  dnsStats: DnsStats;
  /** What GET /api/v1/ssh/gateway answers. */
  sshGateway: SshGatewayInfo;
  requests: { method: string; url: string; body: string }[];
  /** Overrides a route: `METHOD /path` -> handler. */
  override: Map<string, (body: string, res: ServerResponse) => void>;
  execs: { name: string; query: URLSearchParams; controls: ControlMessage[] }[];
  /** Forgets everything a test did: environments, images, requests, overrides, execs. */
  reset(): void;
  close(): Promise<void>;
}

export function makeEnv(name: string, over: Partial<Environment> = {}): Environment {
  const created = new Date(Date.now() - 5 * 60_000).toISOString();
  return {
    id: `0123456789ab-${name}`,
    name,
    spec: {
      name,
      className: "default",
      image: DEFAULT_IMAGE,
      runtime: "runc",
      resources: { cpus: 2, memoryBytes: 2 * 1024 ** 3, diskBytes: 10 * 1024 ** 3, pids: 4096 },
    },
    desired: "running",
    state: "running",
    conditions: [],
    slot: 1,
    createdAt: created,
    updatedAt: created,
    ...over,
  };
}

const send = (res: ServerResponse, status: number, body?: unknown) => {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};
const fail = (res: ServerResponse, status: number, body: ErrorBody) => send(res, status, body);

export async function startFakeDaemon(): Promise<FakeDaemon> {
  const dir = mkdtempSync(join(tmpdir(), "warren-cli-"));
  const d: FakeDaemon = {
    socket: join(dir, "warren.sock"),
    dir,
    envs: new Map(),
    classes: [],
    images: [],
    dnsStats: {
      hits: 120,
      misses: 30,
      negativeHits: 7,
      upstreamQueries: 31,
      upstreamErrors: 1,
      tcpRetries: 2,
      cacheEntries: 64,
      upstreamLatencyMs: { p50: 1.25, p99: 8.5, mean: 2.1 },
      upstreams: ["10.0.0.53:53"],
    },
    sshGateway: {
      listening: true,
      host: "127.0.0.1",
      port: 2222,
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
      fingerprint: "SHA256:fake",
    },
    requests: [],
    override: new Map(),
    execs: [],
    reset() {
      d.envs.clear();
      d.images.length = 0;
      d.requests.length = 0;
      d.override.clear();
      d.execs.length = 0;
    },
    close: async () => {},
  };

  const route = (method: string, path: string, body: string, res: ServerResponse) => {
    const key = `${method} ${path}`;
    const o = d.override.get(key);
    if (o) return o(body, res);
    const m = /^\/api\/v1\/environments\/([^/]+)(\/\w+)?$/.exec(path);
    if (key === "GET /api/v1/health") return send(res, 200, { ok: true, version: "fake" });
    if (key === "GET /api/v1/environments") return send(res, 200, { items: [...d.envs.values()] });
    if (key === "POST /api/v1/environments") {
      const req = JSON.parse(body);
      const name = req.name ?? "gen-1";
      const existing = d.envs.get(name);
      if (existing) return send(res, 200, existing);
      const env = makeEnv(name);
      if (req.memory) env.spec.resources.memoryBytes = parseSize(req.memory);
      d.envs.set(name, env);
      return send(res, 201, env);
    }
    if (m) {
      const env = d.envs.get(decodeURIComponent(m[1]!));
      if (!env) return fail(res, 404, { code: "ENV_NOT_FOUND", message: `no environment named ${m[1]}` });
      if (method === "GET" && !m[2]) return send(res, 200, env);
      if (method === "DELETE") {
        d.envs.delete(env.name);
        return send(res, 204);
      }
      if (m[2] === "/logs") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("init: hello\n");
        return res.end("event: started\n");
      }
    }
    if (key === "GET /api/v1/images") return send(res, 200, { items: d.images });
    if (key === "POST /api/v1/images/base" || key === "POST /api/v1/images/import") {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.write(`${JSON.stringify({ phase: "build", message: "running mmdebstrap" })}\n`);
      res.write(
        `${JSON.stringify({ phase: "layer", message: "packing", current: 1024 ** 2, total: 4 * 1024 ** 2 })}\n`,
      );
      const req = JSON.parse(body || "{}");
      const img = {
        ref: req.ref ?? DEFAULT_IMAGE,
        digest: "sha256:0123456789abcdef",
        layers: ["sha256:aa"],
        sizeBytes: 4 * 1024 ** 2,
        createdAt: new Date().toISOString(),
      };
      d.images.push(img);
      return res.end(`${JSON.stringify({ done: img })}\n`);
    }
    if (key === "GET /api/v1/dns/stats") return send(res, 200, d.dnsStats);
    if (key === "GET /api/v1/ssh/gateway") return send(res, 200, d.sshGateway);
    if (key === "GET /api/v1/classes") return send(res, 200, { items: d.classes });
    if (key === "POST /api/v1/classes") {
      const req = JSON.parse(body);
      const cls: ClassSpec = {
        name: req.name,
        cpus: req.cpus,
        memoryBytes: parseSize(req.memory),
        diskBytes: parseSize(req.disk),
        pids: req.pids ?? 4096,
        maxCpus: req.maxCpus ?? req.cpus,
        maxMemoryBytes: parseSize(req.maxMemory ?? req.memory),
        maxDiskBytes: parseSize(req.maxDisk ?? req.disk),
        builtin: false,
        egress: req.egress === undefined ? DEFAULT_EGRESS : parseEgress(req.egress),
      };
      d.classes.push(cls);
      return send(res, 201, cls);
    }
    return fail(res, 404, { code: "INVALID_ARGUMENT", message: `fake: no route ${key}` });
  };

  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      d.requests.push({ method: req.method!, url: req.url!, body });
      route(req.method!, new URL(req.url!, "http://x").pathname, body, res);
    });
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    d.requests.push({ method: "WS", url: req.url!, body: "" });
    const url = new URL(req.url!, "http://x");
    const name = decodeURIComponent(url.pathname.split("/")[4] ?? "");
    if (!d.envs.has(name)) {
      const body = JSON.stringify({ code: "ENV_NOT_FOUND", message: `no environment named ${name}` });
      socket.end(
        `HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    const rec = { name, query: url.searchParams, controls: [] as ControlMessage[] };
    d.execs.push(rec);
    wss.handleUpgrade(req, socket, head, (ws) =>
      runFakeCommand(ws, JSON.parse(url.searchParams.get("cmd")!), rec),
    );
  });

  await new Promise<void>((r) => server.listen(d.socket, r));
  d.close = async () => {
    server.closeAllConnections();
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  };
  return d;
}

function runFakeCommand(
  ws: WebSocket,
  cmd: string[],
  rec: { query: URLSearchParams; controls: ControlMessage[] },
): void {
  const [prog, ...args] = cmd;
  if (prog === "probe") {
    runProbe(ws, rec);
    return;
  }
  const exit = (code: number) => ws.send(controlFrame({ type: "exit", code }));
  let input = "";
  ws.on("message", (data: Buffer) => {
    const { channel, data: body } = parseFrame(data);
    if (channel === Channel.stdin) input += body.toString();
    if (channel !== Channel.control) return;
    const msg = JSON.parse(body.toString()) as ControlMessage;
    rec.controls.push(msg);
    if (msg.type === "eof" && prog === "cat") {
      ws.send(frame(Channel.stdout, input));
      exit(0);
    }
  });
  if (prog === "exit") exit(Number(args[0]));
  else if (prog === "echo") {
    ws.send(frame(Channel.stdout, `${args.join(" ")}\n`));
    ws.send(frame(Channel.stderr, "to stderr\n"));
    exit(0);
  } else if (prog === "fail") {
    ws.send(controlFrame({ type: "error", code: "ENV_NOT_RUNNING", message: "environment is stopping" }));
  } else if (prog !== "cat") exit(127);
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a child process (async: the fake daemon lives in this process). */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; uid?: number } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    // An undefined value in opts.env removes that variable.
    const env = Object.fromEntries(
      Object.entries({ ...process.env, WARREN_NO_AUTOSTART: "1", ...opts.env }).filter(
        ([, v]) => v !== undefined,
      ),
    );
    const child = spawn(process.execPath, [MAIN, ...args], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
      ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid }),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => {
      stdout += c;
    });
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    child.on("error", reject);
    child.on("close", (status) => resolvePromise({ status, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}

/** `probe`: a terminal-aware command. Reports its size and resizes, echoes keys, exits 5 on "q". */
function runProbe(ws: WebSocket, rec: { query: URLSearchParams; controls: ControlMessage[] }): void {
  const out = (s: string) => ws.send(frame(Channel.stdout, s));
  out(`size ${rec.query.get("cols")}x${rec.query.get("rows")}\r\n`);
  ws.on("message", (data: Buffer) => {
    const { channel, data: body } = parseFrame(data);
    if (channel === Channel.stdin) {
      const text = body.toString();
      out(`got:${JSON.stringify(text)}\r\n`);
      if (text.includes("q")) ws.send(controlFrame({ type: "exit", code: 5 }));
    } else if (channel === Channel.control) {
      const msg = JSON.parse(body.toString()) as ControlMessage;
      rec.controls.push(msg);
      if (msg.type === "resize") out(`resize ${msg.cols}x${msg.rows}\r\n`);
    }
  });
}
