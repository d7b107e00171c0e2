// Fuzzes the control plane's end of the runner wire with frames a hostile runner could send:
// generated and mutated answers, events and hellos, truncated JSON, wrong types, huge ids, answers
// to calls never made, duplicates, binary frames and frames after close. In-process against the
// RemoteRunner (10,000+ frames), then through a real `warren server` over TLS. The bar: no throw
// out of a frame handler, no uncaught exception or unhandled rejection, only the offending
// connection closes (with a reason, audited), and the server still answers a real request after.
// Replay a failure with WARREN_FUZZ_SEED=<printed seed>.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AUDIT_RUNNER_PROTOCOL_VIOLATION,
  connectRunner,
  RUNNER_WIRE_VERSION,
  WarrenError,
} from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import {
  FakeWs,
  Fuzzer,
  type FuzzFrame,
  fuzzSeed,
  WIRE_IMAGE,
  wireInfo,
  wireStats,
} from "@warren/testing/runner-fuzz";
import { startTlsServer } from "@warren/testing/tls-server";
import { RemoteRunner } from "../src/runners/remote-runner.ts";
import { execWs } from "./exec-ws-client.ts";

const FRAMES = 10_000;
const ENV = "envfuzz00001";
const INFO = wireInfo("what-the-runner-claims");
const IMAGE = WIRE_IMAGE;
const OBSERVED = { id: ENV, state: "running", pid: 7 };
const STATS = wireStats(ENV);
const ERR = { code: "ENV_NOT_FOUND", message: "gone" };

/** What an honest runner answers for each kind of call: its result, and the events it may send. */
const HONEST: Record<string, { result?: unknown; events: [string, unknown][] }> = {
  info: { result: INFO, events: [] },
  observe: { result: OBSERVED, events: [] },
  list: { result: [OBSERVED], events: [] },
  sweep: { result: ["leftover0001"], events: [] },
  hasImage: { result: true, events: [] },
  listImages: { result: [IMAGE], events: [] },
  stats: { result: STATS, events: [] },
  remove: { events: [] },
  pullImage: {
    result: IMAGE,
    events: [["progress", { phase: "pull", message: "layer", current: 1, total: 2 }]],
  },
  logs: {
    events: [
      ["log", "line\n"],
      ["end", undefined],
      ["error", ERR],
    ],
  },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tick = () => new Promise((r) => setImmediate(r));

function watchFaults(t: { after(fn: () => void): void }): unknown[] {
  const faults: unknown[] = [];
  const onFault = (e: unknown) => faults.push(e);
  process.on("uncaughtException", onFault);
  process.on("unhandledRejection", onFault);
  t.after(() => {
    process.off("uncaughtException", onFault);
    process.off("unhandledRejection", onFault);
  });
  return faults;
}

test(`the control plane survives ${FRAMES} generated and mutated runner frames`, async (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed} (replay: WARREN_FUZZ_SEED=${seed})`);
  const fz = new Fuzzer(seed);
  const faults = watchFaults(t);
  const stats = { frames: 0, sessions: 0, violations: 0, resolved: 0, rejected: 0, afterClose: 0 };
  const thrown: unknown[] = [];
  const wrong: string[] = [];

  while (stats.frames < FRAMES) {
    stats.sessions++;
    const ws = new FakeWs();
    const rr = new RemoteRunner(ws.conn(), "runner-fuzz", INFO);
    const calls: { id: number; method: string }[] = [];
    const settled: Promise<unknown>[] = [];
    const track = (method: string, p: Promise<unknown>, check: (v: unknown) => void = () => {}) => {
      calls.push({ id: calls.length + 1, method });
      settled.push(
        p.then(
          (v) => {
            stats.resolved++;
            check(v);
          },
          (e: unknown) => {
            stats.rejected++;
            if (!(e instanceof WarrenError)) wrong.push(`${method} rejected with a non-catalog error: ${e}`);
          },
        ),
      );
    };
    for (let n = 1 + fz.int(6); n > 0; n--) {
      const m = fz.pick(Object.keys(HONEST));
      if (m === "info")
        track(m, rr.info(), (v) => (v as { id: string }).id === "runner-fuzz" || wrong.push("info id"));
      else if (m === "observe")
        track(
          m,
          rr.observe(ENV),
          (v) => (v as { id: string }).id === ENV || wrong.push("observed another env"),
        );
      else if (m === "list") track(m, rr.list(), (v) => Array.isArray(v) || wrong.push("list"));
      else if (m === "sweep")
        track(
          m,
          rr.sweep(new Set([ENV])),
          (v) => !(v as string[]).includes(ENV) || wrong.push("swept a kept id"),
        );
      else if (m === "hasImage")
        track(m, rr.hasImage("debian:12"), (v) => typeof v === "boolean" || wrong.push("hasImage"));
      else if (m === "listImages") track(m, rr.listImages());
      else if (m === "stats")
        track(m, rr.stats(ENV), (v) => (v as { id: string }).id === ENV || wrong.push("stats id"));
      else if (m === "remove") track(m, rr.remove(ENV));
      else if (m === "pullImage")
        track(
          m,
          rr.pullImage("debian:12", () => {}),
        );
      else
        track(
          m,
          rr.logs(ENV, { follow: true }, (c) => typeof c === "string" || wrong.push("log chunk")).done,
        );
    }
    const budget = 1 + fz.int(40);
    for (let i = 0; i < budget && !ws.closed; i++) {
      const roll = fz.int(20);
      const call = fz.pick(calls);
      // Mostly about a call in flight; sometimes one never made, or a hello out of turn.
      const id = roll === 0 ? calls.length + 1 + fz.int(1000) : call.id;
      const honest = HONEST[call.method] ?? { events: [] };
      let frame: Record<string, unknown>;
      if (roll === 1) frame = { t: "hello", version: 1, info: INFO };
      else if (roll < 8 && honest.events.length) {
        const [ev, data] = fz.pick(honest.events);
        frame = data === undefined ? { t: "out", id, ev } : { t: "out", id, ev, data };
      } else if (roll < 10)
        frame = { t: "err", id, error: fz.chance(0.2) ? { code: "NOT_A_CODE", message: "x" } : ERR };
      else if (roll < 12 && call.method === "observe")
        frame = { t: "ok", id, result: { ...OBSERVED, id: "envforeign01" } };
      else frame = honest.result === undefined ? { t: "ok", id } : { t: "ok", id, result: honest.result };
      const wire: FuzzFrame = fz.chance(0.8) ? { text: JSON.stringify(frame) } : fz.mutate(frame);
      const err = ws.deliver(wire);
      if (err) thrown.push(err);
      stats.frames++;
      if (fz.chance(0.2)) await tick();
    }
    if (ws.closed) {
      stats.violations++;
      assert.ok(ws.closed.reason.startsWith("bad frame: "), ws.closed.reason);
      await tick();
      assert.equal(rr.connected, false, "a closed link takes no more calls");
      for (let i = fz.int(2); i >= 0; i--) {
        const err = ws.deliver(fz.mutate({ t: "ok", id: 1, result: OBSERVED }));
        if (err) thrown.push(err);
        stats.frames++;
        stats.afterClose++;
      }
    } else rr.close();
    // Every call ends once the link does: nothing hangs.
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<string>((r) => {
      timer = setTimeout(() => r("hung"), 5000);
    });
    const outcome = await Promise.race([Promise.all(settled).then(() => "settled"), hung]);
    clearTimeout(timer);
    assert.equal(
      outcome,
      "settled",
      `a call never settled after its link closed (seed ${seed}): ${calls.map((c) => c.method)}`,
    );
  }
  t.diagnostic(JSON.stringify(stats));
  assert.deepEqual(thrown, [], `a frame handler threw (seed ${seed})`);
  assert.deepEqual(wrong, [], `an unchecked or foreign answer got through (seed ${seed})`);
  assert.deepEqual(faults, [], `uncaught exception or unhandled rejection (seed ${seed})`);
  assert.ok(stats.violations > 100, "the fuzzer provoked protocol violations");
  assert.ok(stats.resolved > 500, "the fuzzer also gave answers that were taken");
});

const server = () => startTlsServer(cleanups);

test("hostile runners over TLS: each bad connection closes with a reason and an audit record; the server serves on", async (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed} (replay: WARREN_FUZZ_SEED=${seed})`);
  const fz = new Fuzzer(seed);
  const faults = watchFaults(t);
  const d = await server();
  const minted = await d.app.inject({
    method: "POST",
    url: "/api/v1/admin/runner-tokens",
    payload: { name: "evil" },
  });
  const token = minted.json().token as string;
  const { openRawRunner } = await import("@warren/testing/raw-runner");
  const send = (link: Awaited<ReturnType<typeof openRawRunner>>, f: FuzzFrame) => link.send(f);

  const closes: { code: number; reason: string }[] = [];
  let frames = 0;
  let stalled = 0;
  for (let i = 0; i < 40; i++) {
    const link = await openRawRunner({ url: d.url, fingerprint: d.fingerprint, token });
    const { closed } = link;
    // Half say a valid hello first and then misbehave while the hub sweeps them.
    if (i % 2 === 0) {
      await send(link, fz.mutate({ t: "hello", version: RUNNER_WIRE_VERSION, info: INFO }));
      await send(link, { text: '{"t":"ok","id":' }); // in case the hello came through intact
      frames += 2;
    } else {
      await send(link, { text: JSON.stringify({ t: "hello", version: RUNNER_WIRE_VERSION, info: INFO }) });
      const call = (await link.next()) as { id: number };
      for (let k = 0; k < 5 && link.ws.readyState === link.ws.OPEN; k++) {
        await send(link, fz.mutate({ t: "ok", id: call.id + (k === 4 ? 7 : 0), result: [fz.string()] }));
        frames++;
      }
      // Out of turn; then raw bytes that are not a frame at all.
      await send(link, { text: JSON.stringify({ t: "hello", version: RUNNER_WIRE_VERSION, info: INFO }) });
      await send(link, {
        binary: fz.chance(0.5)
          ? new Uint8Array([0xff, 0xff, 0xff, 0xff])
          : new TextEncoder().encode(fz.string()),
      });
      frames += 2;
    }
    // Raw bytes can leave a frame half-sent (a length that promises more than came): the control
    // plane then waits for the rest, as it would for a slow runner, without buffering past
    // MAX_WIRE_FRAME. Such a link is ended here after a moment and not counted.
    const c = await Promise.race([closed, sleep(3000).then(() => undefined)]);
    if (!c) {
      stalled++;
      link.ws.terminate();
      continue;
    }
    closes.push(c);
    assert.ok(
      c.code === 1002 || c.code === 1003 || c.code === 1009 || c.code === 1011,
      `${c.code} ${c.reason}`,
    );
    assert.ok(c.reason.length > 0, "the close says why");
  }
  t.diagnostic(
    `${frames} frames over 40 TLS connections; close codes ${[...new Set(closes.map((c) => c.code))]}; ${stalled} left waiting for the rest of a frame`,
  );
  assert.ok(closes.length >= 30, "most hostile links were closed by the control plane");
  assert.equal(d.hub?.connected().length, 0, "no hostile connection became a runner");

  const audit = await d.app.inject({
    method: "GET",
    url: `/api/v1/audit?action=${AUDIT_RUNNER_PROTOCOL_VIOLATION}&limit=500`,
  });
  assert.equal(audit.statusCode, 200, audit.body);
  const records = audit.json().items as { actor: string; target: string; result: string }[];
  assert.ok(records.length >= 10, `violations are audited (${records.length})`);
  const evil = minted.json().id as string;
  for (const r of records) {
    assert.equal(r.actor, `runner:${evil}`);
    assert.match(r.target, new RegExp(`^${evil}: (bad (frame|hello)|runner protocol version)`));
  }

  // The server still serves: an honest runner connects and a real request goes through it.
  const runner = new FakeRunner();
  const goodToken = (
    await d.app.inject({ method: "POST", url: "/api/v1/admin/runner-tokens", payload: { name: "good" } })
  ).json().token as string;
  const c = await connectRunner({ url: d.url, fingerprint: d.fingerprint, token: goodToken }, runner);
  cleanups.push(() => c.close());
  await c.ready;
  const created = await d.app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "dev" },
  });
  assert.equal(created.statusCode, 201, created.body);
  const echo = await execWs(d.socketPath, "dev", ["echo", "still", "here"]).done;
  assert.equal(echo.stdout, "still here\n");
  await tick();
  assert.deepEqual(faults, [], `uncaught exception or unhandled rejection (seed ${seed})`);
});
