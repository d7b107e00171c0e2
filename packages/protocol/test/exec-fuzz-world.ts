// The runner-side half of the exec-stream fuzzer (exec-stream-fuzz.test.ts): two ways to join the
// fuzzer to serveExecStream (an in-memory duplex pair, or a real HTTP/2 stream of the runner link),
// and one fuzzed stream from request to close with the checks that apply to it (the recording
// RunnerApi.exec stub is exec-fuzz-stub.ts).
import { type Duplex, duplexPair } from "node:stream";
import type { TestContext } from "node:test";
import {
  encodeFrame,
  EXEC_FRAME as F,
  jsonPayload,
  type StreamClient,
  type StreamHandler,
  serveExecStream,
} from "@warren/protocol/streams";
import type { Fuzzer } from "@warren/testing/runner-fuzz";
import {
  badRequestPayload,
  chop,
  envId,
  execRequest,
  inputFrame,
  type ToRunner,
} from "./exec-fuzz-frames.ts";
import { type ExecApi, type Plan, type Rec, readRunner, stubExec } from "./exec-fuzz-stub.ts";

export function watchFaults(t: TestContext): unknown[] {
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

export const tick = () => new Promise<void>((r) => setImmediate(r));

/** Waits for `cond`, at most `ms`; false when it never held. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const start = Date.now();
  for (let i = 0; !cond(); i++) {
    if (Date.now() - start > ms) return false;
    await (i < 1000 ? tick() : new Promise((r) => setTimeout(r, 2)));
  }
  return true;
}

export interface TrialStats {
  frames: number;
  streams: number;
  http2: number;
  breaches: number;
  clean: number;
  invalidRequests: number;
}

interface Pair {
  peer: Duplex; // the fuzzer's end, where the control plane would be
  served: Duplex; // the runner's end, given to serveExecStream
  abort(): void;
}
export type OpenPair = (api: ExecApi, problem: (m: string) => void) => Promise<Pair>;
export interface ExecRunnerTrial {
  api: ExecApi;
  problem: (m: string) => void;
  served: (s: Duplex) => void;
}

export const pairOverMemory: OpenPair = async (api, problem) => {
  const [peer, served] = duplexPair();
  peer.on("error", () => {});
  serveExecStream(api, served, problem);
  // An HTTP/2 reset reaches the runner's stream as its destruction.
  return {
    peer,
    served,
    abort: () => {
      served.destroy();
      peer.destroy();
    },
  };
};

export const pairOverHttp2 = {
  handler:
    (trials: Map<string, ExecRunnerTrial>): StreamHandler =>
    (meta, stream) => {
      const trial = trials.get(meta["trial"] ?? "");
      if (!trial) return void stream.destroy();
      trial.served(stream);
      serveExecStream(trial.api, stream, trial.problem);
    },
  open:
    (client: StreamClient, trials: Map<string, ExecRunnerTrial>, name: string): OpenPair =>
    async (api, problem) => {
      let served: Duplex | undefined;
      trials.set(name, { api, problem, served: (s) => (served = s) });
      const peer = await client.openStream("exec", { trial: name });
      trials.delete(name);
      if (!served) throw new Error("the runner never saw the stream");
      return { peer, served, abort: () => peer.destroy() };
    },
};

type Kind = "clean" | "bad-request" | "breach" | "chaos";
const DEFINITELY_BAD = new Set(["bad-resize", "bad-signal", "unknown-type", "second-request", "oversize"]);
const honestInput = (fz: Fuzzer, ok: (f: ToRunner) => boolean): ToRunner => {
  for (;;) {
    const f = inputFrame(fz);
    if (f.honest && ok(f)) return f;
  }
};

/** One exec stream, from its first frame to its close, and the checks that apply to its kind. */
export async function runnerTrial(
  fz: Fuzzer,
  open: OpenPair,
  stats: TrialStats,
  v: (m: string) => void,
  force?: Kind,
): Promise<void> {
  const roll = fz.int(100);
  const kind: Kind =
    force ?? (roll < 25 ? "clean" : roll < 35 ? "bad-request" : roll < 60 ? "breach" : "chaos");
  const plan: Plan = {
    fail: kind === "breach" || !fz.chance(0.1) ? undefined : fz.pick(["warren", "plain"] as const),
    exitOnEof: kind !== "breach" && (kind === "clean" || fz.chance(0.5)),
    lose: kind !== "breach" && fz.chance(0.1),
    burst: kind === "chaos" && fz.chance(0.03),
    code: fz.int(256),
  };
  const rec: Rec = {
    calls: 0,
    started: false,
    done: false,
    inputs: [],
    lateSignals: [],
    stdin: [],
    echoed: [],
  };
  const problems: string[] = [];
  const api = stubExec(fz, plan, rec, v);
  const { peer, served, abort } = await open(api, (m) => problems.push(m));
  stats.streams++;
  const got = readRunner(peer, v);
  const send = async (b: Buffer) => {
    for (const piece of chop(fz, b)) {
      peer.write(piece);
      if (fz.chance(0.2)) await tick();
    }
    stats.frames++;
  };
  const id = envId(fz);
  const req = execRequest(fz);
  const request = encodeFrame(F.request, jsonPayload([id, req]));
  const sentStdin: Buffer[] = [];
  const honestInputs: string[] = [];

  if (kind === "clean") {
    await send(request);
    if (!(await until(() => got.started + got.ends > 0, 2000))) v("no answer to a valid request");
    if (got.started) {
      for (let i = fz.int(10); i > 0; i--) {
        const f = honestInput(fz, (x) => x.kind !== "eof");
        if (f.stdin) sentStdin.push(f.stdin);
        await send(f.bytes);
      }
      await send(encodeFrame(F.eof));
    }
    if (!(await until(() => got.ends > 0, 2000))) v("no exit status after stdin ended");
    peer.end();
  } else if (kind === "bad-request") {
    await send(encodeFrame(F.request, badRequestPayload(fz)));
    if (!(await until(() => got.ends > 0, 2000))) v("no error answered a bad request");
    for (let i = fz.int(3); i > 0; i--) await send(inputFrame(fz).bytes);
    if (fz.chance(0.5)) peer.end();
    else abort();
  } else if (kind === "breach") {
    const bad = (first: boolean) => {
      for (;;) {
        const f = inputFrame(fz);
        // As the first frame, a (bad) request is answered with an error, not a reset.
        if (DEFINITELY_BAD.has(f.kind) && !(first && f.kind === "second-request")) return f;
      }
    };
    const early = fz.chance(0.25);
    if (early) {
      // Input before any request: a complete, well-formed frame, in the wrong place.
      await send(fz.chance(0.5) ? bad(true).bytes : honestInput(fz, () => true).bytes);
    } else {
      await send(request);
      if (!(await until(() => got.started > 0, 2000))) v("no STARTED for a valid request");
      for (let i = fz.int(6); i > 0; i--) {
        const f = honestInput(fz, (x) => x.kind === "stdin" || x.kind === "resize");
        honestInputs.push(f.kind);
        await send(f.bytes);
      }
      await send(bad(false).bytes);
    }
    // What follows the bad frame must never reach the command; a valid request least of all.
    for (let i = fz.int(3); i > 0; i--) await send(fz.chance(0.3) ? request : inputFrame(fz).bytes);
    if (!(await until(() => served.closed, 2000))) v("a bad frame did not reset its stream");
    if (early && rec.calls) v("a request after a bad frame reached exec");
    if (!problems.some((p) => p.startsWith("exec stream: "))) v("a bad frame was never reported");
    // The command saw a prefix of the honest input (a reset drops what was still queued), then
    // only the runner's own SIGKILL/SIGHUP.
    const kill = (x: string) => x === "signal:SIGKILL" || x === "signal:SIGHUP";
    const cut = rec.inputs.findIndex(kill);
    const seen = cut < 0 ? rec.inputs : rec.inputs.slice(0, cut);
    if (
      seen.join() !== honestInputs.slice(0, seen.length).join() ||
      !rec.inputs.slice(seen.length).every(kill) ||
      (rec.started && cut < 0)
    )
      v(`input reached the command around a bad frame: sent ${honestInputs}, got ${rec.inputs}`);
    stats.breaches++;
    abort();
  } else {
    const first = fz.int(10);
    await send(
      first < 8 ? request : first < 9 ? encodeFrame(F.request, badRequestPayload(fz)) : inputFrame(fz).bytes,
    );
    for (let i = fz.int(30); i > 0; i--) {
      if (fz.chance(0.1)) await until(() => got.started + got.ends > 0 || served.closed, 50);
      await send(fz.chance(0.03) ? request : inputFrame(fz).bytes);
    }
    if (fz.chance(0.4)) abort();
    else peer.end();
  }

  if (!(await until(() => served.closed, 3000)))
    v(
      `${kind} stream never ended: ${JSON.stringify({ plan, rec: { ...rec, stdin: rec.stdin.length, echoed: rec.echoed.length }, got: { ...got, out: got.out.length }, problems, served: { re: served.readableEnded, wf: served.writableFinished, we: served.writableEnded, d: served.destroyed, rf: served.readableFlowing, wl: served.writableLength, rl: served.readableLength }, peer: { re: peer.readableEnded, we: peer.writableEnded, d: peer.destroyed, wl: peer.writableLength, rl: peer.readableLength } })}`,
    );
  if (!(await until(() => !rec.started || rec.done, 1000)))
    v(`${kind}: the command runs on after its stream closed`);
  if (rec.calls > 1) v(`exec called ${rec.calls} times on one stream`);
  if (rec.lateSignals.some((s) => s !== "signal:SIGKILL") || (rec.lateSignals.length && !problems.length))
    v(`signals after the command ended: ${rec.lateSignals}`);
  for (const p of problems) if (!p.startsWith("exec stream: ")) v(`problem report ${p}`);

  if (kind === "clean") {
    stats.clean++;
    if (problems.length) v(`a clean stream was reported: ${problems}`);
    if (rec.calls !== 1 || rec.id !== id || JSON.stringify(rec.req) !== JSON.stringify(req))
      v("the command is not the one requested");
    if (plan.fail) {
      const want = plan.fail === "warren" ? "ENV_NOT_RUNNING" : "INTERNAL";
      if (got.started || got.error?.code !== want)
        v(`a failed start answered ${got.error?.code}, not ${want}`);
    } else {
      if (
        !Buffer.concat(sentStdin)
          .subarray(0, Buffer.concat(rec.stdin).length)
          .equals(Buffer.concat(rec.stdin))
      )
        v("stdin reached the command changed");
      if (!Buffer.concat(got.out).equals(Buffer.concat(rec.echoed)))
        v("stdout reached the control plane changed");
      if (plan.lose ? got.error?.code !== "INTERNAL" : got.exit !== rec.code)
        v(`ended with ${got.exit ?? got.error?.code}, the command with ${rec.code}`);
    }
    if (served.errored) v(`a clean stream ended in error: ${served.errored.message}`);
  } else if (kind === "bad-request") {
    stats.invalidRequests++;
    if (rec.calls) v("a bad request reached exec");
    if (got.started || got.error?.code !== "INVALID_ARGUMENT" || !/^exec request/.test(got.error.message))
      v(`a bad request answered ${got.error?.code}: ${got.error?.message}`);
  }
  if (!peer.destroyed) peer.destroy();
}
