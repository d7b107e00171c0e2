// A hand-driven runner link for tests that play a hostile or outdated runner: the real WebSocket
// upgrade over pinned TLS with a chosen protocol version, and the real HTTP/2 stream server on it,
// but the control stream is the test's to write to, frame by frame or byte by byte.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import {
  RUNNER_CONNECT_PATH,
  RUNNER_PROTOCOL_HEADER,
  RUNNER_WIRE_VERSION,
  tlsTransport,
} from "@warren/protocol";
import { serveStreams } from "@warren/protocol/streams";
import { WebSocket } from "ws";
import { type FuzzFrame, framed } from "./runner-fuzz.ts";

export interface RawRunnerLink {
  ws: WebSocket;
  /** The control stream, once the control plane opens it. */
  control: Promise<Duplex>;
  /** The link's close, with the WebSocket's code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  /** A text frame framed as an honest runner frames it, or raw bytes on the control stream. */
  send(f: FuzzFrame): Promise<void>;
  /** The next whole frame the control plane sent on the control stream, parsed. */
  next(): Promise<Record<string, unknown>>;
}

export interface RawRunnerOptions {
  url: string;
  fingerprint: string;
  token: string;
  /** The version announced on the upgrade; `null` announces none, as a v1 runner did. */
  version?: number | null;
}

/** The refusal of an upgrade: the HTTP status and the body's message. */
export class UpgradeRefused extends Error {
  readonly status: number;
  readonly body: string;
  constructor(status: number, body: string) {
    super(`upgrade refused (${status}): ${body}`);
    this.status = status;
    this.body = body;
  }
}

export async function openRawRunner(o: RawRunnerOptions): Promise<RawRunnerLink> {
  const { url, options } = tlsTransport(o).webSocket(RUNNER_CONNECT_PATH);
  const version = o.version === undefined ? RUNNER_WIRE_VERSION : o.version;
  const headers = {
    ...options.headers,
    ...(version === null ? {} : { [RUNNER_PROTOCOL_HEADER]: String(version) }),
  };
  const ws = new WebSocket(url, { ...options, headers, perMessageDeflate: false });
  ws.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => reject(new UpgradeRefused(res.statusCode ?? 0, Buffer.concat(chunks).toString())));
    });
    ws.once("error", reject);
  });
  const closed = new Promise<{ code: number; reason: string }>((res) =>
    ws.once("close", (code, reason) => res({ code, reason: reason.toString() })),
  );
  let gotControl!: (s: Duplex) => void;
  const control = new Promise<Duplex>((r) => {
    gotControl = r;
  });
  serveStreams(ws, { control: (_meta, stream) => gotControl(stream) });
  let held = Buffer.alloc(0);
  const frames: Record<string, unknown>[] = [];
  const waiting: ((f: Record<string, unknown>) => void)[] = [];
  void control.then((stream) =>
    stream.on("data", (chunk: Buffer) => {
      held = Buffer.concat([held, chunk]);
      while (held.length >= 4 && held.length >= 4 + held.readUInt32BE(0)) {
        const len = held.readUInt32BE(0);
        const f = JSON.parse(held.subarray(4, 4 + len).toString()) as Record<string, unknown>;
        held = held.subarray(4 + len);
        const w = waiting.shift();
        if (w) w(f);
        else frames.push(f);
      }
    }),
  );
  return {
    ws,
    control,
    closed,
    async send(f) {
      const stream = await control;
      if (stream.destroyed) return;
      stream.write("text" in f ? framed(f.text) : Buffer.from(f.binary));
    },
    next() {
      const f = frames.shift();
      if (f) return Promise.resolve(f);
      return new Promise((r) => waiting.push(r));
    },
  };
}

/** Waits for the link to be closed by the control plane, bounded. */
export async function closedWithin(
  link: RawRunnerLink,
  ms = 10_000,
): Promise<{ code: number; reason: string }> {
  const timer = setTimeout(() => link.ws.terminate(), ms);
  try {
    return await link.closed;
  } finally {
    clearTimeout(timer);
  }
}
