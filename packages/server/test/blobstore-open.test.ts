// The blob store a control plane opens from its environment: the filesystem default under
// ROOT/blobs with its URL routes, S3 only with a bucket, and every bad setting named.
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { blobStoreConfigFromEnv, openBlobStore } from "../src/blobstore/open.ts";

test("blob store settings: the filesystem by default, S3 with a bucket, bad values named", () => {
  assert.deepEqual(blobStoreConfigFromEnv({}), { kind: "fs" });
  assert.deepEqual(
    blobStoreConfigFromEnv({
      WARREN_BLOBSTORE: "s3",
      WARREN_BLOBSTORE_S3_BUCKET: "b",
      WARREN_BLOBSTORE_S3_ENDPOINT: "http://127.0.0.1:9000",
      WARREN_BLOBSTORE_S3_PATH_STYLE: "1",
    }),
    {
      kind: "s3",
      endpoint: "http://127.0.0.1:9000",
      region: "us-east-1",
      bucket: "b",
      prefix: "warren/",
      forcePathStyle: true,
    },
  );
  const bad: [Record<string, string>, RegExp][] = [
    [{ WARREN_BLOBSTORE: "gcs" }, /use fs or s3/],
    [{ WARREN_BLOBSTORE: "s3" }, /needs WARREN_BLOBSTORE_S3_BUCKET/],
    [
      { WARREN_BLOBSTORE: "s3", WARREN_BLOBSTORE_S3_BUCKET: "b", WARREN_BLOBSTORE_S3_ENDPOINT: "ftp://x" },
      /http\(s\) URL/,
    ],
    [
      {
        WARREN_BLOBSTORE: "s3",
        WARREN_BLOBSTORE_S3_BUCKET: "b",
        WARREN_BLOBSTORE_S3_ENDPOINT: "https://k:s@x",
      },
      /without credentials/,
    ],
    [
      { WARREN_BLOBSTORE: "s3", WARREN_BLOBSTORE_S3_BUCKET: "b", WARREN_BLOBSTORE_S3_PATH_STYLE: "yes" },
      /use 1 or 0/,
    ],
    [
      { WARREN_BLOBSTORE: "s3", WARREN_BLOBSTORE_S3_BUCKET: "b", WARREN_BLOBSTORE_S3_PREFIX: "w" },
      /end it with/,
    ],
  ];
  for (const [env, msg] of bad) assert.throws(() => blobStoreConfigFromEnv(env), msg, JSON.stringify(env));
});

test("the filesystem store opens under ROOT/blobs with its URL key in ROOT/keys", async () => {
  const root = await mkdtemp(path.join(tmpdir(), "warren-cp-"));
  try {
    const { store, blobUrls } = openBlobStore(root, { kind: "fs" }, { urlBase: "http://127.0.0.1:1" });
    await store.put("a/b", Buffer.from("x"));
    await stat(path.join(root, "blobs", "objects", "a", "b~"));
    assert.ok(blobUrls, "the filesystem store comes with its URL routes");
    const url = await store.presign("a/b", { method: "GET", expiresIn: 60 });
    assert.match(url, /^http:\/\/127\.0\.0\.1:1\/blob\/v1\/a\/b\?m=GET&exp=\d+&sig=/);
    assert.equal(((await stat(path.join(root, "keys", "blob-url.key"))).mode & 0o777).toString(8), "600");
    const s3 = openBlobStore(root, {
      kind: "s3",
      region: "r",
      bucket: "b",
      prefix: "",
      forcePathStyle: true,
    });
    assert.equal(s3.store.kind, "s3");
    assert.equal(s3.blobUrls, undefined, "S3 serves its own URLs");
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
