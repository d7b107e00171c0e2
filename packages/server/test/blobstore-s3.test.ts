// The S3-compatible blob store through the conformance suite, against @20minutes/s3rver in a child
// process on loopback (test/s3rver-process.ts): real SigV4, real multipart uploads, real
// presigned URLs, with credentials the store reads from the server's sealed key files.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { saveS3Credentials, storedS3Credentials } from "../src/blobstore/s3-credentials.ts";
import { createS3BlobStore } from "../src/blobstore/s3-store.ts";
import { blobStoreConformance } from "./blobstore-conformance.ts";
import { S3RVER_KEY, startS3rver } from "./s3rver-process.ts";

blobStoreConformance("s3 (s3rver)", async () => {
  const s3 = await startS3rver();
  const root = await mkdtemp(path.join(tmpdir(), "warren-cp-"));
  await saveS3Credentials(root, S3RVER_KEY);
  const signClock = { offsetMs: 0 };
  const store = createS3BlobStore({
    endpoint: s3.endpoint,
    region: "us-east-1",
    bucket: s3.bucket,
    prefix: "warren/",
    forcePathStyle: true,
    credentials: storedS3Credentials(root),
    partSize: 5 * 1024 * 1024,
    now: () => Date.now() + signClock.offsetMs,
  });
  return {
    store,
    signClock,
    // s3rver walks its directories to list; real S3 (and the filesystem store) list in byte order.
    deviations: ["walk-order-list"],
    async close() {
      await s3.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
});

test("s3 credentials are stored sealed, never in the clear, and a wrong key fails clearly", async () => {
  const root = await mkdtemp(path.join(tmpdir(), "warren-cp-"));
  try {
    await saveS3Credentials(root, { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI-secret" });
    const sealed = await readFile(path.join(root, "keys", "blobstore-s3.sealed"), "utf8");
    assert.ok(!sealed.includes("AKIDEXAMPLE") && !sealed.includes("wJalrXUtnFEMI"), "sealed, not plain");
    assert.deepEqual(await storedS3Credentials(root)(), {
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI-secret",
    });
    await rm(path.join(root, "keys", "blobstore.key"));
    await assert.rejects(storedS3Credentials(root)(), /cannot be decrypted/);
    await rm(path.join(root, "keys"), { recursive: true });
    await assert.rejects(storedS3Credentials(root)(), /no S3 credentials/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
