// Fuzzes the runner's end of the wire (runner-serve.ts) with frames a hostile or broken control
// plane could send: generated and mutated calls and inputs, truncated JSON, wrong types, huge and
// repeated ids, unknown methods, binary frames and frames after close. The bar: no throw out of a
// frame handler, no uncaught exception or unhandled rejection, nothing unchecked reaches the
// RunnerApi, every frame the runner sends is one the control plane accepts, and a fresh connection
// still answers a real call afterwards. Replay a failure with WARREN_FUZZ_SEED=<printed seed>.
import assert from "node:assert/strict";
import { constants } from "node:os";
import { test } from "node:test";
import {
  type EnvObserved,
  type ExecHandlers,
  type ExecRequest,
  type RunnerApi,
  type RunnerEnvSpec,
  serveRunner,
  WarrenError,
} from "@warren/protocol";
import { checkResult, parseRunnerFrame } from "@warren/protocol/runner-validate";
import { FakeWs, Fuzzer, fuzzSeed, WIRE_IMAGE, wireInfo, wireStats } from "@warren/testing/runner-fuzz";

const FRAMES = 10_000;

const INFO = wireInfo("fuzz-runner");
const SPEC: RunnerEnvSpec = {
  id: "env0000000a1",
  name: "dev",
  slot: 0,
  image: "debian:12",
  runtime: "runc",
  resources: { cpus: 1, memoryBytes: 1 << 28, diskBytes: 1 << 30, pids: 512 },
  egress: { mode: "allow", cidrs: ["10.0.0.0/8"] },
  secrets: [{ name: "TOKEN", kind: "env", value: "s3cret" }],
};
const IMAGE = WIRE_IMAGE;

/** Valid arguments of every method, as the control plane sends them. */
const GOOD_ARGS: Record<string, unknown[]> = {
  info: [],
  ensureRunning: [SPEC],
  ensureStopped: [SPEC, 1000],
  remove: [SPEC.id],
  observe: [SPEC.id],
  list: [],
  sweep: [[SPEC.id, "envkeep00002"]],
  appendEvent: [SPEC.id, "started"],
  listImages: [],
  hasImage: ["debian:12"],
  removeImage: ["debian:12"],
  pruneImages: [{ keep: ["debian:12"] }],
  setResources: [SPEC],
  stats: [SPEC.id],
  dnsStats: [],
  listPorts: [SPEC.id],
  importImage: ["/tmp/x.tar", null],
  ensureBaseImage: [{ mirror: "http://deb.example/debian" }],
  pullImage: ["debian:12", { credential: { username: "u", password: "p" } }],
  fetchFeature: [
    { envId: SPEC.id, source: "./features/x", configDir: "/w/r/.devcontainer", repoRoot: "/w/r" },
  ],
  buildImage: [
    { envId: SPEC.id, repoRoot: "/w/r", dockerfile: { dockerfile: "/w/r/Dockerfile", context: "/w/r" } },
  ],
  imageLabels: ["debian:12"],
  saveTemplate: [SPEC.id, "0123456789abcdef0123"],
  removeTemplate: ["0123456789abcdef0123"],
  exec: [SPEC.id, { cmd: ["sh", "-c", "echo hi"], tty: false }],
  logs: [SPEC.id, { follow: true, tail: 10 }],
};
const METHODS = Object.keys(GOOD_ARGS);

/** A RunnerApi that records any input it should never have been given. */
function stubApi(fz: Fuzzer, bad: string[]): RunnerApi {
  const isId = (id: unknown, where: string) => {
    if (typeof id !== "string" || id.length === 0 || id.length > 128) bad.push(`${where}: id ${String(id)}`);
  };
  const isSpec = (s: RunnerEnvSpec, where: string) => {
    isId(s?.id, where);
    if (typeof s?.resources?.cpus !== "number" || !Array.isArray(s.secrets ?? [])) bad.push(`${where}: spec`);
  };
  const maybeFail = async () => {
    if (fz.chance(0.1)) throw new WarrenError("ENV_NOT_FOUND", "no such environment", { id: SPEC.id });
    if (fz.chance(0.05)) throw new Error("x".repeat(100_000)); // longer than the wire allows
  };
  const observed = (id: string): EnvObserved => ({ id, state: "running", pid: 42 });
  return {
    info: async () => INFO,
    ensureRunning: async (s) => {
      isSpec(s, "ensureRunning");
      await maybeFail();
      return observed(s.id);
    },
    ensureStopped: async (s, g) => {
      isSpec(s, "ensureStopped");
      if (!Number.isInteger(g)) bad.push("ensureStopped: grace");
      return observed(s.id);
    },
    remove: async (id) => {
      isId(id, "remove");
      await maybeFail();
    },
    observe: async (id) => {
      isId(id, "observe");
      await maybeFail();
      return observed(id);
    },
    list: async () => [observed(SPEC.id)],
    saveTemplate: async (id, key) => {
      isId(id, "saveTemplate");
      if (!/^[0-9a-f]{16,128}$/.test(key)) bad.push(`saveTemplate: key ${String(key)}`);
      await maybeFail();
      return { key, image: "warren/debian:bookworm", diskBytes: 1, usedBytes: 1 };
    },
    removeTemplate: async (key) => {
      if (!/^[0-9a-f]{16,128}$/.test(key)) bad.push(`removeTemplate: key ${String(key)}`);
    },
    sweep: async (keep) => {
      if (!(keep instanceof Set) || [...keep].some((k) => typeof k !== "string")) bad.push("sweep: keep");
      return [];
    },
    exec: async (id: string, req: ExecRequest, h: ExecHandlers) => {
      isId(id, "exec");
      if (!Array.isArray(req?.cmd) || req.cmd.some((c) => typeof c !== "string")) bad.push("exec: cmd");
      await maybeFail();
      setImmediate(() => {
        h.stdout(new TextEncoder().encode("hi\n"));
        const end = fz.int(10);
        if (end === 0) h.exit(0);
        else if (end === 1) h.error?.(new WarrenError("INTERNAL", "lost"));
      });
      return {
        stdin: (d) => d instanceof Uint8Array || bad.push("stdin: data"),
        endStdin: () => {},
        resize: (c, r) => (Number.isInteger(c) && Number.isInteger(r)) || bad.push("resize"),
        // process.kill throws on a name it does not know: only real signal names may arrive.
        signal: (sig) => Object.hasOwn(constants.signals, sig) || bad.push(`signal ${String(sig)}`),
        pause: () => {},
        resume: () => {},
      };
    },
    logs: (id, opts, onData) => {
      isId(id, "logs");
      if (typeof opts?.follow !== "boolean") bad.push("logs: opts");
      let end!: () => void;
      const done = new Promise<void>((r) => {
        end = r;
      });
      setImmediate(() => onData("line\n"));
      if (!opts.follow) setImmediate(end);
      return { done, close: end };
    },
    appendEvent: async (id, m) => {
      isId(id, "appendEvent");
      if (typeof m !== "string") bad.push("appendEvent");
    },
    listImages: async () => [IMAGE],
    importImage: async (p, ref, progress) => {
      if (typeof p !== "string" || (ref !== undefined && typeof ref !== "string")) bad.push("importImage");
      progress({ phase: "unpack", message: "layer 1", current: 1, total: 2 });
      return IMAGE;
    },
    ensureBaseImage: async (_o, progress) => {
      progress({ phase: "build", message: "x" });
      return IMAGE;
    },
    hasImage: async (ref) => {
      if (typeof ref !== "string") bad.push("hasImage");
      return true;
    },
    pullImage: async (ref, progress) => {
      if (typeof ref !== "string") bad.push("pullImage");
      progress({ phase: "pull", message: "x" });
      return IMAGE;
    },
    fetchFeature: async (req, progress) => {
      isId(req?.envId, "fetchFeature");
      if (typeof req.source !== "string") bad.push("fetchFeature: source");
      progress({ phase: "feature", message: "x" });
      return { source: req.source, id: "x", digest: `sha256:${"0".repeat(64)}`, metadata: { id: "x" } };
    },
    buildImage: async (req, progress) => {
      isId(req?.envId, "buildImage");
      if (typeof req.repoRoot !== "string") bad.push("buildImage: repoRoot");
      progress({ phase: "build", message: "STEP 1/1" });
      return { ...IMAGE, cached: false };
    },
    imageLabels: async (ref) => {
      if (typeof ref !== "string") bad.push("imageLabels");
      return { "devcontainer.metadata": "[]" };
    },
    removeImage: async (ref) => [ref],
    pruneImages: async () => ({ removed: [], freedBytes: 0 }),
    setResources: async (s) => {
      isSpec(s, "setResources");
      return observed(s.id);
    },
    stats: async (id) => wireStats(id),
    dial: async () => {
      throw new WarrenError("DIAL_FAILED", "the fuzz runner has no ports");
    },
    listPorts: async (id) => {
      isId(id, "listPorts");
      return [{ port: 8080, address: "0.0.0.0", family: 4 }];
    },
    dnsStats: async () => ({
      hits: 0,
      misses: 0,
      negativeHits: 0,
      upstreamQueries: 0,
      upstreamErrors: 0,
      tcpRetries: 0,
      cacheEntries: 0,
      upstreamLatencyMs: { p50: 0, p99: 0, mean: 0 },
      upstreams: [],
    }),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test(`the runner survives ${FRAMES} generated and mutated control-plane frames`, async (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed} (replay: WARREN_FUZZ_SEED=${seed})`);
  const fz = new Fuzzer(seed);
  const faults: unknown[] = [];
  const onFault = (e: unknown) => faults.push(e);
  process.on("uncaughtException", onFault);
  process.on("unhandledRejection", onFault);
  t.after(() => {
    process.off("uncaughtException", onFault);
    process.off("unhandledRejection", onFault);
  });

  const bad: string[] = [];
  const api = stubApi(fz, bad);
  const stats = { frames: 0, sessions: 0, violations: 0, answered: 0, afterClose: 0 };
  const thrown: unknown[] = [];
  const runnerSent: string[] = [];
  while (stats.frames < FRAMES) {
    stats.sessions++;
    const ws = new FakeWs();
    const served = serveRunner(ws.conn(), api, { onProtocolError: () => {} });
    while (ws.sent.length === 0) await tick(); // hello
    const methodOf = new Map<number, string>();
    const answers = new Map<number, number>();
    const openExecs: number[] = [];
    let nextId = 1;
    const budget = 1 + fz.int(60);
    for (let i = 0; i < budget && !ws.closed; i++) {
      const roll = fz.int(10);
      let frame: Record<string, unknown>;
      if (roll < 6) {
        const method = fz.chance(0.05)
          ? fz.pick(["nope", "__proto__", "constructor", "toString", "sweep2"])
          : fz.pick(METHODS);
        // Mostly upward ids; sometimes a repeat or a step back (a violation).
        const fresh = nextId === 1 || fz.chance(0.97);
        const id = fresh ? nextId++ : Math.max(1, nextId - 1 - fz.int(3));
        if (fresh) methodOf.set(id, method);
        if (method === "exec") openExecs.push(id);
        frame = { t: "call", id, method, args: Object.hasOwn(GOOD_ARGS, method) ? GOOD_ARGS[method] : [] };
      } else if (roll < 9) {
        const ev = fz.pick(["stdin", "endStdin", "resize", "signal", "close", "pause", "resume"]);
        const data = {
          stdin: "aGkK",
          endStdin: undefined,
          resize: { cols: 80, rows: 24 },
          signal: fz.pick(["SIGTERM", "SIGINT", "SIGNOPE"]),
          close: undefined,
          pause: undefined,
          resume: undefined,
        }[ev];
        const id = openExecs.length && fz.chance(0.8) ? fz.pick(openExecs) : 1 + fz.int(100);
        frame = data === undefined ? { t: "in", id, ev } : { t: "in", id, ev, data };
      } else frame = { t: "welcome", runnerId: "r1" };
      const intact = fz.chance(0.85);
      const wire = intact ? { text: JSON.stringify(frame) } : fz.mutate(frame);
      // Only an intact call's answer can be checked against its method's result schema.
      if (!intact && frame["t"] === "call") methodOf.delete(frame["id"] as number);
      const err = ws.deliver(wire);
      if (err) thrown.push(err);
      stats.frames++;
      if (fz.chance(0.3)) await tick();
    }
    // Frames after close, or the control plane going away.
    if (ws.closed) {
      for (let i = fz.int(2); i >= 0; i--) {
        const err = ws.deliver(fz.mutate({ t: "call", id: nextId++, method: "info", args: [] }));
        if (err) thrown.push(err);
        stats.frames++;
        stats.afterClose++;
      }
      if (ws.closed.code !== 1000 && ws.closed.code !== 1001) stats.violations++;
      assert.ok(ws.closed.reason.length > 0, "a violation close says why");
    } else ws.close(1001, "control plane closing");
    await served; // resolves once the link is closed: nothing hangs
    await tick();
    // Everything the runner sent is a frame the control plane accepts, answered once per call.
    for (const text of ws.sent.slice(1)) {
      const f = parseRunnerFrame(text);
      runnerSent.push(text);
      if (f.t === "ok" || f.t === "err") {
        answers.set(f.id, (answers.get(f.id) ?? 0) + 1);
        stats.answered++;
        const m = methodOf.get(f.id);
        if (f.t === "ok" && m && Object.hasOwn(GOOD_ARGS, m)) {
          try {
            checkResult(m as "info", f.result);
          } catch (err) {
            assert.fail(`call ${f.id} (${m}): ${(err as Error).message}; seed ${seed}`);
          }
        }
      }
    }
    for (const [id, n] of answers) assert.equal(n, 1, `call ${id} answered ${n} times (seed ${seed})`);
  }
  t.diagnostic(JSON.stringify(stats));
  assert.deepEqual(thrown, [], `a frame handler threw (seed ${seed})`);
  assert.deepEqual(bad, [], `unchecked input reached the RunnerApi (seed ${seed})`);
  assert.deepEqual(faults, [], `uncaught exception or unhandled rejection (seed ${seed})`);
  assert.ok(stats.frames >= FRAMES);
  assert.ok(stats.violations > 100, "the fuzzer provoked protocol violations");
  assert.ok(stats.answered > 1000, "the fuzzer also made calls that were answered");

  // A fresh connection still serves a real call.
  const ws = new FakeWs();
  const served = serveRunner(ws.conn(), api);
  while (ws.sent.length === 0) await tick();
  assert.equal(
    ws.deliver({ text: JSON.stringify({ t: "call", id: 1, method: "list", args: [] }) }),
    undefined,
  );
  while (ws.sent.length < 2) await tick();
  assert.deepEqual(JSON.parse(ws.sent[1] as string), {
    t: "ok",
    id: 1,
    result: [{ id: SPEC.id, state: "running", pid: 42 }],
  });
  ws.close(1000, "done");
  await served;
});

test("a control plane's bad frame closes the link with a reason saying what was wrong", async () => {
  const cases: [string | Uint8Array, number, RegExp][] = [
    ['{"t":"call","id":1,"method":"info"', 1002, /not valid JSON/],
    ['{"t":"call","id":1e400,"method":"info","args":[]}', 1002, /call frame at \/id/],
    ['{"t":"call","id":9007199254740993,"method":"info","args":[]}', 1002, /call frame at \/id/],
    ['{"t":"hello","version":1}', 1002, /unknown frame type/],
    // Exec input travels on exec streams now: on the control stream it breaks the protocol.
    ['{"t":"in","id":1,"ev":"signal","data":"SIGKILL"}', 1002, /in frame at \/ev/],
    // A length past the largest frame: nothing is buffered waiting for it.
    [new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), 1009, /exceeds/],
  ];
  for (const [frame, code, why] of cases) {
    const ws = new FakeWs();
    const served = serveRunner(ws.conn(), stubApi(new Fuzzer(1), []));
    while (ws.sent.length === 0) await tick();
    assert.equal(ws.deliver(typeof frame === "string" ? { text: frame } : { binary: frame }), undefined);
    assert.equal(ws.closed?.code, code, String(frame));
    assert.match(ws.closed?.reason ?? "", why);
    await served;
  }
  // A repeated call id: the first call is answered, the repeat closes the link.
  const ws = new FakeWs();
  const served = serveRunner(ws.conn(), stubApi(new Fuzzer(1), []));
  while (ws.sent.length === 0) await tick();
  ws.deliver({ text: JSON.stringify({ t: "call", id: 5, method: "list", args: [] }) });
  ws.deliver({ text: JSON.stringify({ t: "call", id: 5, method: "list", args: [] }) });
  assert.match(ws.closed?.reason ?? "", /call id 5 repeats or goes backwards/);
  await served;
  // Bad arguments to a known method fail that call only.
  const ws2 = new FakeWs();
  const served2 = serveRunner(ws2.conn(), stubApi(new Fuzzer(1), []));
  while (ws2.sent.length === 0) await tick();
  ws2.deliver({ text: JSON.stringify({ t: "call", id: 1, method: "observe", args: [42] }) });
  while (ws2.sent.length < 2) await tick();
  const answer = JSON.parse(ws2.sent[1] as string);
  assert.equal(answer.t, "err");
  assert.equal(answer.error.code, "INVALID_ARGUMENT");
  assert.match(answer.error.message, /observe arguments at \/0/);
  assert.equal(ws2.closed, undefined, "the link stays up");
  ws2.close(1000, "done");
  await served2;
});
