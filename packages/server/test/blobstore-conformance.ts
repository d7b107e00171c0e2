// One conformance suite for every BlobStore: the filesystem store, S3 (against a local s3rver),
// and the presigned-URL HTTP path (a store whose reads and writes go only through URLs, as a
// runner's do). Each implementation's test file calls blobStoreConformance() with its setup.
//
// The presigned-URL attacks run against every store that can presign: an expired URL, a tampered
// signature, a URL rewritten to another organisation's prefix, `../` keys (in the API and raw on
// the wire), the wrong method, and a body longer than the URL allows.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { WarrenError } from "@warren/protocol";
import { getPresigned, headPresigned, putPresigned } from "@warren/runner";
import { type BlobStore, envBlobPrefix, presignForEnv } from "../src/blobstore/types.ts";

export interface StoreUnderTest {
  store: BlobStore;
  /** Added to the store's signing clock: a negative offset makes URLs that are already expired. */
  signClock?: { offsetMs: number };
  /**
   * A test server's known departures from S3, each with its reason at the setup. "walk-order-list":
   * it lists in directory-walk order, so "p/b-c" comes after "p/b/1" (S3: byte order, "-" < "/").
   */
  deviations?: "walk-order-list"[];
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
const ORG_A = { orgId: "orgA", envId: "env1" };
const ORG_B = { orgId: "orgB", envId: "env1" };

async function bytesOf(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function* slices(data: Buffer, size: number, failAfter?: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < data.length; at += size) {
    if (failAfter !== undefined && at >= failAfter) throw new Error("the source broke mid-stream");
    yield data.subarray(at, at + size);
  }
}

async function rejectsWith(p: Promise<unknown>, code: string, what: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof WarrenError && err.code === code, what);
}

/** A request sent exactly as written: no URL normalization of `..`, unlike fetch or new URL(). */
function rawGet(url: string, rawPath: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: "GET", path: rawPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end();
  });
}

function tamperSignature(url: string): string {
  return url.replace(
    /([?&](?:sig|X-Amz-Signature)=)(.)/,
    (_m, k: string, c: string) => k + (c === "A" || c === "0" ? "B" : c === "1" ? "0" : "A"),
  );
}

export function blobStoreConformance(name: string, setup: () => Promise<StoreUnderTest>): void {
  describe(`blob store conformance: ${name}`, () => {
    let t: StoreUnderTest;
    let s: BlobStore;
    before(async () => {
      t = await setup();
      s = t.store;
    });
    after(async () => {
      await t?.close();
    });

    test("put then get gives the same bytes; head gives the size", async () => {
      const data = randomBytes(70_000);
      const put = await s.put("c/small", data);
      assert.equal(put.size, data.length);
      const got = await s.get("c/small");
      assert.deepEqual(await bytesOf(got.body), data);
      assert.equal(got.info.size, data.length);
      const h = await s.head("c/small");
      assert.equal(h?.size, data.length);
      assert.ok(h?.etag, "an etag");
      await s.put("c/empty", new Uint8Array(0));
      assert.equal((await s.head("c/empty"))?.size, 0);
      assert.equal((await bytesOf((await s.get("c/empty")).body)).length, 0);
    });

    test("a streamed put larger than one part reads back whole", async () => {
      const data = randomBytes(11 * MiB + 123);
      const info = await s.put("c/big", slices(data, 64 * 1024));
      assert.equal(info.size, data.length);
      assert.ok(
        (await bytesOf((await s.get("c/big")).body)).equals(data),
        "same bytes after a multipart put",
      );
    });

    test("ranged get: start-end, open end, an end past the size is clipped, a start past it refused", async () => {
      const data = randomBytes(1000);
      await s.put("c/ranged", data);
      const a = await s.get("c/ranged", { start: 10, end: 19 });
      assert.deepEqual([a.start, a.end, a.info.size], [10, 19, 1000]);
      assert.deepEqual(await bytesOf(a.body), data.subarray(10, 20));
      const b = await s.get("c/ranged", { start: 990 });
      assert.deepEqual(await bytesOf(b.body), data.subarray(990));
      const c = await s.get("c/ranged", { start: 995, end: 5000 });
      assert.deepEqual([c.start, c.end], [995, 999]);
      assert.deepEqual(await bytesOf(c.body), data.subarray(995));
      await rejectsWith(s.get("c/ranged", { start: 1000 }), "INVALID_ARGUMENT", "range past the end");
      await rejectsWith(s.get("c/ranged", { start: 5, end: 4 }), "INVALID_ARGUMENT", "end before start");
    });

    test("a missing key: head is undefined, get is NOT_FOUND, delete is a no-op", async () => {
      assert.equal(await s.head("c/none"), undefined);
      await rejectsWith(s.get("c/none"), "NOT_FOUND", "get of a missing key");
      await s.delete("c/none");
      await s.put("c/gone", Buffer.from("x"));
      await s.delete("c/gone");
      assert.equal(await s.head("c/gone"), undefined);
      await rejectsWith(s.get("c/gone"), "NOT_FOUND", "get after delete");
    });

    test("list: by string prefix, in byte order, in pages", async () => {
      const walkOrder = t.deviations?.includes("walk-order-list") ?? false;
      const keys = ["l/p/a", "l/p/b/1", "l/p/b/2", "l/p/b_c", "l/p/c", "l/q/a", "l/pa/x"];
      if (!walkOrder) keys.push("l/p/b-c");
      for (const k of keys) await s.put(k, Buffer.from(k));
      const all = await s.list("l/p/");
      assert.deepEqual(
        all.items.map((i) => i.key),
        [...(walkOrder ? [] : ["l/p/b-c"]), "l/p/a", "l/p/b/1", "l/p/b/2", "l/p/b_c", "l/p/c"].sort(),
      );
      assert.equal(all.next, undefined);
      assert.equal(all.items[0]?.size, 5);
      assert.deepEqual(
        (await s.list("l/p/b")).items.map((i) => i.key),
        [...(walkOrder ? [] : ["l/p/b-c"]), "l/p/b/1", "l/p/b/2", "l/p/b_c"].sort(),
      );
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const page = await s.list("l/", { limit: 3, after });
        seen.push(...page.items.map((i) => i.key));
        after = page.next;
        pages++;
      } while (after !== undefined && pages < 10);
      assert.deepEqual(seen, [...keys].sort());
      assert.equal(pages, Math.ceil(keys.length / 3));
      assert.deepEqual((await s.list("l/none/")).items, []);
    });

    test("an overwrite replaces the whole object and changes its etag", async () => {
      const one = await s.put("c/over", randomBytes(5000));
      const data = randomBytes(100);
      const two = await s.put("c/over", data);
      assert.notEqual(one.etag, two.etag);
      assert.deepEqual(await bytesOf((await s.get("c/over")).body), data);
    });

    test("a put whose stream breaks midway leaves the previous object as it was", async () => {
      const old = Buffer.from("the old version");
      await s.put("c/keep", old);
      const big = randomBytes(6 * MiB);
      await assert.rejects(s.put("c/keep", slices(big, 256 * 1024, 5.5 * MiB)), /broke/);
      await assert.rejects(s.put("c/keep", slices(big, 1024, 2048)), /broke/);
      assert.deepEqual(await bytesOf((await s.get("c/keep")).body), old);
      await assert.rejects(s.put("c/fresh", slices(big, 1024, 2048)), /broke/);
      assert.equal(await s.head("c/fresh"), undefined, "no half object appears");
    });

    test("keys that could climb out of their prefix are refused before any I/O", async () => {
      const bad = [
        "",
        "../x",
        "a/../../b",
        "/abs",
        "a//b",
        "a/./b",
        "a/",
        "a\\b",
        "a/\0",
        "a b",
        `${"x".repeat(1025)}`,
      ];
      for (const k of bad) {
        await rejectsWith(s.put(k, Buffer.from("x")), "INVALID_ARGUMENT", `put ${JSON.stringify(k)}`);
        await rejectsWith(s.get(k), "INVALID_ARGUMENT", `get ${JSON.stringify(k)}`);
        await rejectsWith(s.head(k), "INVALID_ARGUMENT", `head ${JSON.stringify(k)}`);
        await rejectsWith(s.delete(k), "INVALID_ARGUMENT", `delete ${JSON.stringify(k)}`);
      }
      await rejectsWith(s.list("../"), "INVALID_ARGUMENT", "list ../");
    });

    describe("presigned URLs (what a runner gets)", () => {
      const secretB = Buffer.from("organisation B's data");
      before(async () => {
        await s.put(`${envBlobPrefix(ORG_B.orgId, ORG_B.envId)}x`, secretB);
      });

      test("PUT with an exact length, then GET (whole and ranged) and HEAD through URLs only", async () => {
        const data = randomBytes(3000);
        const put = await presignForEnv(s, ORG_A, "chunks/one", {
          method: "PUT",
          expiresIn: 60,
          contentLength: 3000,
        });
        await putPresigned(put, data, data.length);
        const get = await presignForEnv(s, ORG_A, "chunks/one", { method: "GET", expiresIn: 60 });
        const whole = await getPresigned(get);
        assert.deepEqual(await bytesOf(whole.body), data);
        const part = await getPresigned(get, { range: { start: 100, end: 199 } });
        assert.deepEqual([part.start, part.end, part.size], [100, 199, 3000]);
        assert.deepEqual(await bytesOf(part.body), data.subarray(100, 200));
        const head = await presignForEnv(s, ORG_A, "chunks/one", { method: "HEAD", expiresIn: 60 });
        assert.equal((await headPresigned(head))?.size, 3000);
        assert.equal((await s.head(`${envBlobPrefix(ORG_A.orgId, ORG_A.envId)}chunks/one`))?.size, 3000);
        const missing = await presignForEnv(s, ORG_A, "chunks/none", { method: "HEAD", expiresIn: 60 });
        assert.equal(await headPresigned(missing), undefined);
      });

      test("an expired URL is refused", async (tt) => {
        if (!t.signClock) return tt.skip("this store's signing clock cannot be moved");
        t.signClock.offsetMs = -(3600 + 120) * 1000;
        try {
          const get = await presignForEnv(s, ORG_B, "x", { method: "GET", expiresIn: 60 });
          const put = await presignForEnv(s, ORG_A, "expired", {
            method: "PUT",
            expiresIn: 60,
            contentLength: 3,
          });
          await assert.rejects(
            getPresigned(get),
            (e: { status?: number }) => e.status === 401 || e.status === 403,
          );
          await assert.rejects(
            putPresigned(put, Buffer.from("abc"), 3),
            (e: { status?: number }) => e.status === 401 || e.status === 403,
          );
        } finally {
          t.signClock.offsetMs = 0;
        }
        assert.equal(
          await s.head(`${envBlobPrefix(ORG_A.orgId, ORG_A.envId)}expired`),
          undefined,
          "nothing stored",
        );
      });

      test("a tampered signature is refused", async () => {
        const get = await presignForEnv(s, ORG_B, "x", { method: "GET", expiresIn: 60 });
        assert.deepEqual(await bytesOf((await getPresigned(get)).body), secretB, "the untouched URL works");
        await assert.rejects(
          getPresigned(tamperSignature(get)),
          (e: { status?: number }) => e.status === 401 || e.status === 403,
        );
      });

      test("a URL rewritten to another organisation's prefix is refused", async () => {
        await s.put(`${envBlobPrefix(ORG_A.orgId, ORG_A.envId)}x`, Buffer.from("A's own"));
        const mine = await presignForEnv(s, ORG_A, "x", { method: "GET", expiresIn: 60 });
        const theirs = mine.replace("/orgs/orgA/", "/orgs/orgB/");
        assert.notEqual(theirs, mine);
        await assert.rejects(
          getPresigned(theirs),
          (e: { status?: number }) => e.status === 401 || e.status === 403,
        );
      });

      test("`../` names are refused when presigning and on the wire", async () => {
        for (const name of [
          "../../orgB/envs/env1/x",
          "a/../../../orgB/envs/env1/x",
          "..",
          "/orgs/orgB/envs/env1/x",
        ]) {
          await rejectsWith(
            presignForEnv(s, ORG_A, name, { method: "GET", expiresIn: 60 }),
            "INVALID_ARGUMENT",
            name,
          );
        }
        await rejectsWith(
          presignForEnv(s, { orgId: "../orgB", envId: "env1" }, "x", { method: "GET", expiresIn: 60 }),
          "INVALID_ARGUMENT",
          "org id",
        );
        // A valid URL for A's object, its path walked over to B's object: never B's bytes.
        const mine = await presignForEnv(s, ORG_A, "x", { method: "GET", expiresIn: 60 });
        const u = new URL(mine);
        const climbed = u.pathname.replace(
          "/orgs/orgA/envs/env1/x",
          "/orgs/orgA/envs/env1/../../../orgs/orgB/envs/env1/x",
        );
        assert.notEqual(climbed, u.pathname);
        const r = await rawGet(mine, climbed + u.search);
        assert.ok(r.status >= 400 && r.status < 500, `refused with a 4xx, got ${r.status}`);
        assert.ok(!r.body.includes(secretB.toString()), "B's bytes did not leak");
      });

      test("a URL is bound to its method", async () => {
        const get = await presignForEnv(s, ORG_B, "x", { method: "GET", expiresIn: 60 });
        await assert.rejects(
          putPresigned(get, Buffer.from("overwritten"), 11),
          (e: { status?: number }) => (e.status ?? 0) >= 400,
        );
        assert.deepEqual(
          await bytesOf((await s.get(`${envBlobPrefix(ORG_B.orgId, ORG_B.envId)}x`)).body),
          secretB,
        );
      });

      test("a body longer than the URL allows is refused and nothing is stored", async () => {
        const put = await presignForEnv(s, ORG_A, "sized", {
          method: "PUT",
          expiresIn: 60,
          contentLength: 10,
        });
        await assert.rejects(
          putPresigned(put, randomBytes(11), 11),
          (e: { status?: number }) => (e.status ?? 0) >= 400,
        );
        assert.equal(await s.head(`${envBlobPrefix(ORG_A.orgId, ORG_A.envId)}sized`), undefined);
        await putPresigned(put, randomBytes(10), 10);
        assert.equal((await s.head(`${envBlobPrefix(ORG_A.orgId, ORG_A.envId)}sized`))?.size, 10);
      });
    });
  });
}
