// The control-plane half of the exec-stream fuzzer (exec-stream-fuzz.test.ts): the fuzzer plays a
// hostile runner against execOverStream on one stream (honest runs, and random or mutated
// STARTED/STDOUT/STDERR/EXIT/ERROR frames, split anywhere, then an orderly end or a reset) and
// checks what the caller sees: exec() settles (a WarrenError when it rejects), handlers get only
// bytes and at most one of exit/error, exit codes are in range, session methods never throw.
import type { Duplex } from "node:stream";
import { ERROR_CATALOG, type ExecHandlers, type ExecSession, WarrenError } from "@warren/protocol";
import {
  encodeFrame,
  execOverStream,
  EXEC_FRAME as F,
  FrameReader,
  jsonPayload,
} from "@warren/protocol/streams";
import type { Fuzzer } from "@warren/testing/runner-fuzz";
import { bytes, chop, envId, execRequest, runnerFrame } from "./exec-fuzz-frames.ts";
import { until } from "./exec-fuzz-world.ts";

export interface ClientStats {
  frames: number;
  resolved: number;
  rejected: number;
  exits: number;
  errors: number;
  honest: number;
}

/** One exec over `cp`, with the fuzzer as the runner at `rn`. */
export async function clientTrial(
  fz: Fuzzer,
  cp: Duplex,
  rn: Duplex,
  overHttp2: boolean,
  stats: ClientStats,
  v: (m: string) => void,
): Promise<void> {
  const id = envId(fz);
  const req = execRequest(fz);
  const got = { out: [] as Buffer[], exits: [] as number[], errors: [] as Error[], calls: 0 };
  const honest = fz.chance(0.25);
  const h: ExecHandlers = {
    stdout: (d) => output(d),
    stderr: (d) => output(d),
    whenWritable: () =>
      new Promise<void>((res, rej) => setImmediate(() => (fz.chance(0.9) ? res() : rej(new Error("gone"))))),
    exit: (code) => {
      got.calls++;
      got.exits.push(code);
    },
    ...(fz.chance(0.7)
      ? {
          error: (err: Error) => {
            got.calls++;
            got.errors.push(err);
          },
        }
      : {}),
  };
  function output(d: Uint8Array): boolean {
    if (!(d instanceof Uint8Array)) v(`output handler got ${typeof d}`);
    got.out.push(Buffer.from(d));
    return fz.chance(0.9);
  }
  // What the control plane sends: its request first, then only well-formed input frames.
  const sentByClient: number[] = [];
  const reader = new FrameReader();
  rn.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk, (type, payload) => {
        sentByClient.push(type);
        if (sentByClient.length === 1) {
          if (type !== F.request) v(`first frame is ${type}, not the request`);
          else if (payload.toString() !== JSON.stringify([id, req]))
            v("the request is not the one asked for");
        } else if (type < F.stdin || type > F.signal) v(`the control plane sent frame type ${type}`);
      });
    } catch (err) {
      v(`the control plane sent a bad frame: ${(err as Error).message}`);
    }
  });
  // Settled from a callback: a holder, so the checks below are not narrowed to "pending".
  const run: { state: "pending" | "resolved" | "rejected"; session?: ExecSession; rejection?: unknown } = {
    state: "pending",
  };
  void execOverStream(
    cp,
    id,
    req,
    h,
    () => new WarrenError("RUNNER_UNAVAILABLE", "the runner went away"),
  ).then(
    (s) => {
      run.state = "resolved";
      run.session = s;
    },
    (err: unknown) => {
      run.state = "rejected";
      run.rejection = err;
    },
  );
  await until(() => sentByClient.length > 0, 2000);
  const poke = () => {
    try {
      if (!run.session) return;
      const m = fz.int(6);
      if (m === 0) run.session.stdin(bytes(fz, fz.int(100)));
      else if (m === 1) run.session.resize(1 + fz.int(300), 1 + fz.int(100));
      else if (m === 2) run.session.signal("SIGTERM");
      else if (m === 3) run.session.endStdin();
      else if (m === 4) run.session.pause?.();
      else run.session.resume?.();
    } catch (err) {
      v(`a session method threw: ${(err as Error).message}`);
    }
  };
  if (honest) {
    stats.honest++;
    const out = Array.from({ length: fz.int(5) }, () => bytes(fz, fz.int(fz.chance(0.1) ? 200_000 : 500)));
    const code = fz.int(256);
    rn.write(encodeFrame(F.started));
    for (const o of out) for (const piece of chop(fz, encodeFrame(F.stdout, o))) rn.write(piece);
    rn.write(encodeFrame(F.exit, jsonPayload(code)));
    if (!(await until(() => got.calls > 0, 3000))) v("an honest exit never arrived");
    else if (run.state !== "resolved" || got.exits[0] !== code || got.errors.length)
      v(`honest run: ${run.state}, exits ${got.exits}, errors ${got.errors.map((e) => e.message)}`);
    else if (!Buffer.concat(got.out).equals(Buffer.concat(out)))
      v("output bytes differ from what the runner sent");
  } else {
    for (let i = 1 + fz.int(12); i > 0; i--) {
      const f = runnerFrame(fz);
      stats.frames++;
      for (const piece of chop(fz, f.bytes)) rn.write(piece);
      if (fz.chance(0.3)) await new Promise((r) => setImmediate(r));
      if (fz.chance(0.2)) poke();
    }
    await new Promise((r) => setImmediate(r));
  }
  // The runner goes away: an orderly end of its side, or a reset.
  if (fz.chance(0.5)) rn.end();
  else {
    rn.destroy();
    if (!overHttp2) cp.destroy();
  }
  if (!(await until(() => run.state !== "pending", 3000))) v("exec() never settled");
  run.session?.resume?.(); // a pause the fuzzer left in place would hold the end back
  if (run.state === "resolved" && !(await until(() => got.calls > 0, 3000)))
    v("the stream ended but neither exit nor error fired");
  poke();
  await new Promise((r) => setImmediate(r));
  if (run.state === "resolved") stats.resolved++;
  if (run.state === "rejected") {
    stats.rejected++;
    if (!(run.rejection instanceof WarrenError) || !Object.hasOwn(ERROR_CATALOG, run.rejection.code))
      v(`exec() rejected with ${String(run.rejection)}`);
    if (got.calls || got.out.length) v("handlers were called for an exec that never started");
  }
  if (got.calls > 1) v(`${got.calls} exit/error calls`);
  for (const c of got.exits) if (!Number.isInteger(c) || c < -1 || c > 65_535) v(`exit code ${c}`);
  for (const e of got.errors)
    if (!(e instanceof WarrenError) || !Object.hasOwn(ERROR_CATALOG, e.code))
      v(`error handler got ${String(e)}`);
  stats.exits += got.exits.length;
  stats.errors += got.errors.length;
  cp.destroy();
  rn.destroy();
}
