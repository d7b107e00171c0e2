// Fuzzes both ends of exec streams and the runner's dial opener (protocol streams/exec-*.ts,
// dial-stream.ts) with what a hostile peer sends: generated and mutated frames, bad JSON, wrong
// tuple shapes, oversize lengths, frames split at random byte boundaries, input out of order and
// abrupt resets; part of the run goes over a real HTTP/2 stream (streams-loopback), the rest over
// an in-memory duplex pair. The bar: no uncaught exception or unhandled rejection, nothing unchecked
// reaches the RunnerApi, every stream ends, no command is left running without a stream, a bad
// frame resets only its own stream, and the control plane's exec() always settles with at most
// one of exit/error. Replay a failure with WARREN_FUZZ_SEED=<printed seed>.
import assert from "node:assert/strict";
import { type Duplex, duplexPair } from "node:stream";
import { test } from "node:test";
import { WarrenError } from "@warren/protocol";
import { dialOpener } from "@warren/protocol/streams";
import { Fuzzer, fuzzSeed } from "@warren/testing/runner-fuzz";
import { startLoopback } from "@warren/testing/streams-loopback";
import { clientTrial } from "./exec-fuzz-client.ts";
import { envId } from "./exec-fuzz-frames.ts";
import {
  type ExecRunnerTrial,
  type OpenPair,
  pairOverHttp2,
  pairOverMemory,
  runnerTrial,
  type TrialStats,
  watchFaults,
} from "./exec-fuzz-world.ts";

const RUNNER_FRAMES = 10_000;
const CLIENT_TRIALS = 1_000;
const DIAL_METAS = 2_000;

test(`the runner's exec streams survive ${RUNNER_FRAMES} hostile frames`, async (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed} (replay: WARREN_FUZZ_SEED=${seed})`);
  const faults = watchFaults(t);
  const trials = new Map<string, ExecRunnerTrial>();
  const lb = await startLoopback({ exec: pairOverHttp2.handler(trials) });
  t.after(() => lb.close());
  const stats: TrialStats = { frames: 0, streams: 0, http2: 0, breaches: 0, clean: 0, invalidRequests: 0 };
  const violations: string[] = [];
  let n = 0;
  while (stats.frames < RUNNER_FRAMES) {
    // A batch of streams at once on the HTTP/2 session (a bad one must not touch its neighbours),
    // or one at a time over memory.
    const overHttp2 = n % 4 === 0;
    const batch = overHttp2 ? 6 : 1;
    const runs: Promise<void>[] = [];
    for (let i = 0; i < batch; i++, n++) {
      const fz = new Fuzzer((seed + Math.imul(n + 1, 0x9e3779b1)) >>> 0);
      const open: OpenPair = overHttp2 ? pairOverHttp2.open(lb.client, trials, `t${n}`) : pairOverMemory;
      const at = n;
      runs.push(runnerTrial(fz, open, stats, (v) => violations.push(`stream ${at} (seed ${seed}): ${v}`)));
    }
    await Promise.all(runs);
    if (overHttp2) stats.http2 += batch;
  }
  t.diagnostic(JSON.stringify(stats));
  assert.deepEqual(violations, []);
  assert.deepEqual(faults, [], `uncaught exception or unhandled rejection (seed ${seed})`);
  assert.ok(!lb.client.session.destroyed, "bad streams never took the HTTP/2 session down");
  assert.ok(
    stats.breaches > 100 && stats.clean > 50 && stats.invalidRequests > 20,
    "every kind of stream ran",
  );
  // The same session still runs a command end to end.
  const after: string[] = [];
  const clean: TrialStats = { frames: 0, streams: 0, http2: 0, breaches: 0, clean: 0, invalidRequests: 0 };
  await runnerTrial(
    new Fuzzer(seed),
    pairOverHttp2.open(lb.client, trials, "last"),
    clean,
    (v) => after.push(v),
    "clean",
  );
  assert.deepEqual(after, []);
  assert.equal(clean.clean, 1);
});

test(`the control plane's exec() settles against ${CLIENT_TRIALS} hostile runners`, async (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed} (replay: WARREN_FUZZ_SEED=${seed})`);
  const faults = watchFaults(t);
  const hostile = new Map<string, (s: Duplex) => void>();
  const lb = await startLoopback({
    hostile: (meta, s) => (hostile.get(meta["trial"] ?? "") ?? ((x) => x.destroy()))(s),
  });
  t.after(() => lb.close());
  const stats = { trials: 0, http2: 0, frames: 0, resolved: 0, rejected: 0, exits: 0, errors: 0, honest: 0 };
  const violations: string[] = [];
  for (let n = 0; n < CLIENT_TRIALS; n++) {
    const fz = new Fuzzer((seed + Math.imul(n + 1, 0x85ebca6b)) >>> 0);
    const v = (m: string) => violations.push(`trial ${n} (seed ${seed}): ${m}`);
    const overHttp2 = n % 5 === 0;
    let cp: Duplex;
    let rn: Duplex;
    if (overHttp2) {
      const runnerSide = new Promise<Duplex>((r) => hostile.set(`c${n}`, r));
      cp = await lb.client.openStream("hostile", { trial: `c${n}` });
      rn = await runnerSide;
      hostile.delete(`c${n}`);
      stats.http2++;
    } else {
      [cp, rn] = duplexPair();
      cp.on("error", () => {});
      rn.on("error", () => {});
    }
    stats.trials++;
    await clientTrial(fz, cp, rn, overHttp2, stats, v);
  }
  t.diagnostic(JSON.stringify(stats));
  assert.deepEqual(violations, []);
  assert.deepEqual(faults, [], `uncaught exception or unhandled rejection (seed ${seed})`);
  assert.ok(
    // About 5% of trials end in a runner's error; the bar leaves room for a seed's luck.
    stats.resolved > 100 && stats.rejected > 100 && stats.errors > 20,
    "the fuzzer reached every outcome",
  );
});

test(`the runner's dial opener checks ${DIAL_METAS} random stream metadata maps`, async (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed} (replay: WARREN_FUZZ_SEED=${seed})`);
  const faults = watchFaults(t);
  const fz = new Fuzzer(seed);
  const dialled: [string, number, string | undefined][] = [];
  const opener = dialOpener({
    dial: async (env, port, host) => {
      dialled.push([env, port, host]);
      if (fz.chance(0.2)) throw new WarrenError("DIAL_FAILED", "nothing listens there");
      const [a] = duplexPair();
      return a;
    },
  });
  const goodEnv = () => envId(fz);
  const goodPort = () => String(1 + fz.int(65_535));
  const goodHost = () =>
    fz.pick([
      "127.0.0.1",
      "::1",
      `10.${fz.int(256)}.${fz.int(256)}.${fz.int(256)}`,
      "fe80::1",
      "::ffff:127.0.0.1",
      "169.254.169.254",
    ]);
  const badEnv = () =>
    fz.pick(["", "ENV1", "env-1", "env_1", "a".repeat(129), "env1\n", "../env", " env1", "é", fz.string()]);
  const badPort = () =>
    fz.pick([
      "",
      "0",
      "65536",
      "99999",
      "123456",
      "-1",
      "1.5",
      "1e3",
      "0x50",
      " 80",
      "80 ",
      "+80",
      "８０",
      fz.string(),
    ]);
  const badHost = () =>
    fz.pick([
      "",
      "localhost",
      "256.1.1.1",
      "1.2.3",
      "127.0.0.1 ",
      "[::1]",
      "::g",
      "10.0.0.1/8",
      "1.1.1.1:80",
      fz.string(),
    ]);
  const stats = { valid: 0, refused: 0, dialFailed: 0 };
  const net = await import("node:net");
  for (let i = 0; i < DIAL_METAS; i++) {
    const meta: Record<string, string> = fz.chance(0.5) ? Object.create(null) : {};
    const parts = { env: fz.chance(0.7), port: fz.chance(0.7), host: fz.chance(0.6) };
    if (fz.chance(0.9)) meta["env"] = parts.env ? goodEnv() : badEnv();
    if (fz.chance(0.9)) meta["port"] = parts.port ? goodPort() : badPort();
    if (fz.chance(0.7)) meta["host"] = parts.host ? goodHost() : badHost();
    if (fz.chance(0.1)) meta[fz.pick(["toString", "constructor", "extra", "x-y"])] = fz.string();
    // The oracle, independent of dial-stream.ts's own checks.
    const env = meta["env"];
    const port = meta["port"];
    const host = meta["host"];
    const valid =
      typeof env === "string" &&
      env.length >= 1 &&
      env.length <= 128 &&
      [...env].every((c) => (c >= "a" && c <= "z") || (c >= "0" && c <= "9")) &&
      typeof port === "string" &&
      port.length <= 5 &&
      [...port].every((c) => c >= "0" && c <= "9") &&
      Number(port) >= 1 &&
      Number(port) <= 65_535 &&
      (host === undefined || net.isIPv4(host) || net.isIPv6(host));
    const before = dialled.length;
    let opened: Promise<unknown>;
    try {
      opened = opener.open(meta);
    } catch (err) {
      assert.fail(`open threw synchronously for ${JSON.stringify(meta)}: ${String(err)} (seed ${seed})`);
    }
    const outcome = await opened.then(
      () => "ok",
      (err: unknown) => err,
    );
    const what = `${JSON.stringify(meta)} (seed ${seed})`;
    if (valid) {
      stats.valid++;
      assert.deepEqual(dialled.slice(before), [[env, Number(port), host ?? "127.0.0.1"]], what);
      if (outcome !== "ok") {
        stats.dialFailed++;
        assert.ok(outcome instanceof WarrenError && outcome.code === "DIAL_FAILED", what);
      }
    } else {
      stats.refused++;
      assert.equal(dialled.length, before, `invalid metadata reached dial: ${what}`);
      assert.ok(outcome instanceof WarrenError, what);
      assert.equal(outcome.code, "INVALID_ARGUMENT", what);
      assert.match(outcome.message, /^dial: (env|port|host) must be/, what);
    }
  }
  t.diagnostic(JSON.stringify(stats));
  assert.deepEqual(faults, []);
  assert.ok(stats.valid > 200 && stats.refused > 200, "both valid and invalid metadata were tried");
});
