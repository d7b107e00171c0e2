// The API client against a small in-test HTTP+WebSocket server on a temp unix socket: the
// network boundary is the only thing faked.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type WebSocket, WebSocketServer } from "ws";
import {
  type ApiClient,
  Channel,
  type ControlMessage,
  controlFrame,
  createClient,
  type Environment,
  frame,
  type ProgressEvent,
  parseFrame,
  WarrenError,
} from "../src/index.ts";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
type WsHandler = (ws: WebSocket, url: URL) => void;

const dir = mkdtempSync(join(tmpdir(), "warren-client-"));
const sock = join(dir, "api.sock");
const routes = new Map<string, Handler>();
let wsHandler: WsHandler = () => {};
let server: Server;
let client: ApiClient;
const seen: { method: string; url: string; body: string }[] = [];

const env = (name: string): Environment => ({
  id: `id-${name}`,
  name,
  spec: {
    name,
    className: "default",
    image: "img",
    runtime: "runc",
    resources: { cpus: 1, memoryBytes: 1 << 30, diskBytes: 1 << 30, pids: 100 },
  },
  desired: "running",
  state: "running",
  conditions: [],
  slot: 0,
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
});

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, body });
      const path = new URL(req.url!, "http://x").pathname;
      const h = routes.get(`${req.method} ${path}`);
      if (h) h(req, body, res);
      else json(res, 404, { code: "ENV_NOT_FOUND", message: `no route ${req.method} ${path}` });
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url!, "http://x");
    if (url.pathname.endsWith("/missing/exec")) {
      const body = JSON.stringify({ code: "ENV_NOT_FOUND", message: "environment missing not found" });
      socket.end(
        `HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wsHandler(ws, url));
  });
  await new Promise<void>((r) => server.listen(sock, r));
  client = createClient({ socketPath: sock });
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("JSON requests", () => {
  it("lists environments and sends requests under /api/v1", async () => {
    routes.set("GET /api/v1/environments", (_q, _b, res) => json(res, 200, { items: [env("a"), env("b")] }));
    const envs = await client.listEnvironments();
    assert.deepEqual(
      envs.map((e) => e.name),
      ["a", "b"],
    );
  });

  it("reports created on 201 and existing on 200, waiting for the state", async () => {
    let status = 201;
    routes.set("POST /api/v1/environments", (_q, body, res) => {
      const req = JSON.parse(body);
      json(res, status, env(req.name));
    });
    const a = await client.createEnvironment({ name: "one", memory: "512m" });
    assert.equal(a.created, true);
    assert.equal(a.env.name, "one");
    assert.deepEqual(JSON.parse(seen.at(-1)!.body), { name: "one", memory: "512m" });
    assert.equal(seen.at(-1)!.url, "/api/v1/environments?wait=1");
    status = 200;
    assert.equal((await client.createEnvironment({ name: "one" })).created, false);
  });

  it("maps an ErrorBody to a WarrenError with its code", async () => {
    routes.set("GET /api/v1/environments/nope", (_q, _b, res) =>
      json(res, 404, { code: "ENV_NOT_FOUND", message: "no environment nope", details: { name: "nope" } }),
    );
    await assert.rejects(client.getEnvironment("nope"), (err: unknown) => {
      assert.ok(err instanceof WarrenError);
      assert.equal(err.code, "ENV_NOT_FOUND");
      assert.equal(err.message, "no environment nope");
      assert.deepEqual(err.details, { name: "nope" });
      return true;
    });
  });

  it("turns a non-JSON error into INTERNAL carrying the status", async () => {
    routes.set("GET /api/v1/classes", (_q, _b, res) => {
      res.writeHead(502);
      res.end("bad gateway");
    });
    await assert.rejects(client.listClasses(), (err: unknown) => {
      assert.ok(err instanceof WarrenError);
      assert.equal(err.code, "INTERNAL");
      assert.match(err.message, /HTTP 502: bad gateway/);
      return true;
    });
  });

  it("deletes with force and accepts 204", async () => {
    routes.set("DELETE /api/v1/environments/x", (_q, _b, res) => {
      res.writeHead(204);
      res.end();
    });
    await client.deleteEnvironment("x", true);
    assert.equal(seen.at(-1)!.url, "/api/v1/environments/x?force=1");
    await client.deleteEnvironment("x", false);
    assert.equal(seen.at(-1)!.url, "/api/v1/environments/x");
  });

  it("sends the stop grace period", async () => {
    routes.set("POST /api/v1/environments/x/stop", (_q, _b, res) => json(res, 200, env("x")));
    await client.stopEnvironment("x", 3);
    assert.deepEqual(JSON.parse(seen.at(-1)!.body), { graceSeconds: 3 });
  });
});

describe("daemon unavailable", () => {
  it("no socket file -> DAEMON_UNAVAILABLE", async () => {
    const c = createClient({ socketPath: join(dir, "absent.sock") });
    await assert.rejects(
      c.health(),
      (err: unknown) => err instanceof WarrenError && err.code === "DAEMON_UNAVAILABLE",
    );
  });

  it("nothing listening (refused) -> DAEMON_UNAVAILABLE", async () => {
    const stale = join(dir, "stale.sock");
    writeFileSync(stale, ""); // connect(2) to a non-socket is refused, like a stale socket file
    const c = createClient({ socketPath: stale });
    await assert.rejects(c.listEnvironments(), (err: unknown) => {
      assert.ok(err instanceof WarrenError);
      assert.equal(err.code, "DAEMON_UNAVAILABLE");
      assert.match(err.message, /not running/);
      return true;
    });
  });

  it("exec with no daemon rejects DAEMON_UNAVAILABLE", async () => {
    const c = createClient({ socketPath: join(dir, "absent.sock") });
    const h = { stdout() {}, stderr() {}, exit() {} };
    await assert.rejects(
      c.exec("a", { cmd: ["true"], tty: false }, h),
      (err: unknown) => err instanceof WarrenError && err.code === "DAEMON_UNAVAILABLE",
    );
  });
});

describe("NDJSON progress", () => {
  const info = { ref: "r:1", digest: "sha256:ab", layers: ["sha256:l1"], sizeBytes: 10, createdAt: "now" };

  it("delivers progress lines split across chunks, then resolves with the image", async () => {
    routes.set("POST /api/v1/images/import", (_q, _b, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      const text = [
        { phase: "layer sha256:l1", message: "copying", current: 5, total: 10 },
        { phase: "layer sha256:l1", message: "copying", current: 10, total: 10 },
        { phase: "index", message: "writing" },
        { done: info },
      ]
        .map((l) => JSON.stringify(l) + "\n")
        .join("");
      // Cut mid-line so the client has to reassemble lines.
      res.write(text.slice(0, 17));
      setTimeout(() => {
        res.write(text.slice(17, 90));
        setTimeout(() => res.end(text.slice(90)), 5);
      }, 5);
    });
    const events: ProgressEvent[] = [];
    const got = await client.importImage("/tmp/img.tar", "r:1", (e) => events.push(e));
    assert.deepEqual(got, info);
    assert.deepEqual(
      events.map((e) => [e.phase, e.current]),
      [
        ["layer sha256:l1", 5],
        ["layer sha256:l1", 10],
        ["index", undefined],
      ],
    );
    assert.deepEqual(JSON.parse(seen.at(-1)!.body), { path: "/tmp/img.tar", ref: "r:1" });
  });

  it("an error line rejects with its code", async () => {
    routes.set("POST /api/v1/images/base", (_q, _b, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.write(`${JSON.stringify({ phase: "debootstrap", message: "fetching" })}\n`);
      res.end(`${JSON.stringify({ error: { code: "IMAGE_CORRUPT", message: "digest mismatch" } })}\n`);
    });
    const events: ProgressEvent[] = [];
    await assert.rejects(
      client.ensureBaseImage(undefined, (e) => events.push(e)),
      (err: unknown) => {
        assert.ok(err instanceof WarrenError);
        assert.equal(err.code, "IMAGE_CORRUPT");
        return true;
      },
    );
    assert.equal(events.length, 1);
  });

  it("a stream that ends without a result is an error, not a hang", async () => {
    routes.set("POST /api/v1/images/base", (_q, _b, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.end(`${JSON.stringify({ phase: "x", message: "y" })}\n`);
    });
    await assert.rejects(
      client.ensureBaseImage("http://mirror", () => {}),
      (err: unknown) => err instanceof WarrenError && err.code === "DAEMON_UNAVAILABLE",
    );
    assert.deepEqual(JSON.parse(seen.at(-1)!.body), { mirror: "http://mirror" });
  });
});

describe("logs", () => {
  it("streams text chunks and passes follow and tail", async () => {
    routes.set("GET /api/v1/environments/a/logs", (_q, _b, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("line 1\n");
      setTimeout(() => res.end("line 2\n"), 5);
    });
    let out = "";
    await client.logs("a", { follow: true, tail: 5 }, (c) => {
      out += c;
    });
    assert.equal(out, "line 1\nline 2\n");
    assert.equal(seen.at(-1)!.url, "/api/v1/environments/a/logs?follow=1&tail=5");
  });
});

describe("exec", () => {
  const collect = () => {
    const out = { stdout: "", stderr: "", exit: -1, error: undefined as Error | undefined };
    let resolve!: () => void;
    const done = new Promise<void>((r) => {
      resolve = r;
    });
    const handlers = {
      stdout: (d: Uint8Array) => {
        out.stdout += Buffer.from(d).toString();
      },
      stderr: (d: Uint8Array) => {
        out.stderr += Buffer.from(d).toString();
      },
      exit: (c: number) => {
        out.exit = c;
        resolve();
      },
      error: (e: Error) => {
        out.error = e;
        resolve();
      },
    };
    return { out, done, handlers };
  };

  it("frames stdin, eof, resize and signal; passes output and the exit code", async () => {
    const controls: ControlMessage[] = [];
    let query: URL | undefined;
    wsHandler = (ws, url) => {
      query = url;
      let input = "";
      ws.on("message", (data: Buffer) => {
        const { channel, data: body } = parseFrame(data);
        if (channel === Channel.stdin) input += body.toString();
        if (channel !== Channel.control) return;
        const msg = JSON.parse(body.toString()) as ControlMessage;
        controls.push(msg);
        if (msg.type === "eof") {
          ws.send(frame(Channel.stdout, input.toUpperCase()));
          ws.send(frame(Channel.stderr, "bye"));
          ws.send(controlFrame({ type: "exit", code: 7 }));
        }
      });
    };
    const { out, done, handlers } = collect();
    const s = await client.exec(
      "dev",
      {
        cmd: ["sh", "-c", "cat"],
        tty: true,
        cols: 80,
        rows: 24,
        cwd: "/workspaces/dev",
        env: { TERM: "xterm" },
      },
      handlers,
    );
    s.resize(100, 30);
    s.signal("SIGINT");
    s.stdin(Buffer.from("hello "));
    s.stdin(Buffer.from("world"));
    s.endStdin();
    await done;
    assert.equal(out.exit, 7);
    assert.equal(out.stdout, "HELLO WORLD");
    assert.equal(out.stderr, "bye");
    assert.equal(out.error, undefined);
    assert.deepEqual(controls, [
      { type: "resize", cols: 100, rows: 30 },
      { type: "signal", signal: "SIGINT" },
      { type: "eof" },
    ]);
    assert.equal(query!.pathname, "/api/v1/environments/dev/exec");
    assert.deepEqual(JSON.parse(query!.searchParams.get("cmd")!), ["sh", "-c", "cat"]);
    assert.equal(query!.searchParams.get("tty"), "1");
    assert.equal(query!.searchParams.get("cols"), "80");
    assert.equal(query!.searchParams.get("cwd"), "/workspaces/dev");
    assert.deepEqual(JSON.parse(query!.searchParams.get("env")!), { TERM: "xterm" });
  });

  it("an error control frame reaches the error callback as a WarrenError", async () => {
    wsHandler = (ws) =>
      ws.send(controlFrame({ type: "error", code: "ENV_NOT_RUNNING", message: "a is stopped" }));
    const { out, done, handlers } = collect();
    await client.exec("a", { cmd: ["true"], tty: false }, handlers);
    await done;
    assert.ok(out.error instanceof WarrenError);
    assert.equal(out.error.code, "ENV_NOT_RUNNING");
    assert.equal(out.error.message, "a is stopped");
    assert.equal(out.exit, -1);
  });

  it("a stream that closes before an exit frame is an error", async () => {
    wsHandler = (ws) => {
      ws.send(frame(Channel.stdout, "partial"));
      setTimeout(() => ws.close(), 5);
    };
    const { out, done, handlers } = collect();
    await client.exec("a", { cmd: ["true"], tty: false }, handlers);
    await done;
    assert.equal(out.stdout, "partial");
    assert.ok(out.error instanceof WarrenError);
    assert.equal(out.error.code, "DAEMON_UNAVAILABLE");
  });

  it("a refused upgrade rejects with the ErrorBody's code", async () => {
    const { handlers } = collect();
    await assert.rejects(client.exec("missing", { cmd: ["true"], tty: false }, handlers), (err: unknown) => {
      assert.ok(err instanceof WarrenError);
      assert.equal(err.code, "ENV_NOT_FOUND");
      assert.equal(err.message, "environment missing not found");
      return true;
    });
  });
});
