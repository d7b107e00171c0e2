// Auto-start and the supervisor, in-process: a detached supervised stand-in daemon under flock(1),
// concurrent starters, restarts after kill -9 without any CLI call, and a clean stop. The stand-in
// is a node one-liner so this test never depends on the real daemon body.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient, isWarrenError } from "@warren/protocol";
import { startDaemon } from "../src/connect.ts";
import { afterExit, FIRST_DELAY_MS, MAX_DELAY_MS, MAX_QUICK_FAILURES } from "../src/supervisor.ts";

const dir = mkdtempSync(join(tmpdir(), "warren-autostart-"));
const supervisors: number[] = [];
after(async () => {
  for (const pid of supervisors) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  }
  await sleep(300);
  rmSync(dir, { recursive: true, force: true });
});

// Answers /api/v1/health with its pid after a short delay, as a daemon that takes a moment to
// start would, and appends its pid to `starts` so a test can count how many were started.
const standIn = (sock: string, starts: string) => [
  process.execPath,
  "-e",
  `require("node:fs").appendFileSync(${JSON.stringify(starts)}, process.pid + "\\n");
   try { require("node:fs").unlinkSync(${JSON.stringify(sock)}); } catch {}
   process.on("SIGTERM", () => process.exit(0));
   setTimeout(() => require("node:http").createServer((q, r) => r.end(JSON.stringify({ ok: true, version: String(process.pid) })))
     .listen(${JSON.stringify(sock)}, () => console.log("listening")), 300)`,
];

function paths(name: string) {
  return {
    sock: join(dir, `${name}.sock`),
    log: join(dir, name, "daemon.log"),
    lockFile: join(dir, `${name}.lock`),
    pidFile: join(dir, `${name}.pid`),
    starts: join(dir, `${name}.starts`),
  };
}

const startsOf = (file: string) =>
  existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];

describe("startDaemon", () => {
  it("20 concurrent starters start one supervised daemon, and all of them wait until it answers", async () => {
    const p = paths("many");
    const client = createClient({ socketPath: p.sock });
    const opts = { argv: standIn(p.sock, p.starts), log: p.log, lockFile: p.lockFile, pidFile: p.pidFile };
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => startDaemon(client, { ...opts, timeoutMs: 20_000 })),
    );
    const failed = results.filter((r) => r.status === "rejected");
    assert.deepEqual(failed, [], "every caller got a daemon");
    supervisors.push(Number(readFileSync(p.pidFile, "utf8")));
    assert.equal(startsOf(p.starts).length, 1, "exactly one daemon was started");
    assert.equal(results.filter((r) => r.status === "fulfilled" && r.value !== undefined).length, 1);
    assert.match(readFileSync(p.log, "utf8"), /listening/);
  });

  it("the supervisor restarts a daemon killed with -9, with no CLI call, and stops it when asked", async (t) => {
    const p = paths("crash");
    const client = createClient({ socketPath: p.sock });
    await startDaemon(client, {
      argv: standIn(p.sock, p.starts),
      log: p.log,
      lockFile: p.lockFile,
      pidFile: p.pidFile,
      timeoutMs: 10_000,
    });
    const supervisor = Number(readFileSync(p.pidFile, "utf8"));
    supervisors.push(supervisor);
    const first = Number((await client.health()).version);
    process.kill(first, "SIGKILL");
    const t0 = Date.now();
    let second = first;
    while (Date.now() - t0 < 5_000) {
      second = Number((await client.health().catch(() => ({ version: String(first) }))).version);
      if (second !== first) break;
      await sleep(50);
    }
    assert.notEqual(second, first, "a new daemon answers within 5 s");
    t.diagnostic(`answered again ${Date.now() - t0} ms after kill -9`);
    assert.deepEqual(startsOf(p.starts).map(Number), [first, second]);
    assert.match(readFileSync(p.log, "utf8"), /exited \(signal SIGKILL\).*restarting in \d+ ms/);

    process.kill(supervisor, "SIGTERM");
    const t1 = Date.now();
    const until = Date.now() + 5_000;
    while (Date.now() < until && existsSync(p.pidFile)) await sleep(50);
    assert.equal(existsSync(p.pidFile), false, "the supervisor exited");
    t.diagnostic(`supervisor exited ${Date.now() - t1} ms after SIGTERM`);
    assert.throws(() => process.kill(second, 0), "the daemon was stopped with it");
    await sleep(FIRST_DELAY_MS * 2);
    assert.equal(startsOf(p.starts).length, 2, "and nothing restarted it");
  });

  it("a daemon that refuses to start fails fast, naming the log", async () => {
    const p = paths("dies");
    const t0 = Date.now();
    await assert.rejects(
      startDaemon(createClient({ socketPath: p.sock }), {
        argv: [process.execPath, "-e", "console.error('cannot bind'); process.exit(1)"],
        log: p.log,
        lockFile: p.lockFile,
        pidFile: p.pidFile,
        timeoutMs: 10_000,
      }),
      (err: unknown) => {
        assert.ok(isWarrenError(err, "DAEMON_UNAVAILABLE"));
        assert.equal(err.message, `the daemon exited while starting (status 1); see ${p.log}`);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 5_000, "did not wait for the timeout");
    assert.match(readFileSync(p.log, "utf8"), /cannot bind/);
  });

  it("gives up after the timeout", async () => {
    const p = paths("slow");
    await assert.rejects(
      startDaemon(createClient({ socketPath: p.sock }), {
        argv: [
          process.execPath,
          "-e",
          "process.on('SIGTERM', () => process.exit(0)); setTimeout(() => {}, 60_000)",
        ],
        log: p.log,
        lockFile: p.lockFile,
        pidFile: p.pidFile,
        timeoutMs: 500,
      }),
      (err: unknown) => {
        assert.ok(isWarrenError(err, "DAEMON_UNAVAILABLE"));
        assert.match(err.message, /did not answer within 0.5 s \(supervisor pid \d+\)/);
        return true;
      },
    );
    for (let i = 0; i < 20 && !existsSync(p.pidFile); i++) await sleep(50);
    supervisors.push(Number(readFileSync(p.pidFile, "utf8")));
  });
});

describe("the supervisor's restart rule", () => {
  const rows: [string, Parameters<typeof afterExit>[0], ReturnType<typeof afterExit>][] = [
    [
      "asked to stop",
      { code: null, signal: "SIGTERM", ranMs: 5, stopping: true, failures: 0 },
      { restart: false, status: 0 },
    ],
    [
      "clean exit",
      { code: 0, signal: null, ranMs: 60_000, stopping: false, failures: 0 },
      { restart: false, status: 0 },
    ],
    [
      "refused at start-up",
      { code: 1, signal: null, ranMs: 200, stopping: false, failures: 0 },
      { restart: false, status: 1 },
    ],
    [
      "status 1 after a long run is a crash",
      { code: 1, signal: null, ranMs: 60_000, stopping: false, failures: 0 },
      { restart: true, delayMs: FIRST_DELAY_MS },
    ],
    [
      "kill -9",
      { code: null, signal: "SIGKILL", ranMs: 1500, stopping: false, failures: 0 },
      { restart: true, delayMs: FIRST_DELAY_MS },
    ],
    [
      "crash again: backoff doubles",
      { code: 70, signal: null, ranMs: 300, stopping: false, failures: 2 },
      { restart: true, delayMs: FIRST_DELAY_MS * 4 },
    ],
    [
      "a long run resets the backoff",
      { code: 70, signal: null, ranMs: 20_000, stopping: false, failures: 9 },
      { restart: true, delayMs: FIRST_DELAY_MS },
    ],
    [
      "too many quick deaths",
      { code: 70, signal: null, ranMs: 300, stopping: false, failures: MAX_QUICK_FAILURES - 1 },
      { restart: false, status: 70 },
    ],
  ];
  for (const [name, input, want] of rows) {
    it(name, () => assert.deepEqual(afterExit(input), want));
  }
  it("the cap holds", () => {
    const d = afterExit({ code: 70, signal: null, ranMs: 300, stopping: false, failures: 3 });
    assert.ok(d.restart && d.delayMs <= MAX_DELAY_MS);
  });
});
