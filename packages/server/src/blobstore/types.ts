// The blob store seam: a small interface every implementation (filesystem, S3-compatible) passes
// one conformance suite against (test/blobstore-conformance.ts). Keys are validated here, before
// any I/O, so no implementation can be walked out of its root or prefix by a `../` key.
import type { Readable } from "node:stream";
import { WarrenError } from "@warren/protocol";

export interface BlobInfo {
  key: string;
  size: number;
  /** Changes whenever the object is replaced; opaque (compare, never parse). */
  etag: string;
  modified: Date;
}

/** Inclusive byte range, as HTTP's `Range: bytes=start-end`; no `end` means to the last byte. */
export interface ByteRange {
  start: number;
  end?: number | undefined;
}

export interface BlobRead {
  info: BlobInfo;
  /** The bytes actually served: the whole object, or the range clipped to its size. */
  start: number;
  end: number;
  body: Readable;
}

export type PresignMethod = "GET" | "PUT" | "HEAD";

export interface PresignOptions {
  method: PresignMethod;
  /** Seconds the URL stays valid: 1 to MAX_PRESIGN_SECONDS. */
  expiresIn: number;
  /** PUT only: the exact body length the URL accepts; anything else is refused. */
  contentLength?: number | undefined;
}

export interface ListPage {
  items: BlobInfo[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string | undefined;
}

export interface BlobStore {
  /** "fs" or "s3", for logs and metrics. */
  readonly kind: string;
  /**
   * Streams `body` in. The object appears whole or not at all: a body that errors midway leaves the
   * previous object (if any) untouched. Large bodies go up in parts (S3 multipart).
   */
  put(key: string, body: BlobBody): Promise<BlobInfo>;
  /** The object, or the inclusive `range` of it. NOT_FOUND if missing; a range past its end is refused. */
  get(key: string, range?: ByteRange): Promise<BlobRead>;
  head(key: string): Promise<BlobInfo | undefined>;
  /** Keys that start with `prefix`, in byte order, after `after` (exclusive), at most `limit`. */
  list(prefix: string, o?: { after?: string | undefined; limit?: number | undefined }): Promise<ListPage>;
  /** Idempotent: deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * A short-lived URL for one method on one object: what runners get instead of credentials. Callers
   * on the control plane go through presignForEnv so the key stays under an organisation's prefix.
   */
  presign(key: string, o: PresignOptions): Promise<string>;
}

/** A stream (a Readable is one), any async iterable of bytes, or bytes already in memory. */
export type BlobBody = AsyncIterable<Uint8Array> | Uint8Array;

export async function* asChunks(body: BlobBody): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) yield body;
  else yield* body;
}

export const MAX_KEY_BYTES = 1024;
/** A runner gets minutes, not hours: a leaked URL is worth little. */
export const MAX_PRESIGN_SECONDS = 3600;
const SEGMENT = /^[A-Za-z0-9._=+@-]+$/;

/** Why `key` is not a valid blob key, or undefined. Keys are `/`-separated safe segments. */
export function blobKeyProblem(key: string): string | undefined {
  if (key.length === 0) return "the key is empty";
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `the key is longer than ${MAX_KEY_BYTES} bytes`;
  if (key.startsWith("/")) return "the key starts with /; keys are relative, like orgs/ORG/envs/ENV/NAME";
  if (key.endsWith("/")) return "the key ends with /; name an object, not a folder";
  for (const seg of key.split("/")) {
    if (seg === "") return "the key has an empty segment (//)";
    if (seg === "." || seg === "..")
      return `the key has a "${seg}" segment; keys cannot climb out of their prefix`;
    if (!SEGMENT.test(seg))
      return `segment "${seg.slice(0, 40)}" has a character outside A-Z a-z 0-9 . _ = + @ -`;
    if (seg.startsWith(".tmp-")) return 'segments cannot start with ".tmp-" (the store\'s own partial files)';
  }
  return undefined;
}

export function requireBlobKey(key: string): string {
  const problem = blobKeyProblem(key);
  if (problem)
    throw new WarrenError("INVALID_ARGUMENT", `blob key ${JSON.stringify(key.slice(0, 80))}: ${problem}`);
  return key;
}

/** A list prefix is a key or a key with a trailing `/`, or empty (everything). */
export function requireBlobPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  requireBlobKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}

export function requirePresignOptions(o: PresignOptions): void {
  if (!["GET", "PUT", "HEAD"].includes(o.method))
    throw new WarrenError("INVALID_ARGUMENT", `presign method ${o.method}: use GET, PUT or HEAD`);
  if (!Number.isInteger(o.expiresIn) || o.expiresIn < 1 || o.expiresIn > MAX_PRESIGN_SECONDS)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `presign expiresIn ${o.expiresIn}: give whole seconds from 1 to ${MAX_PRESIGN_SECONDS}`,
    );
  if (o.contentLength !== undefined) {
    if (o.method !== "PUT")
      throw new WarrenError("INVALID_ARGUMENT", "contentLength applies to PUT URLs only");
    if (!Number.isSafeInteger(o.contentLength) || o.contentLength < 0)
      throw new WarrenError("INVALID_ARGUMENT", `contentLength ${o.contentLength}: give a byte count >= 0`);
  }
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Where an environment's objects live: every presigned URL a runner gets is under this. */
export function envBlobPrefix(orgId: string, envId: string): string {
  for (const [what, v] of [
    ["organisation id", orgId],
    ["environment id", envId],
  ] as const) {
    if (!ID.test(v))
      throw new WarrenError("INVALID_ARGUMENT", `${what} ${JSON.stringify(v)} is not a valid id`);
  }
  return `orgs/${orgId}/envs/${envId}/`;
}

/**
 * A URL for one object under the environment's prefix. `name` is relative to the prefix and is
 * validated as a key on its own, so `../` cannot reach another organisation's objects.
 */
export async function presignForEnv(
  store: BlobStore,
  env: { orgId: string; envId: string },
  name: string,
  o: PresignOptions,
): Promise<string> {
  requireBlobKey(name);
  requirePresignOptions(o);
  return store.presign(`${envBlobPrefix(env.orgId, env.envId)}${name}`, o);
}

/** Clips an inclusive range to an object of `size` bytes, or refuses it. */
export function clipRange(
  key: string,
  size: number,
  range: ByteRange | undefined,
): { start: number; end: number } {
  if (!range) return { start: 0, end: size - 1 };
  const { start } = range;
  const end = range.end === undefined ? size - 1 : Math.min(range.end, size - 1);
  if (!Number.isSafeInteger(start) || start < 0 || (range.end !== undefined && range.end < start))
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `range ${start}-${range.end ?? ""} of ${key}: give 0 <= start <= end`,
    );
  if (start >= size)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `range starts at ${start}, past the end of ${key} (${size} bytes)`,
    );
  return { start, end };
}

export function blobNotFound(key: string): WarrenError {
  return new WarrenError("NOT_FOUND", `no blob ${key} in the store`, { key });
}
