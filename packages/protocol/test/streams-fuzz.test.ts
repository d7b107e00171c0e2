// The runner's side of the stream transport treats everything the control plane sends as
// hostile. A seeded PRNG drives two fuzzers, so a failure replays exactly:
// - random header sets sent as HTTP/2 requests by Node's own client (valid framing, hostile
//   content): each stream gets a refusal or is served, and the session lives on;
// - hand-made HTTP/2 frames written straight into the WebSocket (hostile framing and HPACK,
//   including bytes Node's client would never send): the session is reset, the process is not.
// Zero uncaught exceptions, and a well-formed stream still works afterwards.
import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createWebSocketStream, WebSocket, WebSocketServer } from "ws";
import { createStreamClient } from "../src/streams/stream-client.ts";
import { STREAM_TRANSPORT_VERSION } from "../src/streams/stream-headers.ts";
import { serveStreams } from "../src/streams/stream-server.ts";

const SEED = Number(process.env.WARREN_FUZZ_SEED ?? 0x5eed);
const HEADER_SETS = 3000;
const FRAME_SESSIONS = 400;

/** mulberry32: small, fast and seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const ALPHABETS = [
  "abcdefghijklmnopqrstuvwxyz0123456789-",
  "ABCxyz_./:;=@ \t",
  "\x00\x01\x7f\r\n\"'\\{}",
  "é漢🦀\u202e\ufeff",
];
/** Mostly characters Node's client will send (so the runner's own checks are reached), some not. */
function str(max: number, tame = 0.8): string {
  const alphabet = [...(rand() < tame ? ALPHABETS[0]! : pick(ALPHABETS))];
  const len = rand() < 0.05 ? 1000 + int(max) : int(40);
  let s = "";
  for (let i = 0; i < len; i++) s += pick(alphabet);
  return s;
}

function randomHeaders(): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = {
    ":method": pick(["POST", "GET", "CONNECT", "X"]),
    ":path": "/stream",
  };
  if (rand() < 0.8) h["warren-stream-version"] = rand() < 0.7 ? String(STREAM_TRANSPORT_VERSION) : str(10);
  if (rand() < 0.8) h["warren-stream-kind"] = rand() < 0.4 ? pick(["echo", "sink"]) : str(40);
  const n = rand() < 0.1 ? 20 + int(50) : int(6);
  for (let i = 0; i < n; i++) {
    const name = rand() < 0.7 ? `warren-meta-${str(40)}` : rand() < 0.5 ? `warren-${str(10)}` : str(20);
    h[name] = rand() < 0.1 ? [str(20), str(20)] : str(2000, 0.5);
  }
  return h;
}

// HPACK: literal header field without indexing, new name, no Huffman coding (RFC 7541 6.2.2).
function hpackInt(n: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (n < max) return [first | n];
  const out = [first | max];
  n -= max;
  while (n >= 128) {
    out.push((n & 0x7f) | 0x80);
    n >>= 7;
  }
  out.push(n);
  return out;
}
function literal(name: Buffer, value: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(hpackInt(0, 4, 0)),
    Buffer.from(hpackInt(name.length, 7, 0)),
    name,
    Buffer.from(hpackInt(value.length, 7, 0)),
    value,
  ]);
}
function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer,
  lieAboutLength = false,
): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(lieAboutLength ? int(1 << 24) : payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([h, payload]);
}
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

function randomFrames(): Buffer {
  const parts: Buffer[] = [rand() < 0.95 ? PREFACE : bytes(24), frame(4, 0, 0, Buffer.alloc(0))];
  const count = 1 + int(8);
  for (let i = 0; i < count; i++) {
    const r = rand();
    if (r < 0.5) {
      // A HEADERS frame with a hand-made header block: valid framing, hostile content.
      const fields = [
        literal(Buffer.from(":method"), Buffer.from("POST")),
        literal(Buffer.from(":path"), Buffer.from("/stream")),
        literal(Buffer.from(":scheme"), Buffer.from("http")),
      ];
      for (let j = int(8); j > 0; j--)
        fields.push(
          literal(
            rand() < 0.5 ? Buffer.from(`warren-${str(20)}`) : bytes(int(30)),
            rand() < 0.5 ? Buffer.from(str(100)) : bytes(int(100)),
          ),
        );
      const block = Buffer.concat(fields);
      const cut = rand() < 0.2 ? block.subarray(0, int(block.length)) : block;
      parts.push(frame(1, pick([0x4, 0x5, 0x0, 0x25]), 1 + 2 * int(50), cut, rand() < 0.05));
    } else if (r < 0.9) {
      parts.push(frame(int(12), int(256), int(8), bytes(int(64)), rand() < 0.1));
    } else {
      parts.push(bytes(int(200)));
    }
  }
  return Buffer.concat(parts);
}

describe("stream transport fuzz", () => {
  let wss: WebSocketServer;
  let port: number;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  const handlers = {
    echo: (_m: Record<string, string>, s: Duplex) => void s.pipe(s),
    sink: (_m: Record<string, string>, s: Duplex) => void s.resume(),
  };

  before(async () => {
    process.on("uncaughtException", onUncaught);
    wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await once(wss, "listening");
    port = (wss.address() as AddressInfo).port;
  });
  after(async () => {
    process.off("uncaughtException", onUncaught);
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  /** A runner serving streams on a fresh WebSocket; returns the control plane's end of it. */
  async function runner() {
    const accepted = once(wss, "connection") as Promise<[WebSocket]>;
    const runnerWs = new WebSocket(`ws://127.0.0.1:${port}/`);
    await once(runnerWs, "open");
    const [cpWs] = await accepted;
    const server = serveStreams(runnerWs, handlers);
    return { cpWs, runnerWs, server };
  }

  it(`${HEADER_SETS} random header sets: each refused or served, 0 uncaught (seed ${SEED})`, async () => {
    let r = await runner();
    let session = http2.connect("http://runner.invalid", {
      createConnection: () => createWebSocketStream(r.cpWs),
    });
    session.on("error", () => {});
    const statuses = new Map<string, number>();
    const count = (k: string) => statuses.set(k, (statuses.get(k) ?? 0) + 1);
    for (let i = 0; i < HEADER_SETS; i++) {
      if (session.closed || session.destroyed) {
        count("session-replaced");
        r.runnerWs.terminate();
        r = await runner();
        session = http2.connect("http://runner.invalid", {
          createConnection: () => createWebSocketStream(r.cpWs),
        });
        session.on("error", () => {});
      }
      let req: http2.ClientHttp2Stream;
      try {
        req = session.request(randomHeaders());
      } catch {
        count("client-refused"); // Node's client would not send it; the next fuzzer does.
        continue;
      }
      const outcome = await new Promise<string>((resolve) => {
        req.on("response", (h) => resolve(String(h[":status"])));
        req.on("error", () => resolve("reset"));
        req.on("close", () => resolve(`closed-${req.rstCode}`));
      });
      count(outcome);
      req.destroy();
    }
    session.destroy();
    r.runnerWs.terminate();
    console.log(`header fuzz outcomes: ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok((statuses.get("400") ?? 0) > 100, "the fuzzer should reach the runner's own validation");
    assert.ok((statuses.get("200") ?? 0) > 0, "some well-formed requests should be served");
    assert.deepEqual(uncaught, []);
  });

  it(`${FRAME_SESSIONS} sessions of hand-made frames: reset, never a crash (seed ${SEED})`, async () => {
    for (let i = 0; i < FRAME_SESSIONS; i++) {
      const r = await runner();
      r.cpWs.send(randomFrames());
      await Promise.race([r.server.closed, new Promise((res) => setTimeout(res, 5))]);
      r.cpWs.terminate();
      await r.server.closed;
      // The runner's session is gone too, not left holding memory for a dead peer.
      for (let t = 0; !r.server.session.destroyed && t < 100; t++)
        await new Promise((res) => setTimeout(res, 10));
      assert.ok(r.server.session.destroyed, `session ${i} outlived its WebSocket`);
    }
    assert.deepEqual(uncaught, []);
    // The process still serves a well-formed stream.
    const r = await runner();
    const client = createStreamClient(r.cpWs);
    const s = await client.openStream("echo");
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.end("ok");
    await once(s, "end");
    assert.equal(Buffer.concat(chunks).toString(), "ok");
    client.session.destroy();
    r.runnerWs.terminate();
  });
});
