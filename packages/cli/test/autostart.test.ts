// Auto-start, in-process: spawn a detached stand-in daemon, poll /health, report early death.
// The stand-in is a node one-liner so this test never depends on the real daemon body.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createClient, isWarrenError } from "@warren/protocol";
import { startDaemon } from "../src/connect.ts";

const dir = mkdtempSync(join(tmpdir(), "warren-autostart-"));
const started: number[] = [];
after(() => {
  for (const pid of started) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
});

// Answers /api/v1/health after a short delay, as a daemon that takes a moment to start would.
const standIn = (sock: string) => [
  process.execPath,
  "-e",
  `setTimeout(() => require("node:http").createServer((q, r) => r.end(JSON.stringify({ ok: true, version: "x" })))
     .listen(${JSON.stringify(sock)}, () => console.log("listening")), 300)`,
];

describe("startDaemon", () => {
  it("starts a detached daemon, waits until it answers, and logs to the file", async () => {
    const sock = join(dir, "ok.sock");
    const log = join(dir, "logs", "daemon.log");
    const client = createClient({ socketPath: sock });
    const pid = await startDaemon(client, { argv: standIn(sock), log, timeoutMs: 10_000 });
    assert.ok(pid && pid > 0);
    started.push(pid);
    assert.deepEqual(await client.health(), { ok: true, version: "x" });
    assert.match(readFileSync(log, "utf8"), /listening/);
  });

  it("a daemon that exits at startup fails fast, naming the log", async () => {
    const log = join(dir, "dies.log");
    const t0 = Date.now();
    await assert.rejects(
      startDaemon(createClient({ socketPath: join(dir, "dies.sock") }), {
        argv: [process.execPath, "-e", "console.error('cannot bind'); process.exit(3)"],
        log,
        timeoutMs: 10_000,
      }),
      (err: unknown) => {
        assert.ok(isWarrenError(err, "DAEMON_UNAVAILABLE"));
        assert.equal(err.message, `the daemon exited while starting (status 3); see ${log}`);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 5_000, "did not wait for the timeout");
    assert.match(readFileSync(log, "utf8"), /cannot bind/);
  });

  it("gives up after the timeout", async () => {
    const log = join(dir, "slow.log");
    await assert.rejects(
      startDaemon(createClient({ socketPath: join(dir, "slow.sock") }), {
        argv: [process.execPath, "-e", "setTimeout(() => {}, 60_000)"],
        log,
        timeoutMs: 500,
      }),
      (err: unknown) => {
        assert.ok(isWarrenError(err, "DAEMON_UNAVAILABLE"));
        assert.match(err.message, /did not come up within 0.5 s \(pid (\d+)\)/);
        started.push(Number(/pid (\d+)/.exec(err.message)![1]));
        return true;
      },
    );
  });
});
