// The runner protocol on the wire (/api/runner/v1/connect). A runner dials OUT to the control plane
// over TLS with a runner token (so hosts need no inbound port), then the control plane calls the
// RunnerApi (runner.ts) over that one WebSocket. JSON text frames:
//
//   runner → server  {t:"hello", version, info}             first frame; the server answers "welcome"
//   server → runner  {t:"welcome", runnerId}
//   server → runner  {t:"call", id, method, args}           one RunnerApi call
//   runner → server  {t:"ok", id, result} | {t:"err", id, error: ErrorBody}   ends the call
//   runner → server  {t:"out", id, ev, data}                 progress, exec output, log chunks of call `id`
//   server → runner  {t:"in", id, ev, data}                  exec stdin/resize/signal, log close
//
// Exec and logs are calls that stay open: "ok" says the session started, the exit or end arrives as
// an "out" event. Binary data travels base64 in JSON: exec is interactive, not bulk transfer.
import type { ErrorBody } from "./errors.ts";
import type { RunnerInfo } from "./runner.ts";

export const RUNNER_WIRE_VERSION = 1;
export const RUNNER_CONNECT_PATH = "/api/runner/v1/connect";

export type RunnerFrame =
  | { t: "hello"; version: number; info: RunnerInfo }
  | { t: "ok"; id: number; result?: unknown }
  | { t: "err"; id: number; error: ErrorBody }
  | { t: "out"; id: number; ev: OutEvent; data?: unknown };

export type ServerFrame =
  | { t: "welcome"; runnerId: string }
  | { t: "call"; id: number; method: WireMethod; args: unknown[] }
  | { t: "in"; id: number; ev: InEvent; data?: unknown };

/** Events a runner sends within a call. */
export type OutEvent = "progress" | "stdout" | "stderr" | "exit" | "error" | "log" | "end";
/** Events the control plane sends within an open exec or log call. */
export type InEvent = "stdin" | "endStdin" | "resize" | "signal" | "close" | "pause" | "resume";

/** Calls whose arguments and results are plain JSON both ways. */
export const UNARY_METHODS = [
  "info",
  "ensureRunning",
  "ensureStopped",
  "remove",
  "observe",
  "list",
  "sweep",
  "appendEvent",
  "listImages",
  "hasImage",
  "removeImage",
  "pruneImages",
  "setResources",
  "stats",
  "dnsStats",
] as const;
/** Calls that report progress events before their result. */
export const PROGRESS_METHODS = ["importImage", "ensureBaseImage", "pullImage"] as const;
export type WireMethod = (typeof UNARY_METHODS)[number] | (typeof PROGRESS_METHODS)[number] | "exec" | "logs";

/** The one thing both ends need of a WebSocket: text out, text in, and its end. */
export interface WireConn {
  /** `sent` fires once the text has left the process (flow control, flow-control.ts). */
  send(text: string, sent?: () => void): void;
  onMessage(cb: (text: string) => void): void;
  onClose(cb: (reason: string) => void): void;
  close(code?: number, reason?: string): void;
}

/** Largest frame either end accepts; a bigger one is a protocol error (the connection closes). */
export const MAX_WIRE_FRAME = 8 * 1024 * 1024;

/** Bounds on every string and array on the wire (runner-schema.ts); frames are bounded by MAX_WIRE_FRAME. */
export const WIRE_LIMITS = {
  /** Environment ids, runner ids, names, hostnames. */
  id: 128,
  /** Image references, digests, paths, CIDRs, labels. */
  ref: 4096,
  /** Error and event messages, reasons. */
  message: 65_536,
  /** Environments on one host, images in its cache, ids in a sweep's keep set. */
  list: 100_000,
  /** Small lists: runtimes, layers, upstreams, CIDRs, secrets, exec argv. */
  small: 4096,
  /** One stdout/stderr/log chunk or one stdin write: a frame's worth at most. */
  chunk: 8 * 1024 * 1024,
} as const;

export function parseWireFrame<T extends { t: string }>(text: string): T {
  if (text.length > MAX_WIRE_FRAME)
    throw new Error(`frame of ${text.length} bytes exceeds ${MAX_WIRE_FRAME}`);
  const v = JSON.parse(text) as unknown;
  if (typeof v !== "object" || v === null || typeof (v as { t?: unknown }).t !== "string") {
    throw new Error("frame is not an object with a string `t`");
  }
  return v as T;
}

export const toBase64 = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
export const fromBase64 = (s: unknown): Uint8Array => Buffer.from(typeof s === "string" ? s : "", "base64");

/** WebSocket close codes (RFC 6455 section 7.4.1) either end closes the runner link with. */
export const WIRE_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  /** A frame that breaks the protocol: bad JSON, wrong fields, an answer to no call. */
  protocol: 1002,
  /** A binary frame: the protocol is JSON text only. */
  unsupported: 1003,
  policy: 1008,
  tooBig: 1009,
  /** This end's frame handler threw: only this link is dropped. */
  internal: 1011,
} as const;

/** Close codes that mean the peer broke the protocol (audited by the control plane). */
export const VIOLATION_CLOSE_CODES: ReadonlySet<number> = new Set([
  WIRE_CLOSE.protocol,
  WIRE_CLOSE.unsupported,
  WIRE_CLOSE.tooBig,
  WIRE_CLOSE.internal,
]);

/**
 * A close reason a WebSocket accepts: at most 123 UTF-8 bytes (`ws` throws past that, which inside
 * a message handler would take the process down), cut at a character boundary, no control chars.
 */
export function closeReason(reason: string | undefined): string {
  let r = (reason ?? "").slice(0, 123).replace(/[\u0000-\u001f\u007f]/g, " ");
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  if (/[\ud800-\udbff]$/.test(r)) r = r.slice(0, -1); // half a surrogate pair
  return r;
}

export interface WsConnHooks {
  /** This end closed the link because the peer broke the protocol (a VIOLATION_CLOSE_CODES close). */
  onViolation?(code: number, reason: string): void;
}

/** Adapts a `ws` WebSocket (client or server side) to WireConn. */
export function wsConn(
  ws: {
    send(data: string, cb?: (err?: Error) => void): void;
    on(ev: "message", cb: (data: unknown, isBinary: boolean) => void): unknown;
    on(ev: "close", cb: (code: number, reason: Buffer) => void): unknown;
    close(code?: number, reason?: string): void;
    terminate?(): void;
  },
  hooks: WsConnHooks = {},
): WireConn {
  let closing = false;
  const conn: WireConn = {
    send: (text, sent) => ws.send(text, sent ? () => sent() : undefined),
    onMessage: (cb) => {
      ws.on("message", (data, isBinary) => {
        if (closing) return; // frames after this end closed are not read
        if (isBinary)
          conn.close(WIRE_CLOSE.unsupported, "bad frame: binary frames are not part of the protocol");
        else cb(String(data));
      });
    },
    onClose: (cb) => {
      ws.on("close", (code, reason) => cb(`${code}${reason.length ? ` ${reason.toString()}` : ""}`));
    },
    close: (code, reason) => {
      const first = !closing;
      closing = true;
      const why = closeReason(reason);
      if (first && code !== undefined && VIOLATION_CLOSE_CODES.has(code)) hooks.onViolation?.(code, why);
      try {
        ws.close(code, why);
      } catch {
        ws.terminate?.();
      }
    },
  };
  return conn;
}
