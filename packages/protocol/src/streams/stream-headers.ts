// The request headers that open one byte stream between the control plane and a runner: the
// transport version, the stream's kind, and a small map of string metadata. Both sides run the
// same checks: the control plane so that a caller's mistake fails before anything is sent, the
// runner because everything the control plane sends is treated as hostile (a stolen or buggy
// peer must not be able to make the runner allocate, log or route on unbounded input).

/**
 * The stream transport's version. Raise it on any change a peer of the other version would
 * misread. A mismatch is refused, naming both versions, rather than served at the older version:
 * serving old peers would keep every old code path alive and tested, while the control plane and
 * its runners are upgraded together and the refusal tells the operator exactly which side to
 * upgrade.
 */
export const STREAM_TRANSPORT_VERSION = 1;

export const VERSION_HEADER = "warren-stream-version";
export const KIND_HEADER = "warren-stream-kind";
/** Each metadata entry travels as its own header, `warren-meta-<key>: <value>`. */
export const META_PREFIX = "warren-meta-";
/** Why the runner refused a stream, in words meant for a person. */
export const ERROR_HEADER = "warren-error";
/** The catalog code (protocol errors.ts) of a refusal, when it has one. */
export const ERROR_CODE_HEADER = "warren-error-code";
/** The refusal's details (protocol errors.ts), JSON of flat string and number values, bounded. */
export const ERROR_DETAILS_HEADER = "warren-error-details";
const MAX_DETAILS_LENGTH = 1024;

/** The details a refusal carries: flat string/number values only, printable, bounded. */
export function encodeDetails(details: unknown): string | undefined {
  if (typeof details !== "object" || details === null) return undefined;
  const flat = Object.entries(details).filter(
    ([k, v]) => /^[a-zA-Z0-9_]{1,32}$/.test(k) && (typeof v === "number" || typeof v === "string"),
  );
  const text = JSON.stringify(Object.fromEntries(flat.slice(0, 16)));
  return /^[\x20-\x7e]*$/.test(text) && text.length <= MAX_DETAILS_LENGTH ? text : undefined;
}

export function decodeDetails(header: unknown): Record<string, string | number> | undefined {
  if (typeof header !== "string" || header.length > MAX_DETAILS_LENGTH) return undefined;
  try {
    const v = JSON.parse(header) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
    const out: Record<string, string | number> = {};
    for (const [k, val] of Object.entries(v).slice(0, 16))
      if (/^[a-zA-Z0-9_]{1,32}$/.test(k) && (typeof val === "string" || typeof val === "number"))
        out[k] = val;
    return out;
  } catch {
    return undefined;
  }
}

export const MAX_KIND_LENGTH = 32;
export const MAX_META_ENTRIES = 16;
export const MAX_META_KEY_LENGTH = 32;
export const MAX_META_VALUE_LENGTH = 1024;
/**
 * Advertised as SETTINGS_MAX_HEADER_LIST_SIZE, so nghttp2 rejects an oversized header block
 * before any of our code sees it. Comfortably above the largest valid request.
 */
export const MAX_HEADER_LIST_SIZE = 32 * 1024;

const KIND_RE = /^[a-z][a-z0-9-]*$/;
// HTTP/2 header names are lowercase; keys stay within what every header parser accepts.
const META_KEY_RE = /^[a-z0-9][a-z0-9-]*$/;
// Printable ASCII only: no control characters, nothing a log line or terminal could misrender.
const META_VALUE_RE = /^[\x20-\x7e]*$/;

export type StreamMeta = Record<string, string>;

/** A stream request that failed validation; `status` is the HTTP status the runner answers with. */
export class StreamHeaderError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "StreamHeaderError";
    this.status = status;
  }
}

const bad = (message: string) => new StreamHeaderError(400, message);

export function validateKind(kind: unknown): string {
  if (typeof kind !== "string" || kind.length === 0)
    throw bad(`stream kind is missing: set the ${KIND_HEADER} header to a name such as "dial"`);
  if (kind.length > MAX_KIND_LENGTH)
    throw bad(`stream kind is ${kind.length} characters long; the limit is ${MAX_KIND_LENGTH}`);
  if (!KIND_RE.test(kind))
    throw bad(
      `stream kind ${JSON.stringify(kind)} is invalid: use lowercase letters, digits and "-", starting with a letter`,
    );
  return kind;
}

export function validateMeta(meta: Record<string, unknown>): StreamMeta {
  const entries = Object.entries(meta);
  if (entries.length > MAX_META_ENTRIES)
    throw bad(`stream has ${entries.length} metadata entries; the limit is ${MAX_META_ENTRIES}`);
  const out: StreamMeta = Object.create(null);
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > MAX_META_KEY_LENGTH || !META_KEY_RE.test(key))
      throw bad(
        `stream metadata key ${JSON.stringify(key.slice(0, 64))} is invalid: use 1-${MAX_META_KEY_LENGTH} lowercase letters, digits and "-"`,
      );
    if (typeof value !== "string")
      throw bad(`stream metadata ${JSON.stringify(key)} must be a single string value`);
    if (value.length > MAX_META_VALUE_LENGTH)
      throw bad(
        `stream metadata ${JSON.stringify(key)} is ${value.length} characters long; the limit is ${MAX_META_VALUE_LENGTH}`,
      );
    if (!META_VALUE_RE.test(value))
      throw bad(`stream metadata ${JSON.stringify(key)} holds characters outside printable ASCII`);
    out[key] = value;
  }
  return out;
}

/** The headers the control plane sends for one stream (after validating its inputs). */
export function requestHeaders(kind: string, meta: StreamMeta, version: number): Record<string, string> {
  const headers: Record<string, string> = {
    ":method": "POST",
    ":path": "/stream",
    [VERSION_HEADER]: String(version),
    [KIND_HEADER]: validateKind(kind),
  };
  for (const [k, v] of Object.entries(validateMeta(meta))) headers[META_PREFIX + k] = v;
  return headers;
}

export interface ParsedStreamRequest {
  kind: string;
  meta: StreamMeta;
}

/**
 * The runner's reading of a stream request. Throws StreamHeaderError for anything it will not
 * serve: a version other than its own (505), or a malformed kind or metadata (400). Unknown
 * headers outside the warren- namespace are ignored, as HTTP/2 peers add their own.
 */
export function parseRequestHeaders(headers: Record<string, unknown>, version: number): ParsedStreamRequest {
  const theirs = headers[VERSION_HEADER];
  if (typeof theirs !== "string" || !/^[0-9]{1,6}$/.test(theirs))
    throw new StreamHeaderError(
      400,
      `stream request has no valid ${VERSION_HEADER} header; this runner speaks stream transport v${version}`,
    );
  if (Number(theirs) !== version) throw versionMismatch(Number(theirs), version);
  const meta: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === VERSION_HEADER || name === KIND_HEADER) continue;
    if (name.startsWith(META_PREFIX)) meta[name.slice(META_PREFIX.length)] = value;
    else if (name.startsWith("warren-"))
      throw bad(`stream request has unknown header ${JSON.stringify(name.slice(0, 64))}`);
  }
  return { kind: validateKind(headers[KIND_HEADER]), meta: validateMeta(meta) };
}

export function versionMismatch(controlPlane: number, runner: number): StreamHeaderError {
  return new StreamHeaderError(
    505,
    `stream transport version mismatch: the control plane speaks v${controlPlane}, this runner speaks v${runner}; ` +
      `upgrade the ${controlPlane < runner ? "control plane" : "runner"} so both run the same Warren version`,
  );
}
