// The filesystem blob store through the conformance suite (its presigned URLs served by the real
// app, blobstore-fs-world.ts), and what only the filesystem store has: its files and URL format.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { WarrenError } from "@warren/protocol";
import { createFsBlobStore } from "../src/blobstore/fs-store.ts";
import { signBlobPath, verifyBlobUrl } from "../src/blobstore/url-signer.ts";
import { blobStoreConformance } from "./blobstore-conformance.ts";
import { fsStoreBehindApp } from "./blobstore-fs-world.ts";

blobStoreConformance("filesystem", fsStoreBehindApp);

test("filesystem store: a failed put leaves no partial file, objects live under the data dir", async () => {
  const t = await fsStoreBehindApp();
  try {
    await t.store.put("a/b", randomBytes(10));
    async function* broken() {
      yield randomBytes(100);
      throw new Error("the source broke");
    }
    await assert.rejects(t.store.put("a/c", broken()), /broke/);
    assert.deepEqual(await readdir(path.join(t.dir, "tmp")), [], "the partial file was removed");
    assert.deepEqual(await readdir(path.join(t.dir, "objects", "a")), ["b~"]);
    // A key and a "directory" of the same name coexist, as in S3.
    await t.store.put("a/b/c", randomBytes(3));
    assert.deepEqual(
      (await t.store.list("a/")).items.map((i) => i.key),
      ["a/b", "a/b/c"],
    );
    await t.store.delete("a/b/c");
    assert.deepEqual(
      await readdir(path.join(t.dir, "objects", "a")),
      ["b~"],
      "the emptied directory is gone",
    );
  } finally {
    await t.close();
  }
});

test("filesystem store: parts a crashed put left behind are swept once stale, fresh ones kept", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "warren-blobs-"));
  try {
    await mkdir(path.join(dir, "tmp"), { recursive: true });
    await writeFile(path.join(dir, "tmp", "old.part"), "x");
    await writeFile(path.join(dir, "tmp", "fresh.part"), "y");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(path.join(dir, "tmp", "old.part"), twoHoursAgo, twoHoursAgo);
    const store = createFsBlobStore({ dir });
    await store.put("k", Buffer.from("v"));
    assert.deepEqual(await readdir(path.join(dir, "tmp")), ["fresh.part"]);
    await assert.rejects(store.presign("k", { method: "GET", expiresIn: 60 }), /no URL base/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("filesystem URLs: method-bound, expiry bounded, complete; HEAD needs a HEAD URL", () => {
  const secret = randomBytes(32);
  const now = 1_800_000_000_000;
  const exp = now / 1000 + 60;
  const p = signBlobPath(secret, { method: "GET", key: "orgs/o/envs/e/x", expires: exp });
  assert.equal(verifyBlobUrl(secret, "GET", p, now).key, "orgs/o/envs/e/x");
  const refused = (method: string, url: string, at = now) =>
    assert.throws(
      () => verifyBlobUrl(secret, method, url, at),
      (e: unknown) => e instanceof WarrenError,
      url,
    );
  refused("HEAD", p);
  refused("GET", p, (exp + 1) * 1000);
  refused("GET", p.replace(/&sig=.*/, ""));
  refused("GET", p.replace("exp=", "exp=1"));
  refused("GET", p.replace("/x?", "/y?"));
  refused("GET", p.replace("/x?", "/%2e%2e?"));
  assert.throws(() => verifyBlobUrl(randomBytes(32), "GET", p, now), /signature/, "another key's URL");
  const far = signBlobPath(secret, { method: "GET", key: "k", expires: now / 1000 + 86_400 });
  refused("GET", far);
});
