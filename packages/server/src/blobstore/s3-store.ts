// The S3-compatible blob store, through @aws-sdk/client-s3. Only the control plane holds its
// credentials (s3-credentials.ts); runners get presigned URLs for single objects.
//
// A put reads the stream part by part: a body that fits one part goes up as one PutObject, a
// larger one as a multipart upload that is aborted if the stream fails, so no object appears half.
// Checksums are sent only when S3 requires them: S3-compatible servers (older MinIO, s3rver) do
// not understand the SDK's default aws-chunked trailing checksums.

import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { WarrenError } from "@warren/protocol";
import {
  asChunks,
  type BlobInfo,
  type BlobRead,
  type BlobStore,
  type ByteRange,
  blobNotFound,
  type ListPage,
  requireBlobKey,
  requireBlobPrefix,
  requirePresignOptions,
} from "./types.ts";

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface S3BlobStoreOptions {
  /** e.g. https://s3.eu-central-1.amazonaws.com or http://127.0.0.1:9000; default: AWS for `region`. */
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  /** Every key is stored under this (e.g. "warren/"); "" or ending in "/". */
  prefix?: string | undefined;
  /** Path-style URLs (http://host/bucket/key): most S3-compatible servers need this. */
  forcePathStyle?: boolean | undefined;
  /** Read when a request is signed, so rotated credentials take effect without a restart. */
  credentials: () => Promise<S3Credentials>;
  /** Multipart part size in bytes; S3's minimum (5 MiB) and above. Default 8 MiB. */
  partSize?: number | undefined;
  /** Milliseconds since the epoch; the signing time of presigned URLs. */
  now?: (() => number) | undefined;
}

const MIN_PART = 5 * 1024 * 1024;

export function createS3BlobStore(o: S3BlobStoreOptions): BlobStore {
  const prefix = requireBlobPrefix(o.prefix ?? "");
  if (prefix !== "" && !prefix.endsWith("/"))
    throw new WarrenError("INVALID_ARGUMENT", `S3 prefix ${JSON.stringify(prefix)} must end with "/"`);
  if (!o.bucket) throw new WarrenError("INVALID_ARGUMENT", "the S3 blob store needs a bucket");
  const partSize = o.partSize ?? 8 * 1024 * 1024;
  if (!Number.isSafeInteger(partSize) || partSize < MIN_PART)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `S3 part size ${partSize}: give at least ${MIN_PART} bytes (S3's minimum)`,
    );
  const now = o.now ?? Date.now;
  const client = new S3Client({
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    forcePathStyle: o.forcePathStyle ?? false,
    credentials: o.credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const Bucket = o.bucket;
  if (o.forcePathStyle) {
    // Bucket-level calls (list) go to ".../BUCKET", not ".../BUCKET/": S3 takes both, but some
    // S3-compatible servers (s3rver among them) compute their SigV4 check on the form without "/".
    client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { path?: string };
        if (typeof req.path === "string" && req.path.endsWith(`/${Bucket}/`))
          req.path = req.path.slice(0, -1);
        return next(args);
      },
      { step: "build", name: "warrenBucketPathWithoutSlash" },
    );
  }
  const full = (key: string) => prefix + requireBlobKey(key);
  const infoOf = (
    key: string,
    r: { ContentLength?: number; ETag?: string; LastModified?: Date; Size?: number },
  ) => ({
    key,
    size: r.ContentLength ?? r.Size ?? 0,
    etag: (r.ETag ?? "").replaceAll('"', ""),
    modified: r.LastModified ?? new Date(0),
  });

  async function head(key: string): Promise<BlobInfo | undefined> {
    const Key = full(key);
    try {
      return infoOf(key, await client.send(new HeadObjectCommand({ Bucket, Key })));
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw s3Error(`head ${key}`, err);
    }
  }

  async function putParts(
    key: string,
    Key: string,
    first: Buffer,
    rest: AsyncIterator<Buffer>,
  ): Promise<void> {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    if (!UploadId) throw new Error(`s3 put ${key}: the server gave no upload id`);
    try {
      const parts: { PartNumber: number; ETag: string }[] = [];
      let body: Buffer | undefined = first;
      while (body) {
        const PartNumber = parts.length + 1;
        const r = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: body }));
        parts.push({ PartNumber, ETag: r.ETag ?? "" });
        const next = await rest.next();
        body = next.done ? undefined : next.value;
      }
      await client.send(
        new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (err) {
      await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
      throw err;
    }
  }

  return {
    kind: "s3",
    async put(key, body) {
      const Key = full(key);
      const parts = inParts(asChunks(body), partSize)[Symbol.asyncIterator]();
      try {
        const first = await parts.next();
        const firstBody = first.done ? Buffer.alloc(0) : first.value;
        if (firstBody.length < partSize) {
          await client.send(
            new PutObjectCommand({ Bucket, Key, Body: firstBody, ContentLength: firstBody.length }),
          );
        } else {
          await putParts(key, Key, firstBody, parts);
        }
      } catch (err) {
        throw s3Error(`put ${key}`, err);
      }
      const info = await head(key);
      if (!info) throw new Error(`s3 put ${key}: the object is not there after the upload`);
      return info;
    },
    async get(key, range?: ByteRange): Promise<BlobRead> {
      const Key = full(key);
      if (
        range &&
        (!Number.isSafeInteger(range.start) || range.start < 0 || (range.end ?? range.start) < range.start)
      )
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `range ${range.start}-${range.end ?? ""} of ${key}: give 0 <= start <= end`,
        );
      try {
        const r = await client.send(
          new GetObjectCommand({
            Bucket,
            Key,
            ...(range ? { Range: `bytes=${range.start}-${range.end ?? ""}` } : {}),
          }),
        );
        const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(r.ContentRange ?? "");
        const size = m ? Number(m[3]) : (r.ContentLength ?? 0);
        const start = m ? Number(m[1]) : 0;
        const end = m ? Number(m[2]) : size - 1;
        const info = {
          key,
          size,
          etag: (r.ETag ?? "").replaceAll('"', ""),
          modified: r.LastModified ?? new Date(0),
        };
        const body = r.Body instanceof Readable ? r.Body : Readable.from([]);
        return { info, start, end, body };
      } catch (err) {
        const status = statusOf(err);
        if (status === 404) throw blobNotFound(key);
        if (status === 416)
          throw new WarrenError(
            "INVALID_ARGUMENT",
            `range starts at ${range?.start}, past the end of ${key}`,
          );
        throw s3Error(`get ${key}`, err);
      }
    },
    head,
    async list(listPrefix, lo = {}): Promise<ListPage> {
      requireBlobPrefix(listPrefix);
      const limit = lo.limit ?? 1000;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new WarrenError("INVALID_ARGUMENT", `list limit ${limit}: give 1 to 1000`);
      try {
        // StartAfter, not continuation tokens: the caller's cursor is a plain key, as in the fs store.
        const r = await client.send(
          new ListObjectsV2Command({
            Bucket,
            Prefix: prefix + listPrefix,
            MaxKeys: limit,
            ...(lo.after !== undefined ? { StartAfter: prefix + lo.after } : {}),
          }),
        );
        const items = (r.Contents ?? []).map((c) => infoOf((c.Key ?? "").slice(prefix.length), c));
        const last = items.at(-1);
        return r.IsTruncated && last ? { items, next: last.key } : { items };
      } catch (err) {
        throw s3Error(`list ${listPrefix}`, err);
      }
    },
    async delete(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket, Key: full(key) }));
      } catch (err) {
        if (statusOf(err) === 404) return;
        throw s3Error(`delete ${key}`, err);
      }
    },
    async presign(key, po) {
      const Key = full(key);
      requirePresignOptions(po);
      const signingDate = new Date(now());
      if (po.method === "PUT") {
        const cmd = new PutObjectCommand({
          Bucket,
          Key,
          ...(po.contentLength !== undefined ? { ContentLength: po.contentLength } : {}),
        });
        // Content-Length signed into the URL: a longer (or shorter) body no longer matches.
        return getSignedUrl(client, cmd, {
          expiresIn: po.expiresIn,
          signingDate,
          ...(po.contentLength !== undefined ? { signableHeaders: new Set(["content-length"]) } : {}),
        });
      }
      const cmd =
        po.method === "GET" ? new GetObjectCommand({ Bucket, Key }) : new HeadObjectCommand({ Bucket, Key });
      return getSignedUrl(client, cmd, { expiresIn: po.expiresIn, signingDate });
    },
  };
}

/** Re-chunks a byte stream into buffers of exactly `size` bytes (the last may be shorter). */
async function* inParts(chunks: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const c of chunks) {
    let chunk = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    while (heldBytes + chunk.length >= size) {
      const take = size - heldBytes;
      held.push(chunk.subarray(0, take));
      yield Buffer.concat(held);
      held = [];
      heldBytes = 0;
      chunk = chunk.subarray(take);
    }
    if (chunk.length > 0) {
      // Copy: the stream may reuse its buffer for the next chunk.
      held.push(Buffer.from(chunk));
      heldBytes += chunk.length;
    }
  }
  if (heldBytes > 0 || held.length > 0) yield Buffer.concat(held);
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** Context first, then S3's own code and message; never the request's signature or credentials. */
function s3Error(what: string, err: unknown): Error {
  if (err instanceof WarrenError) return err;
  if (err instanceof S3ServiceException) {
    const e = new Error(`s3 ${what}: ${err.name} (HTTP ${statusOf(err) ?? "?"}): ${err.message}`);
    e.cause = err;
    return e;
  }
  const e = new Error(`s3 ${what}: ${(err as Error)?.message ?? String(err)}`);
  e.cause = err;
  return e;
}
