// Test support for the runner-wire fuzzers (protocol test/runner-serve-fuzz.test.ts, server
// test/runner-wire-fuzz.test.ts): a seeded PRNG, so a failure reproduces from the printed seed,
// and mutators that turn a valid frame into the ways a hostile or broken peer gets it wrong.
// Not exported from the package index; nothing in production imports it.
import { EventEmitter } from "node:events";
import type { WireConn } from "@warren/protocol";
import { type ControlConnHooks, controlConn } from "@warren/protocol/streams";

/** mulberry32: small, fast, and the same sequence on every machine for one seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from WARREN_FUZZ_SEED (to replay a failure), else a fresh one. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env["WARREN_FUZZ_SEED"]);
  return Number.isInteger(s) ? s >>> 0 : Math.floor(Math.random() * 2 ** 32);
}

/**
 * A frame as a peer sends it on the control stream: JSON text (framed with its length, as an
 * honest peer frames it), or raw bytes (anything at all: a broken length, half a frame, garbage).
 */
export type FuzzFrame = { text: string } | { binary: Uint8Array };

const NASTY_KEYS = ["__proto__", "constructor", "toString", "prototype", "hasOwnProperty", "", "t", "id"];
const NASTY_STRINGS = [
  "",
  "\u0000\u0001\u001b[2J",
  "😀".repeat(200),
  "\ud800",
  "a".repeat(300),
  "../../etc/passwd",
  "SIGKILL",
  "SIGNOPE",
  "toString",
  "__proto__",
  "RUNNER_UNAVAILABLE",
];
const HUGE_NUMBERS = [2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e308, -1, 0, 1.5, -0, Number.MAX_SAFE_INTEGER];

export class Fuzzer {
  readonly rand: () => number;
  readonly seed: number;
  constructor(seed: number) {
    this.seed = seed;
    this.rand = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }

  string(): string {
    if (this.chance(0.4)) return this.pick(NASTY_STRINGS);
    let s = "";
    const n = this.int(24);
    for (let i = 0; i < n; i++)
      s += String.fromCharCode(this.chance(0.9) ? 32 + this.int(95) : this.int(0x3000));
    return s;
  }

  /** Any JSON value, nested up to `depth`. */
  value(depth = 2): unknown {
    switch (this.int(depth > 0 ? 8 : 6)) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick(HUGE_NUMBERS);
      case 3:
        return this.int(1000) - 10;
      case 4:
      case 5:
        return this.string();
      case 6:
        return Array.from({ length: this.int(4) }, () => this.value(depth - 1));
      default: {
        // No prototype, so "__proto__" is an own key that reaches the JSON like any other.
        const o: Record<string, unknown> = Object.create(null);
        for (let i = this.int(4); i > 0; i--)
          o[this.chance(0.3) ? this.pick(NASTY_KEYS) : this.string()] = this.value(depth - 1);
        return o;
      }
    }
  }

  /** A value of a different JSON type than `v`. */
  retype(v: unknown): unknown {
    for (;;) {
      const w = this.value(1);
      if (typeof w !== typeof v || Array.isArray(w) !== Array.isArray(v) || (w === null) !== (v === null))
        return w;
    }
  }

  /** One of the ways a peer gets `frame` wrong, or (sometimes) the frame itself. */
  mutate(frame: Record<string, unknown>): FuzzFrame {
    const text = JSON.stringify(frame);
    const f = structuredClone(frame);
    const keys = Object.keys(f);
    switch (this.int(14)) {
      case 0:
        return { text: text.slice(0, this.int(text.length)) }; // truncated JSON
      case 1: {
        const k = this.pick(keys);
        f[k] = this.retype(f[k]); // a wrong type at the top
        return { text: JSON.stringify(f) };
      }
      case 2:
        return { text: JSON.stringify(this.retypeDeep(f)) }; // a wrong type inside the payload
      case 3:
        delete f[this.pick(keys)];
        return { text: JSON.stringify(f) };
      case 4:
        f[this.chance(0.5) ? this.pick(NASTY_KEYS) : this.string()] = this.value();
        return { text: JSON.stringify(f) };
      case 5:
        f["id"] = this.pick(HUGE_NUMBERS); // huge, negative, fractional, zero ids
        return { text: JSON.stringify(f) };
      case 6:
        return {
          text: text.replace(/"id":\d+/, this.pick(['"id":1e400', '"id":-1e400', '"id":"1"', '"id":[1]'])),
        };
      case 7:
        f["t"] = this.chance(0.5) ? this.string() : this.retype("");
        return { text: JSON.stringify(f) };
      case 8:
        return { binary: new TextEncoder().encode(this.chance(0.5) ? text : this.string()) };
      case 9:
        return { text: JSON.stringify(this.value(3)) }; // not a frame at all
      case 10:
        return { text: `${"[".repeat(5000 + this.int(5000))}` }; // deep nesting, unterminated
      case 11:
        return { text: JSON.stringify({ ...f, pad: "x".repeat(64_000 + this.int(200_000)) }) };
      default:
        return { text };
    }
  }

  private retypeDeep(v: unknown): unknown {
    if (Array.isArray(v)) {
      if (v.length === 0) return [this.value(1)];
      const i = this.int(v.length);
      const out = [...v];
      out[i] = this.chance(0.5) ? this.retypeDeep(v[i]) : this.retype(v[i]);
      return out;
    }
    if (v !== null && typeof v === "object") {
      const o = { ...(v as Record<string, unknown>) };
      const keys = Object.keys(o);
      if (keys.length === 0) return this.retype(v);
      const k = this.pick(keys);
      o[k] = this.chance(0.5) ? this.retypeDeep(o[k]) : this.retype(o[k]);
      return o;
    }
    return this.retype(v);
  }
}

/**
 * A stand-in for a `ws` WebSocket that behaves as `ws` does where it matters to the fuzzers: close()
 * throws on a reason over 123 bytes or an invalid code, "close" arrives later, and sends after close
 * go nowhere. Frames are delivered with `deliver`, which reports a throw out of a message handler
 * (on a real socket that throw would take the process down).
 */
export class FakeWs {
  readonly sent: string[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly listeners = new Map<string, ((...a: unknown[]) => void)[]>();

  on(ev: string, cb: (...a: never[]) => void): this {
    this.listeners.set(ev, [...(this.listeners.get(ev) ?? []), cb as (...a: unknown[]) => void]);
    return this;
  }
  once(ev: string, cb: (...a: never[]) => void): this {
    const wrapped = (...a: unknown[]) => {
      this.listeners.set(
        ev,
        (this.listeners.get(ev) ?? []).filter((l) => l !== wrapped),
      );
      (cb as (...a: unknown[]) => void)(...a);
    };
    return this.on(ev, wrapped);
  }
  private emit(ev: string, ...args: unknown[]): void {
    for (const cb of this.listeners.get(ev) ?? []) cb(...args);
  }
  send(data: string, cb?: (err?: Error) => void): void {
    if (!this.closed) this.sent.push(data);
    cb?.(this.closed ? new Error("closed") : undefined);
  }
  close(code?: number, reason = ""): void {
    if (
      code !== undefined &&
      !(
        code === 1000 ||
        (code >= 1001 && code <= 1014 && ![1004, 1005, 1006].includes(code)) ||
        (code >= 3000 && code <= 4999)
      )
    ) {
      throw new TypeError(`invalid close code ${code}`);
    }
    if (Buffer.byteLength(reason) > 123)
      throw new RangeError("The message must not be greater than 123 bytes");
    if (this.closed) return;
    this.closed = { code: code ?? 1005, reason };
    setImmediate(() => this.emit("close", code ?? 1005, Buffer.from(reason)));
  }
  terminate(): void {
    if (this.closed) return;
    this.closed = { code: 1006, reason: "" };
    setImmediate(() => this.emit("close", 1006, Buffer.alloc(0)));
  }
  /**
   * The link's control stream, synchronous so a fuzzer sees at once what a frame did: what is
   * written to it lands in `sent` (one string per whole frame), what a frame delivers is emitted
   * as its data.
   */
  readonly stream = new FakeControlStream((text) => this.closed || this.sent.push(text));

  /** The real control-stream WireConn (protocol streams/control-conn.ts) over this fake link. */
  conn(hooks: ControlConnHooks = {}): WireConn {
    return controlConn(this.stream, this, hooks);
  }

  /** Delivers one frame; returns the error a data handler threw, if any. */
  deliver(frame: FuzzFrame): unknown {
    try {
      if ("text" in frame) this.stream.emit("data", framed(frame.text));
      else this.stream.emit("data", Buffer.from(frame.binary));
      return undefined;
    } catch (err) {
      return err ?? new Error("thrown undefined");
    }
  }
}

/** A text frame as the control stream carries it: 4-byte big-endian length, then UTF-8. */
export function framed(text: string): Buffer {
  const body = Buffer.from(text, "utf8");
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

class FakeControlStream extends EventEmitter {
  #out = Buffer.alloc(0);
  readonly #onFrame: (text: string) => void;
  constructor(onFrame: (text: string) => void) {
    super();
    this.#onFrame = onFrame;
  }
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean {
    this.#out = Buffer.concat([this.#out, chunk]);
    while (this.#out.length >= 4) {
      const len = this.#out.readUInt32BE(0);
      if (this.#out.length < 4 + len) break;
      this.#onFrame(this.#out.subarray(4, 4 + len).toString("utf8"));
      this.#out = this.#out.subarray(4 + len);
    }
    cb?.();
    return true;
  }
}

/** Well-formed answers an honest runner gives, shared by the fuzzers of both ends of the wire. */
export function wireInfo(id: string) {
  return {
    id,
    hostname: "fuzz-host",
    runtimes: ["runc" as const],
    cpus: 2,
    memoryBytes: 1 << 30,
    diskFreeBytes: 1 << 30,
    cgroupMode: "v1" as const,
    idRange: { start: 100_000, size: 65_536 * 4 },
  };
}

export const WIRE_IMAGE = {
  ref: "debian:12",
  digest: "sha256:ab",
  layers: ["sha256:cd"],
  sizeBytes: 1,
  createdAt: "2026-01-01T00:00:00Z",
};

export function wireStats(id: string) {
  return {
    id,
    cpuCores: 0,
    memoryWorkingSetBytes: 0,
    memoryLimitBytes: 0,
    pids: 1,
    pidsLimit: 10,
    diskUsedBytes: 0,
    diskQuotaBytes: 0,
    psi: { cpu: null, memory: null, io: null },
    oomKills: 0,
    at: "2026-01-01T00:00:00Z",
  };
}
