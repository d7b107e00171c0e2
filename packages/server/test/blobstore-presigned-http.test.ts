import { WarrenError } from "@warren/protocol";
import { getPresigned, headPresigned, PresignedUrlError, putPresigned } from "@warren/runner";
import { createS3BlobStore } from "../src/blobstore/s3-store.ts";
import {
  asChunks,
  type BlobStore,
  type ByteRange,
  blobNotFound,
  requireBlobKey,
} from "../src/blobstore/types.ts";
import { blobStoreConformance, type StoreUnderTest } from "./blobstore-conformance.ts";
import { fsStoreBehindApp } from "./blobstore-fs-world.ts";
import { S3RVER_KEY, startS3rver } from "./s3rver-process.ts";

const TTL = 60;

function throughUrls(cp: BlobStore): BlobStore {
  const fromHttp = (key: string, err: unknown): unknown => {
    if (!(err instanceof PresignedUrlError)) return err;
    if (err.status === 404) return blobNotFound(key);
    if (err.status === 416 || err.status === 400) return new WarrenError("INVALID_ARGUMENT", err.message);
    return err;
  };
  return {
    kind: `presigned-${cp.kind}`,
    async put(key, body) {
      requireBlobKey(key);
      const chunks: Uint8Array[] = [];
      for await (const c of asChunks(body)) chunks.push(c);
      const data = Buffer.concat(chunks);
      const url = await cp.presign(key, { method: "PUT", expiresIn: TTL, contentLength: data.length });
      await putPresigned(url, data, data.length);
      const info = await this.head(key);
      if (!info) throw new Error(`${key} is not there after its PUT`);
      return info;
    },
    async get(key, range?: ByteRange) {
      requireBlobKey(key);
      // S3 ignores a malformed Range and sends everything; refuse it before asking.
      if (range && (range.start < 0 || (range.end !== undefined && range.end < range.start)))
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `range ${range.start}-${range.end}: give 0 <= start <= end`,
        );
      const url = await cp.presign(key, { method: "GET", expiresIn: TTL });
      try {
        const r = await getPresigned(url, range ? { range } : {});
        return {
          info: { key, size: r.size, etag: r.etag, modified: r.modified ?? new Date(0) },
          start: r.start,
          end: r.end,
          body: r.body,
        };
      } catch (err) {
        throw fromHttp(key, err);
      }
    },
    async head(key) {
      const url = await cp.presign(key, { method: "HEAD", expiresIn: TTL });
      const h = await headPresigned(url);
      return h && { key, size: h.size, etag: h.etag, modified: h.modified ?? new Date(0) };
    },
    list: (prefix, o) => cp.list(prefix, o),
    delete: (key) => cp.delete(key),
    presign: (key, o) => cp.presign(key, o),
  };
}

blobStoreConformance(
  "presigned HTTP: the control plane's /blob/v1 (filesystem)",
  async (): Promise<StoreUnderTest> => {
    const t = await fsStoreBehindApp();
    return { ...t, store: throughUrls(t.store) };
  },
);

blobStoreConformance("presigned HTTP: S3's own URLs (s3rver)", async (): Promise<StoreUnderTest> => {
  const s3 = await startS3rver();
  const signClock = { offsetMs: 0 };
  const store = createS3BlobStore({
    endpoint: s3.endpoint,
    region: "us-east-1",
    bucket: s3.bucket,
    forcePathStyle: true,
    credentials: async () => S3RVER_KEY,
    partSize: 5 * 1024 * 1024,
    now: () => Date.now() + signClock.offsetMs,
  });
  return { store: throughUrls(store), signClock, deviations: ["walk-order-list"], close: () => s3.stop() };
});
