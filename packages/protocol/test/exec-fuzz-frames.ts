// Frame generators for the exec-stream fuzzer (exec-stream-fuzz.test.ts): what a hostile control
// plane sends a runner on an exec stream, and what a hostile runner sends back. Each generator
// knows whether an honest peer could have sent its frame, so the fuzzer knows what to expect.
import { constants } from "node:os";
import type { ExecRequest } from "@warren/protocol";
import { encodeFrame, EXEC_FRAME as F, jsonPayload, MAX_EXEC_PAYLOAD } from "@warren/protocol/streams";
import type { Fuzzer } from "@warren/testing/runner-fuzz";

export const SIGNALS = Object.keys(constants.signals).filter((s) => /^SIG[A-Z0-9]{2,10}$/.test(s));
const BAD_SIGNALS = ["SIGNOPE", "sigterm", "", "SIGKILL\0", "__proto__", "KILL", "SIG", "SIGTERM ", "9"];
const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";

export const bytes = (fz: Fuzzer, n: number): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = fz.int(256);
  return b;
};

/** `buf` cut at random byte boundaries, as a network hands it over. */
export function chop(fz: Fuzzer, buf: Buffer): Buffer[] {
  if (buf.length < 2 || fz.chance(0.4)) return [buf];
  const cuts = [...new Set(Array.from({ length: 1 + fz.int(4) }, () => 1 + fz.int(buf.length - 1)))];
  cuts.sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, buf.length]) {
    out.push(buf.subarray(at, c));
    at = c;
  }
  return out;
}

/** A frame header claiming more than MAX_EXEC_PAYLOAD, then a few bytes. */
export function oversize(fz: Fuzzer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = fz.int(256);
  head.writeUInt32BE(MAX_EXEC_PAYLOAD + 1 + fz.int(2 ** 32 - MAX_EXEC_PAYLOAD - 2), 1);
  return Buffer.concat([head, bytes(fz, fz.int(32))]);
}

export function envId(fz: Fuzzer): string {
  let s = "";
  for (let i = 1 + fz.int(fz.chance(0.05) ? 128 : 16); i > 0; i--) s += ALNUM[fz.int(ALNUM.length)];
  return s;
}

export function execRequest(fz: Fuzzer): ExecRequest {
  const req: ExecRequest = { cmd: ["sh", "-c", fz.string()], tty: fz.chance(0.5) };
  if (fz.chance(0.5)) {
    req.cols = 1 + fz.int(500);
    req.rows = 1 + fz.int(200);
  }
  if (fz.chance(0.3)) req.env = { LANG: "C.UTF-8", TERM: fz.string() };
  if (fz.chance(0.2)) req.cwd = "/root";
  if (fz.chance(0.2)) req.user = "1000:1000";
  return req;
}

/** A request payload an honest control plane never sends; each is refused by the schema. */
export function badRequestPayload(fz: Fuzzer): Buffer {
  const id = envId(fz);
  const req = execRequest(fz) as unknown as Record<string, unknown>;
  const json = (v: unknown) => jsonPayload(v);
  switch (fz.int(13)) {
    case 0: {
      const text = JSON.stringify([id, req]);
      return Buffer.from(text.slice(0, fz.int(text.length - 1)));
    }
    case 1:
      return json([fz.pick(["", "x".repeat(129), 42, null, ["a"], {}]), req]);
    case 2:
      return json([id, { ...req, cmd: fz.pick([[], "sh", [1], null, [["sh"]]]) }]);
    case 3: // a huge argv: one argument past its bound, or too many arguments
      return json([id, { ...req, cmd: fz.chance(0.5) ? ["x".repeat(131_073)] : Array(4097).fill("x") }]);
    case 4:
      return json([id, { ...req, tty: fz.pick(["yes", 1, null, undefined]) }]);
    case 5:
      return json([id, { ...req, cols: fz.pick([-1, 1.5, 70_000, "80", 2 ** 53]) }]);
    case 6:
      return json([id, req, fz.value(1)]); // a third element
    case 7:
      return json(fz.value(3));
    case 8:
      return bytes(fz, fz.int(64));
    case 9:
      return Buffer.alloc(0);
    case 10:
      return json([id, { ...req, env: { LANG: fz.retype("") } }]);
    case 11:
      return json({ 0: id, 1: req });
    default:
      return json([id, fz.retype(req)]);
  }
}

export type ToRunner = { bytes: Buffer; kind: string; honest: boolean; stdin?: Buffer };

/** One frame a control plane might send after its request (or in its place). */
export function inputFrame(fz: Fuzzer): ToRunner {
  const r = fz.int(100);
  if (r < 30) {
    const data = bytes(fz, fz.chance(0.03) ? 64_000 + fz.int(300_000) : fz.int(2000));
    return { bytes: encodeFrame(F.stdin, data), kind: "stdin", honest: true, stdin: data };
  }
  if (r < 36) return { bytes: encodeFrame(F.eof), kind: "eof", honest: true };
  if (r < 50) {
    if (fz.chance(0.6)) {
      const size = { cols: 1 + fz.int(65_535), rows: 1 + fz.int(65_535) };
      return { bytes: encodeFrame(F.resize, jsonPayload(size)), kind: "resize", honest: true };
    }
    const bad = fz.pick<unknown>([
      { cols: 0, rows: 24 },
      { cols: 80, rows: 65_536 },
      { cols: 1.5, rows: 2 },
      { cols: "80", rows: 24 },
      { cols: 80 },
      [80, 24],
      null,
      { cols: -1, rows: -1 },
    ]);
    const payload = fz.chance(0.2) ? Buffer.from("{cols:80") : jsonPayload(bad);
    return { bytes: encodeFrame(F.resize, payload), kind: "bad-resize", honest: false };
  }
  if (r < 62) {
    if (fz.chance(0.6)) {
      // Only signals that end the stub's command, so honest streams stay predictable.
      const sig = fz.pick(["SIGWINCH", "SIGUSR1", "SIGCONT", "SIGTERM", "SIGINT"]);
      return { bytes: encodeFrame(F.signal, Buffer.from(sig, "latin1")), kind: `signal`, honest: true };
    }
    const any = fz.string();
    const sig = fz.chance(0.8) || SIGNALS.includes(any) ? fz.pick(BAD_SIGNALS) : any;
    return { bytes: encodeFrame(F.signal, Buffer.from(sig, "utf8")), kind: "bad-signal", honest: false };
  }
  if (r < 70) {
    const type = fz.pick([0, 6, 7, 15, F.started, F.stdout, F.stderr, F.exit, F.error, 21, 127, 255]);
    return { bytes: encodeFrame(type, bytes(fz, fz.int(40))), kind: "unknown-type", honest: false };
  }
  if (r < 76)
    return { bytes: encodeFrame(F.request, badRequestPayload(fz)), kind: "second-request", honest: false };
  if (r < 82) return { bytes: oversize(fz), kind: "oversize", honest: false };
  if (r < 88) return { bytes: bytes(fz, 1 + fz.int(64)), kind: "garbage", honest: false };
  if (r < 92) {
    // A valid header whose payload never fully arrives.
    const head = encodeFrame(F.stdin, bytes(fz, 10 + fz.int(100)));
    return { bytes: head.subarray(0, fz.int(head.length)), kind: "truncated", honest: false };
  }
  return { bytes: encodeFrame(F.eof, bytes(fz, fz.int(8))), kind: "eof-with-junk", honest: false };
}

/** One frame a hostile runner might send the control plane. */
export function runnerFrame(fz: Fuzzer): { bytes: Buffer; kind: string } {
  const r = fz.int(100);
  const f = (type: number, p?: Uint8Array) => encodeFrame(type, p);
  if (r < 12) return { bytes: f(F.started, fz.chance(0.8) ? undefined : bytes(fz, 8)), kind: "started" };
  if (r < 30) {
    const n = fz.chance(0.02) ? MAX_EXEC_PAYLOAD : fz.int(3000);
    return { bytes: f(fz.pick([F.stdout, F.stderr]), bytes(fz, n)), kind: "output" };
  }
  if (r < 45) {
    const code = fz.chance(0.6)
      ? -1 + fz.int(65_537)
      : fz.pick<unknown>([1.5, -2, 65_536, "0", null, 2 ** 53, {}, [0], true]);
    const p = fz.chance(0.1) ? Buffer.from("12 3") : jsonPayload(code);
    return { bytes: f(F.exit, p), kind: "exit" };
  }
  if (r < 62) {
    const body = fz.pick<unknown>([
      { code: "ENV_NOT_RUNNING", message: "the environment is not running" },
      { code: "NOPE_NOT_A_CODE", message: "unknown" },
      { code: "lowercase", message: "bad code" },
      { code: "A".repeat(65), message: "too long" },
      { code: "INTERNAL" },
      { code: "INTERNAL", message: "m".repeat(65_537) },
      { code: "INTERNAL", message: "x", details: { k: fz.value(2) } },
      { code: "__proto__", message: "x" },
      fz.value(2),
    ]);
    const p = fz.chance(0.1) ? Buffer.from('{"code":') : jsonPayload(body);
    return { bytes: f(F.error, p), kind: "error" };
  }
  if (r < 72) {
    const type = fz.pick([0, F.request, F.stdin, F.eof, F.resize, F.signal, 15, 21, 200, 255]);
    return { bytes: f(type, bytes(fz, fz.int(16))), kind: "unknown-type" };
  }
  if (r < 80) return { bytes: oversize(fz), kind: "oversize" };
  return { bytes: bytes(fz, 1 + fz.int(48)), kind: "garbage" };
}
