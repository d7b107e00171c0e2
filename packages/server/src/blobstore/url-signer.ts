// Presigned URLs for the filesystem store, which the control plane serves itself (http-routes.ts),
// as S3 serves its own. A URL is bound by HMAC-SHA256 to one method, one key, an expiry and (for
// PUT) an exact body length; it carries no credential a runner could reuse for anything else.
//
// The key lives beside the server's other keys (`${root}/keys/blob-url.key`, 0600). Replicas that
// share one filesystem store must share the file, as they share the secrets key.
import { createHmac, timingSafeEqual } from "node:crypto";
import { WarrenError } from "@warren/protocol";
import { blobKeyProblem, MAX_PRESIGN_SECONDS, type PresignMethod } from "./types.ts";

export const BLOB_URL_PREFIX = "/blob/v1/";
export const BLOB_URL_KEY_FILE = "blob-url.key";

export interface SignedBlobRequest {
  method: PresignMethod;
  key: string;
  /** Unix seconds. */
  expires: number;
  contentLength?: number | undefined;
}

function mac(secret: Buffer, r: SignedBlobRequest): Buffer {
  // Newline-separated fields: none of them can contain a newline (keys are validated), so no two
  // different requests share a string to sign.
  const text = ["warren-blob-v1", r.method, r.key, String(r.expires), String(r.contentLength ?? "")].join(
    "\n",
  );
  return createHmac("sha256", secret).update(text).digest();
}

/** The path and query of a URL for `r`; the caller prefixes the control plane's base URL. */
export function signBlobPath(secret: Buffer, r: SignedBlobRequest): string {
  const q = new URLSearchParams({ m: r.method, exp: String(r.expires) });
  if (r.contentLength !== undefined) q.set("len", String(r.contentLength));
  q.set("sig", mac(secret, r).toString("base64url"));
  return `${BLOB_URL_PREFIX}${r.key.split("/").map(encodeURIComponent).join("/")}?${q}`;
}

/**
 * Checks a request's raw URL (path and query, as it arrived) against `method` and the clock.
 * Throws UNAUTHENTICATED for a bad or expired signature and INVALID_ARGUMENT for a malformed key;
 * the messages never say which signature would have been right.
 */
export function verifyBlobUrl(
  secret: Buffer,
  method: string,
  rawUrl: string,
  nowMs: number,
): SignedBlobRequest {
  const qAt = rawUrl.indexOf("?");
  const rawPath = qAt < 0 ? rawUrl : rawUrl.slice(0, qAt);
  const q = new URLSearchParams(qAt < 0 ? "" : rawUrl.slice(qAt + 1));
  if (!rawPath.startsWith(BLOB_URL_PREFIX))
    throw new WarrenError("INVALID_ARGUMENT", `blob URLs start with ${BLOB_URL_PREFIX}`);
  // Decode each segment on its own: an encoded "/" (%2F) or "." trick still meets the key check.
  let key: string;
  try {
    key = rawPath.slice(BLOB_URL_PREFIX.length).split("/").map(decodeURIComponent).join("/");
  } catch {
    throw new WarrenError("INVALID_ARGUMENT", "the blob URL's path is not valid percent-encoding");
  }
  const problem = blobKeyProblem(key);
  if (problem) throw new WarrenError("INVALID_ARGUMENT", `the blob URL names no valid key: ${problem}`);
  const m = q.get("m");
  const exp = Number(q.get("exp"));
  const lenRaw = q.get("len");
  const sig = Buffer.from(q.get("sig") ?? "", "base64url");
  if (!m || !Number.isSafeInteger(exp) || sig.length !== 32)
    throw new WarrenError(
      "UNAUTHENTICATED",
      "the blob URL is not a complete presigned URL; ask for a new one",
    );
  // HEAD on a GET URL is what S3 refuses too: the method is part of what was signed.
  if (m !== method)
    throw new WarrenError(
      "UNAUTHENTICATED",
      `the blob URL was signed for ${m}, not ${method}; ask for a ${method} URL`,
    );
  const contentLength = lenRaw === null ? undefined : Number(lenRaw);
  if (contentLength !== undefined && !(Number.isSafeInteger(contentLength) && contentLength >= 0))
    throw new WarrenError("UNAUTHENTICATED", "the blob URL's signature does not match; ask for a new URL");
  const r: SignedBlobRequest = { method: m as PresignMethod, key, expires: exp, contentLength };
  if (!timingSafeEqual(mac(secret, r), sig))
    throw new WarrenError("UNAUTHENTICATED", "the blob URL's signature does not match; ask for a new URL");
  const now = Math.floor(nowMs / 1000);
  if (exp <= now) throw new WarrenError("UNAUTHENTICATED", "the blob URL has expired; ask for a new one");
  // A URL that outlives the longest expiry we ever sign was not made by a correct signer.
  if (exp - now > MAX_PRESIGN_SECONDS + 60)
    throw new WarrenError("UNAUTHENTICATED", "the blob URL's expiry is too far ahead; ask for a new URL");
  return r;
}
