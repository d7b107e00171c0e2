// `warren runner`'s connection loop (protocol runner-reconnect.ts) against a real `warren server`
// in-process: a revoked token ends the link with 4401, the next attempt is refused with 401, each
// says once what to do and waits the long interval, and a new token written to the file is picked
// up on the next attempt without a restart.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import path from "node:path";
import { afterEach, test } from "node:test";
import { type RunnerLoop, rejectedTokenMessage, runRunnerLoop } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { tempDir } from "@warren/testing/server-harness";
import { mintRunnerToken, startTlsServer } from "@warren/testing/tls-server";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const server = () => startTlsServer(cleanups);

interface Logged {
  msg: string;
  fields: Record<string, unknown>;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("a revoked runner token: one clear line per attempt, the long wait, and a replaced file heals it", async () => {
  const d = await server();
  const tokenFile = path.join(d.dir, "runner-token");
  const first = await mintRunnerToken(d);
  writeFileSync(tokenFile, `${first.token}\n`, { mode: 0o600 });

  const logs: Logged[] = [];
  const waits: number[] = [];
  let reads = 0;
  const delays = { baseMs: 7, maxMs: 50, rejectedMs: 60_000 };
  const loop: RunnerLoop = runRunnerLoop(
    {
      url: d.url,
      fingerprint: d.fingerprint,
      readToken: () => {
        reads++;
        return readFileSync(tokenFile, "utf8").trim();
      },
      tokenFile,
      log: (msg, fields = {}) => logs.push({ msg, fields }),
      delays,
      // The delays chosen are recorded; the test does not sit out 60 s.
      sleep: async (ms, signal) => {
        waits.push(ms);
        if (!signal.aborted) await new Promise((r) => setTimeout(r, 20));
      },
    },
    new FakeRunner(),
  );
  cleanups.push(() => loop.stop());
  const connected = () => logs.filter((l) => l.msg === "connected to the control plane");
  const rejected = () => logs.filter((l) => l.msg === rejectedTokenMessage(tokenFile));
  await until("the first connection", () => connected().length === 1);
  assert.equal(d.hub?.connected().length, 1);

  const revoked = await d.app.inject({ method: "DELETE", url: `/api/v1/tokens/${first.id}` });
  assert.equal(revoked.statusCode, 204, revoked.body);
  // The live link ends with 4401, then the redial with the same token is refused with 401.
  await until("two rejections", () => rejected().length >= 2);
  const [live, redial] = rejected();
  assert.match(String(live?.fields["reason"]), /^4401 token .* was revoked/);
  assert.match(String(redial?.fields["reason"]), /refused the runner \(401\)/);
  assert.equal(redial?.fields["retryInSeconds"], 60);
  assert.match(
    live?.msg ?? "",
    /revoked or it expired.*warren admin runner-token create.*runner-token \(read again/,
  );
  assert.equal(
    logs.filter((l) => /disconnected|cannot connect/.test(l.msg)).length,
    0,
    "a rejected token is not reported as an ordinary drop",
  );
  assert.ok(waits.length >= 2);
  assert.ok(
    waits.every((w) => w === delays.rejectedMs),
    `every wait after a rejection is the long one: ${waits.join(",")}`,
  );

  // The admin mints a new token and replaces the file: the next attempt reads and uses it.
  const second = await mintRunnerToken(d);
  const readsBefore = reads;
  writeFileSync(tokenFile, `${second.token}\n`, { mode: 0o600 });
  await until("the reconnection with the new token", () => connected().length === 2);
  assert.ok(reads > readsBefore, "the token file was read again");
  assert.equal(connected()[1]?.fields["runnerId"], second.id);
  assert.equal(d.hub?.connected().length, 1);

  await loop.stop();
});

test("an unreachable control plane backs off exponentially from the short delay, without the token message", async () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const tokenFile = path.join(tmp.dir, "runner-token");
  writeFileSync(tokenFile, "wrn_r_not-checked-by-anyone\n", { mode: 0o600 });
  const port = await freePort();
  const logs: string[] = [];
  const waits: number[] = [];
  const loop = runRunnerLoop(
    {
      url: `https://127.0.0.1:${port}`,
      fingerprint: "a".repeat(64),
      readToken: () => readFileSync(tokenFile, "utf8").trim(),
      tokenFile,
      log: (msg) => logs.push(msg),
      delays: { baseMs: 7, maxMs: 50, rejectedMs: 60_000 },
      sleep: async (ms) => {
        waits.push(ms);
        await new Promise((r) => setTimeout(r, 1));
      },
    },
    new FakeRunner(),
  );
  await until("six attempts", () => waits.length >= 6);
  await loop.stop();
  assert.deepEqual(waits.slice(0, 6), [7, 14, 28, 50, 50, 50]);
  assert.ok(
    logs.length >= 6 && logs.every((m) => m === "cannot connect to the control plane"),
    logs.join("\n"),
  );
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}
