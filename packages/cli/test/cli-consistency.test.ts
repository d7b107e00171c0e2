// The real `warren` CLI against the fake daemon: several names for rm/stop/start, --json for logs
// and admin fingerprint, up flags that cannot go with a command, durations for --since/--until,
// ages in tables and the columns of `ls --watch`.
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import type { AuditRecord, Environment, WatchEvent } from "@warren/protocol";
import { generateSelfSigned } from "@warren/server";
import { type FakeDaemon, makeEnv, runCli, startFakeDaemon } from "./fake-daemon.ts";

let d: FakeDaemon;
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(args, { env: { WARREN_SOCKET: d.socket, ...env } });

before(async () => {
  d = await startFakeDaemon();
});
after(() => d.close());
beforeEach(() => {
  d.reset();
  for (const n of ["a", "b"]) d.envs.set(n, makeEnv(n));
});

/** The fake has no start/stop routes: answer them for NAME with the state they lead to. */
function lifecycleRoute(action: "start" | "stop", name: string, state: Environment["state"]) {
  d.override.set(`POST /api/v1/environments/${name}/${action}`, (_b, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(makeEnv(name, { state, desired: state === "running" ? "running" : "stopped" })));
  });
}

/** What the CLI asked of the daemon, without the health check a connection starts with. */
const actions = () => d.requests.filter((q) => !q.url.endsWith("/health")).map((q) => `${q.method} ${q.url}`);

describe("several names", () => {
  it("rm removes every name it can, reports the missing one, exits 1", async () => {
    const r = await cli(["rm", "a", "ghost", "b"]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "a\nb\n");
    assert.equal(r.stderr, "warren: no environment named ghost\n");
    assert.deepEqual([...d.envs.keys()], []);
    assert.deepEqual(actions(), [
      "DELETE /api/v1/environments/a",
      "DELETE /api/v1/environments/ghost",
      "DELETE /api/v1/environments/b",
    ]);
  });

  it("rm -f sends force for each name and exits 0 when all went", async () => {
    const r = await cli(["rm", "-f", "a", "b"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "a\nb\n");
    assert.deepEqual(actions().sort(), [
      "DELETE /api/v1/environments/a?force=1",
      "DELETE /api/v1/environments/b?force=1",
    ]);
  });

  it("stop handles each name; --json prints an array of those that worked", async () => {
    lifecycleRoute("stop", "a", "stopped");
    lifecycleRoute("stop", "b", "stopped");
    const stop = await cli(["stop", "a", "ghost", "b", "--json"]);
    assert.equal(stop.status, 1);
    assert.equal(stop.stderr, "warren: no environment named ghost\n");
    const stopped = JSON.parse(stop.stdout) as Environment[];
    assert.deepEqual(
      stopped.map((e) => [e.name, e.state]),
      [
        ["a", "stopped"],
        ["b", "stopped"],
      ],
    );
  });

  it("one name with --json still prints one object, as before", async () => {
    lifecycleRoute("start", "a", "running");
    const r = await cli(["start", "a", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as Environment).name, "a");
  });

  it("start: one that ends failed is a failure for that name only; the others start", async () => {
    lifecycleRoute("start", "a", "failed");
    lifecycleRoute("start", "b", "running");
    const r = await cli(["start", "a", "b"]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "b running\n");
    assert.match(r.stderr, /^warren: environment a failed/);
  });
});

describe("--json where it was missing", () => {
  it("logs --json prints one {time, source, line} object per line, lines split across chunks", async () => {
    d.override.set("GET /api/v1/environments/a/logs", (_b, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("hello from in");
      res.write("it\n[warren 2026-01-31T12:00:00.000Z] started\n");
      setTimeout(() => res.end("[warren] log stream closed: token revoked\nno newline"), 20);
    });
    const r = await cli(["logs", "a", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l)),
      [
        { time: null, source: "init", line: "hello from init" },
        { time: "2026-01-31T12:00:00.000Z", source: "warren", line: "started" },
        { time: null, source: "warren", line: "log stream closed: token revoked" },
        { time: null, source: "init", line: "no newline" },
      ],
    );
  });

  it("admin fingerprint --json names the fingerprint and the file it came from", async () => {
    const dir = join(d.dir, "tls");
    await generateSelfSigned(dir, ["DNS:localhost"]);
    const env = { WARREN_TLS_CERT: join(dir, "cert.pem") };
    const text = await cli(["admin", "fingerprint"], env);
    assert.equal(text.status, 0, text.stderr);
    const r = await cli(["admin", "fingerprint", "--json"], env);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      fingerprint: text.stdout.trim(),
      certFile: env.WARREN_TLS_CERT,
    });
  });
});

describe("up flags that cannot go with a command", () => {
  for (const flag of ["--json", "-d"]) {
    it(`up ${flag} -- CMD is refused before anything is asked of the daemon`, async () => {
      const r = await cli(["up", "--name", "x", flag, "--", "make", "test"]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^warren: --(json|detach) cannot go with a command \(-- make test\)/);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1);
      assert.equal(r.stdout, "");
      assert.deepEqual(d.requests, []);
    });
  }
});

describe("times", () => {
  const record = (at: string): AuditRecord => ({
    id: 1,
    orgId: "o",
    actor: "local-root",
    action: "environment.create",
    target: "a",
    sourceAddress: "local",
    result: "ok",
    at,
  });

  it("audit ls --since/--until take durations and send ISO times; the table shows ages", async () => {
    d.override.set("GET /api/v1/audit", (_b, res: ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json" });
      // 34.5 minutes: the CLI takes "now" before it asks, so the age may read a little less.
      res.end(JSON.stringify({ items: [record(new Date(Date.now() - 34.5 * 60_000).toISOString())] }));
    });
    const before = Date.now();
    const r = await cli(["audit", "ls", "--since", "2h", "--until", "1h30m"]);
    assert.equal(r.status, 0, r.stderr);
    const q = new URL(d.requests.at(-1)!.url, "http://x").searchParams;
    const since = Date.parse(q.get("since")!);
    const until = Date.parse(q.get("until")!);
    assert.ok(Math.abs(before - 2 * 3600_000 - since) < 60_000, q.get("since")!);
    assert.equal(until - since, 30 * 60_000);
    assert.match(r.stdout.split("\n")[1]!, /^34m ago\s+local-root\s+environment\.create/);

    const iso = await cli(["audit", "ls", "--since", "2026-01-31T12:00:00Z", "--json"]);
    assert.equal(iso.status, 0, iso.stderr);
    assert.equal(
      new URL(d.requests.at(-1)!.url, "http://x").searchParams.get("since"),
      "2026-01-31T12:00:00.000Z",
    );
    assert.match((JSON.parse(iso.stdout) as AuditRecord[])[0]!.at, /^\d{4}-\d{2}-\d{2}T/);
  });

  it("a --since that is neither a duration nor a time fails before any request", async () => {
    const r = await cli(["audit", "ls", "--since", "yesterday"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^warren: invalid --since "yesterday": use a duration back from now such as 30m/);
    assert.deepEqual(d.requests, []);
  });

  it("ls shows the age as `5m ago` (--json keeps createdAt, cli.test.ts)", async () => {
    const r = await cli(["ls"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.split("\n")[1]!, /\s5m ago\s/);
  });
});

describe("ls --watch", () => {
  it("pads change lines to the names it has seen, not to the longest name allowed", async () => {
    const events: WatchEvent[] = [
      { type: "ADDED", resourceVersion: 1, object: makeEnv("a") },
      { type: "BOOKMARK", resourceVersion: 1 },
      { type: "ADDED", resourceVersion: 2, object: makeEnv("web") },
    ];
    d.override.set("GET /api/v1/environments", (_b, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const e of events) res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      res.end();
    });
    const r = await cli(["ls", "--watch"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trimEnd().split("\n").at(-1), "ADDED     web   running   desired=running");
  });
});
