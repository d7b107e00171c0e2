// The runner protocol on the wire (/api/runner/v1/connect). A runner dials OUT to the control plane
// over TLS with a runner token (so hosts need no inbound port). The WebSocket then carries HTTP/2
// (streams/): the control plane is the HTTP/2 client, the runner the server, so the control plane
// opens streams and the runner answers them, each with its own flow control. Kinds of stream:
//
//   control  one per link, opened first: the JSON frames below, each a 4-byte length + UTF-8 JSON
//            (runner-control-stream.ts)
//   exec     one per command: its request, then raw stdin/stdout/stderr bytes (runner-exec-stream.ts)
//   dial     one per TCP connection made inside an environment: raw bytes both ways
//
// Frames on the control stream:
//   runner → server  {t:"hello", version, info}             first frame; the server answers "welcome"
//   server → runner  {t:"welcome", runnerId}
//   server → runner  {t:"call", id, method, args}           one RunnerApi call
//   runner → server  {t:"ok", id, result} | {t:"err", id, error: ErrorBody}   ends the call
//   runner → server  {t:"out", id, ev, data}                 progress and log chunks of call `id`
//   server → runner  {t:"in", id, ev}                        a log follow's close
//
// The version is checked before any of this, at the WebSocket upgrade (RUNNER_PROTOCOL_HEADER):
// a runner and control plane of different versions are refused there, with both versions named.
import { type ErrorBody, WarrenError } from "./errors.ts";
import type { RunnerInfo } from "./runner.ts";

/**
 * The runner protocol's version. Version 1 was JSON text frames on the WebSocket itself, with
 * exec bytes in base64. A peer of another version is refused, not served at the older version:
 * the control plane and its runners are upgraded together, and one code path stays tested.
 */
export const RUNNER_WIRE_VERSION = 2;
/** Sent by the runner on its upgrade request and by the control plane on its 101 answer. */
export const RUNNER_PROTOCOL_HEADER = "warren-runner-protocol";
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
export type OutEvent = "progress" | "error" | "log" | "end";
/** Events the control plane sends within an open log call. */
export type InEvent = "close";

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
  "listPorts",
  "imageLabels",
  "saveTemplate",
  "removeTemplate",
] as const;
/** Calls that report progress events before their result. */
export const PROGRESS_METHODS = [
  "importImage",
  "ensureBaseImage",
  "pullImage",
  "fetchFeature",
  "buildImage",
] as const;
export type WireMethod = (typeof UNARY_METHODS)[number] | (typeof PROGRESS_METHODS)[number] | "logs";

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

/** WebSocket close codes (RFC 6455 section 7.4.1) either end closes the runner link with. */
export const WIRE_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  /** A frame that breaks the protocol: bad JSON, wrong fields, an answer to no call, bad HTTP/2. */
  protocol: 1002,
  /** A text frame: the link carries HTTP/2, which is binary. */
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

/** A catalog error as the wire carries it, cut to the sizes the control plane accepts. */
export function wireErrorBody(err: unknown): ErrorBody {
  const body: ErrorBody =
    err instanceof WarrenError
      ? err.toBody()
      : { code: "INTERNAL", message: err instanceof Error ? err.message : String(err) };
  body.message = body.message.slice(0, WIRE_LIMITS.message);
  if (body.details) {
    const kept = Object.entries(body.details).filter(([k]) => k.length <= WIRE_LIMITS.id);
    body.details = Object.fromEntries(kept.slice(0, 64));
  }
  return body;
}
