// The control plane serves the filesystem store's presigned URLs itself, as S3 serves its own:
// GET (ranged), HEAD and PUT under /blob/v1/KEY. The URL's signature is the only credential
// (url-signer.ts), so these routes sit outside bearer-token auth (http/auth.ts lets /blob/ through)
// and trust nothing else in the request: the key comes from the signed path, the method must be
// the signed one, and a PUT body must be exactly the signed (or declared) length.
import { pipeline, Transform, type TransformCallback } from "node:stream";
import { WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { BlobInfo, BlobStore, ByteRange } from "./types.ts";
import { BLOB_URL_PREFIX, verifyBlobUrl } from "./url-signer.ts";

export interface BlobUrlRouteOptions {
  /** The filesystem store the URLs were signed for. */
  store: BlobStore;
  /** The same HMAC key the store signs with. */
  urlKey: () => Promise<Buffer>;
  now?: (() => number) | undefined;
  /** The largest PUT a URL without a signed length accepts. Default 5 GiB, S3's single-PUT limit. */
  maxPutBytes?: number | undefined;
}

export const DEFAULT_MAX_PUT_BYTES = 5 * 1024 ** 3;

/** Registers the routes in their own scope (a raw-body PUT must not meet the JSON parsers). */
export function blobUrlRoutes(app: FastifyInstance, o: BlobUrlRouteOptions | undefined): void {
  if (!o) return;
  const now = o.now ?? Date.now;
  const maxPut = o.maxPutBytes ?? DEFAULT_MAX_PUT_BYTES;
  const verified = async (req: FastifyRequest) => verifyBlobUrl(await o.urlKey(), req.method, req.url, now());

  void app.register(async (blob) => {
    blob.removeAllContentTypeParsers();
    // Leave the body unread: the PUT handler streams req.raw into the store itself.
    blob.addContentTypeParser("*", (_req, _payload, done) => done(null, undefined));
    const url = `${BLOB_URL_PREFIX}*`;

    blob.route({
      method: "GET",
      url,
      exposeHeadRoute: false,
      handler: async (req, reply) => {
        const r = await verified(req);
        const range = parseRange(req.headers.range);
        try {
          const got = await o.store.get(r.key, range);
          objectHeaders(reply, got.info);
          reply.header("content-length", String(got.end - got.start + 1));
          if (range)
            reply.code(206).header("content-range", `bytes ${got.start}-${got.end}/${got.info.size}`);
          return reply.send(got.body);
        } catch (err) {
          // HTTP's answer to a range past the end, with the size so the client can ask again.
          if (range && err instanceof WarrenError && err.code === "INVALID_ARGUMENT") {
            const info = await o.store.head(r.key);
            if (info) reply.header("content-range", `bytes */${info.size}`);
            return reply.code(416).send(err.toBody());
          }
          throw err;
        }
      },
    });

    blob.route({
      method: "HEAD",
      url,
      handler: async (req, reply) => {
        const r = await verified(req);
        const info = await o.store.head(r.key);
        if (!info) return reply.code(404).send();
        objectHeaders(reply, info);
        reply.header("content-length", String(info.size));
        return reply.send();
      },
    });

    blob.route({
      method: "PUT",
      url,
      handler: async (req, reply) => {
        const r = await verified(req);
        const declared = Number(req.headers["content-length"]);
        if (req.headers["content-length"] === undefined || !Number.isSafeInteger(declared) || declared < 0)
          throw new WarrenError(
            "INVALID_ARGUMENT",
            "a blob PUT needs a Content-Length header (no chunked uploads)",
          );
        if (r.contentLength !== undefined && declared !== r.contentLength)
          throw new WarrenError(
            declared > r.contentLength ? "PAYLOAD_TOO_LARGE" : "INVALID_ARGUMENT",
            `the URL accepts exactly ${r.contentLength} bytes, not ${declared}`,
          );
        if (declared > maxPut)
          throw new WarrenError(
            "PAYLOAD_TOO_LARGE",
            `a blob PUT takes at most ${maxPut} bytes, not ${declared}`,
          );
        // pipeline, not pipe: a client that hangs up mid-body must fail the put, not stall it.
        const body = exactly(declared);
        pipeline(req.raw, body, () => {});
        const info = await o.store.put(r.key, body);
        objectHeaders(reply, info);
        return reply.code(200).send();
      },
    });
  });
}

function objectHeaders(reply: FastifyReply, info: BlobInfo): void {
  reply.header("etag", `"${info.etag}"`);
  reply.header("last-modified", info.modified.toUTCString());
  reply.header("accept-ranges", "bytes");
  reply.header("cache-control", "no-store");
  reply.header("content-type", "application/octet-stream");
}

/** `bytes=START-` or `bytes=START-END` (one range; what the runner's client sends). */
export function parseRange(h: string | undefined): ByteRange | undefined {
  if (h === undefined) return undefined;
  const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(h.trim());
  if (!m)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `Range ${JSON.stringify(h.slice(0, 60))}: use bytes=START-END or bytes=START-`,
    );
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : undefined;
  if (end !== undefined && end < start)
    throw new WarrenError("INVALID_ARGUMENT", `Range ${h}: the end is before the start`);
  return { start, end };
}

/** Passes the body through, failing it (so the store commits nothing) unless it is exactly `n` bytes. */
function exactly(n: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      seen += chunk.length;
      if (seen > n) return cb(new WarrenError("PAYLOAD_TOO_LARGE", `the body is longer than its ${n} bytes`));
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (seen !== n)
        return cb(new WarrenError("INVALID_ARGUMENT", `the body ended after ${seen} of ${n} bytes`));
      cb();
    },
  });
}
