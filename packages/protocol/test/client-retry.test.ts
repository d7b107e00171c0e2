// The client across a daemon restart: a request cut off after it was sent is sent again only
// when that is harmless, and one that never arrived is always sent again. The "daemon" is a
// plain HTTP server on a unix socket that cuts the first N requests.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { createClient, isWarrenError, type UnavailableEvent } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "warren-retry-"));
const sock = join(dir, "d.sock");
let server: Server;
let cut = 0;
const seen: string[] = [];
const envs = new Set<string>();

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push(`${req.method} ${req.url}`);
      const name = decodeURIComponent(req.url?.split("/")[4]?.split("?")[0] ?? "");
      // The request happened, then the daemon died before answering.
      if (req.method === "POST" && req.url?.startsWith("/api/v1/environments?"))
        envs.add(JSON.parse(body).name ?? `gen-${envs.size}`);
      if (req.method === "DELETE" && !envs.delete(name)) {
        res.writeHead(404, { "content-type": "application/json" });
        return res.end(
          JSON.stringify({ code: "ENV_NOT_FOUND", message: `environment "${name}" does not exist` }),
        );
      }
      if (cut > 0) {
        cut--;
        req.socket.destroy();
        return;
      }
      res.writeHead(req.method === "DELETE" ? 204 : 200, { "content-type": "application/json" });
      res.end(req.method === "DELETE" ? "" : JSON.stringify({ ok: true, version: "x", name }));
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  seen.length = 0;
  envs.clear();
});

const events: UnavailableEvent[] = [];
const client = createClient({
  socketPath: sock,
  onUnavailable: async (e) => {
    events.push(e);
    return true;
  },
});

describe("retries after a cut connection", () => {
  it("a read is sent again", async () => {
    cut = 1;
    events.length = 0;
    assert.deepEqual(await client.health(), { ok: true, version: "x", name: "" });
    assert.equal(seen.length, 2);
    assert.deepEqual(
      events.map((e) => [e.method, e.sent]),
      [["GET", true]],
    );
  });

  it("a named create is sent again and reports the retry; it made one environment", async () => {
    cut = 1;
    let retried = false;
    await client.createEnvironment({ name: "dev" }, { onRetry: () => (retried = true) });
    assert.ok(retried);
    assert.deepEqual([...envs], ["dev"]);
  });

  it("an unnamed create is not sent again: its outcome is unknown, and the error says so", async () => {
    cut = 1;
    await assert.rejects(client.createEnvironment({}), (err: unknown) => {
      assert.ok(isWarrenError(err, "DAEMON_UNAVAILABLE"));
      assert.match(err.message, /went away while handling POST \/environments\?wait=1.*unknown.*warren ls/);
      return true;
    });
    assert.equal(seen.length, 1, "sent once");
    assert.equal(envs.size, 1);
  });

  it("a delete whose first attempt finished counts as done", async () => {
    envs.add("old");
    cut = 1;
    await client.deleteEnvironment("old", true);
    assert.deepEqual(seen, [
      "DELETE /api/v1/environments/old?force=1",
      "DELETE /api/v1/environments/old?force=1",
    ]);
  });

  it("a delete of something that never existed still fails", async () => {
    await assert.rejects(client.deleteEnvironment("nope", true), (err) =>
      isWarrenError(err, "ENV_NOT_FOUND"),
    );
  });

  it("without a hook nothing is retried", async () => {
    cut = 1;
    const plain = createClient({ socketPath: sock });
    await assert.rejects(plain.health(), (err) => isWarrenError(err, "DAEMON_UNAVAILABLE"));
    assert.equal(seen.length, 1);
  });

  it("a request that never reached a daemon is sent again, even a non-idempotent one", async () => {
    const gone = join(dir, "later.sock");
    let late: Server | undefined;
    const c = createClient({
      socketPath: gone,
      onUnavailable: async (e) => {
        assert.equal(e.sent, false);
        late = createServer((_q, r) => r.end(JSON.stringify({ ok: true, version: "late" })));
        await new Promise<void>((r) => late!.listen(gone, r));
        return true;
      },
    });
    assert.deepEqual(await c.createToken({ name: "t" } as never), { ok: true, version: "late" });
    late?.close();
  });
});
