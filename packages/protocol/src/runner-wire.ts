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

/** Adapts a `ws` WebSocket (client or server side) to WireConn. */
export function wsConn(ws: {
  send(data: string, cb?: (err?: Error) => void): void;
  on(ev: "message", cb: (data: unknown, isBinary: boolean) => void): unknown;
  on(ev: "close", cb: (code: number, reason: Buffer) => void): unknown;
  close(code?: number, reason?: string): void;
}): WireConn {
  return {
    send: (text, sent) => ws.send(text, sent ? () => sent() : undefined),
    onMessage: (cb) => {
      ws.on("message", (data) => cb(String(data)));
    },
    onClose: (cb) => {
      ws.on("close", (code, reason) => cb(`${code}${reason.length ? ` ${reason.toString()}` : ""}`));
    },
    close: (code, reason) => ws.close(code, reason),
  };
}
