// Pull verification and resume against a node stand-in registry that misbehaves on purpose:
// wrong manifest digests, tampered and corrupted blobs, a connection cut mid-blob, redirects to
// refused addresses. Every refusal must leave the store without the image or stray layers.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { LayoutBuilder, layerTar, named, sha256, twoLayerLayout } from "@warren/testing/oci-layout";
import { ImageStore } from "../src/storage/image-store.ts";
import { parseAllowList } from "../src/storage/registry/address-guard.ts";
import type { HttpPolicy } from "../src/storage/registry/http.ts";
import { downloadsDir, pullFromRegistry } from "../src/storage/registry/pull.ts";
import { type StandIn, startStandIn } from "./fixtures/standin-registry.ts";

const policy: HttpPolicy = { allow: parseAllowList("127.0.0.1"), insecure: new Set(), timeoutMs: 5_000 };
const fast = { policy, retryDelayMs: 10 };

let work: string;
let reg: StandIn;
let fx: Awaited<ReturnType<typeof twoLayerLayout>>;

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), "warren-pull-verify-"));
  reg = await startStandIn();
  fx = await twoLayerLayout(path.join(work, "two"));
  await reg.serveLayout(fx.builder.dir, "two");
  reg.manifests.set("two:latest", reg.manifests.get("two:test/two:1")!);
});

after(async () => {
  await reg?.close();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

async function newStore(t: { after: (fn: () => Promise<void>) => void }): Promise<ImageStore> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "warren-pull-store-"));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  return new ImageStore({ root });
}

async function assertNothingKept(store: ImageStore): Promise<void> {
  assert.deepEqual(await store.list(), []);
  assert.deepEqual(await fs.readdir(store.layersDir).catch(() => []), [], "no layers kept");
}

const corrupt = (re: RegExp) => (e: unknown) => isWarrenError(e, "IMAGE_CORRUPT") && re.test(e.message);

test("a manifest that does not hash to the pinned digest is refused", async (t) => {
  const store = await newStore(t);
  const wrong = `sha256:${"ab".repeat(32)}`;
  reg.manifests.set(`two:${wrong}`, {
    body: reg.blobs.get(fx.manifest.digest)!,
    type: fx.manifest.mediaType!,
  });
  await assert.rejects(
    pullFromRegistry(store, `${reg.host}/two@${wrong}`, () => {}, fast),
    corrupt(/hashing to sha256:/),
  );
  await assertNothingKept(store);
});

test("a tag whose Docker-Content-Digest disagrees with the manifest is refused", async (t) => {
  const store = await newStore(t);
  const body = reg.blobs.get(fx.manifest.digest)!;
  reg.manifests.set("two:liar", {
    body,
    type: fx.manifest.mediaType!,
    digestHeader: `sha256:${"cd".repeat(32)}`,
  });
  await assert.rejects(
    pullFromRegistry(store, `${reg.host}/two:liar`, () => {}, fast),
    corrupt(/registry says/),
  );
  await assertNothingKept(store);
});

test("a tampered layer blob (same size, other bytes) is refused and discarded", async (t) => {
  const store = await newStore(t);
  const b = new LayoutBuilder(path.join(work, "tampered"));
  const img = await b.image([await layerTar([{ path: "a", content: "original" }])]);
  await b.write([named(img.manifest, "v1")]);
  await reg.serveLayout(b.dir, "tampered");
  const good = reg.blobs.get(img.layers[0]!.digest)!;
  const bad = Buffer.from(good);
  bad[bad.length - 5]! ^= 0xff;
  reg.blobs.set(img.layers[0]!.digest, bad);
  t.after(() => reg.blobs.set(img.layers[0]!.digest, good));
  await assert.rejects(
    pullFromRegistry(store, `${reg.host}/tampered:v1`, () => {}, fast),
    corrupt(new RegExp(`${img.layers[0]!.digest}.*does not match`)),
  );
  await assertNothingKept(store);
  assert.deepEqual(await fs.readdir(downloadsDir(store)), [], "the bad download is not kept");
});

test("a tampered config blob is refused", async (t) => {
  const store = await newStore(t);
  const b = new LayoutBuilder(path.join(work, "badcfg"));
  const img = await b.image([await layerTar([{ path: "a", content: "x" }])]);
  await b.write([named(img.manifest, "v1")]);
  await reg.serveLayout(b.dir, "badcfg");
  const cfg = reg.blobs.get(img.config.digest)!;
  reg.blobs.set(img.config.digest, Buffer.from(cfg.toString().replace("FIXTURE=1", "FIXTURE=2")));
  await assert.rejects(
    pullFromRegistry(store, `${reg.host}/badcfg:v1`, () => {}, fast),
    corrupt(/does not match/),
  );
  await assertNothingKept(store);
});

test("a corrupted layer (right digest, undecompressable) and a wrong diff_id are refused", async (t) => {
  const store = await newStore(t);
  const b = new LayoutBuilder(path.join(work, "corrupt"));
  const goodTar = await layerTar([{ path: "ok", content: "ok" }]);
  const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(300, 7)]);
  const gz = "application/vnd.oci.image.layer.v1.tar+gzip";
  const mk = async (layer: Buffer, diffId: string, tag: string) => {
    const l = await b.blob(layer, gz);
    const config = await b.blob(
      JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [diffId] } }),
      "application/vnd.oci.image.config.v1+json",
    );
    const mt = "application/vnd.oci.image.manifest.v1+json";
    const m = await b.blob(JSON.stringify({ schemaVersion: 2, mediaType: mt, config, layers: [l] }), mt);
    return named(m, tag);
  };
  const { gzipSync } = await import("node:zlib");
  await b.write([
    await mk(garbage, sha256(goodTar), "garbage"),
    await mk(gzipSync(goodTar), sha256("something else"), "diffid"),
  ]);
  await reg.serveLayout(b.dir, "corrupt");
  await assert.rejects(
    pullFromRegistry(store, `${reg.host}/corrupt:garbage`, () => {}, fast),
    corrupt(/decompress|truncated/),
  );
  await assert.rejects(
    pullFromRegistry(store, `${reg.host}/corrupt:diffid`, () => {}, fast),
    corrupt(/image config says/),
  );
  await assertNothingKept(store);
  assert.deepEqual(await fs.readdir(downloadsDir(store)), [], "refused blobs are not kept");
});

test("an interrupted download resumes with a Range request on the next pull", async (t) => {
  const store = await newStore(t);
  const layer = fx.layers[0]!;
  const cutAt = Math.floor(layer.size / 2);
  reg.cutOnce.set(layer.digest, cutAt);
  reg.blobRequests.length = 0;
  // No retries: the first pull fails and keeps the partial download.
  await assert.rejects(
    pullFromRegistry(store, `${reg.host}/two`, () => {}, { ...fast, retries: 0 }),
    (e) => isWarrenError(e, "REGISTRY_UNAVAILABLE") && /run the pull again to resume/.test(e.message),
  );
  const partial = path.join(downloadsDir(store), `${layer.digest.slice(7)}.partial`);
  assert.equal((await fs.stat(partial)).size, cutAt);
  assert.deepEqual(await store.list(), []);

  reg.blobRequests.length = 0;
  const info = await pullFromRegistry(store, `${reg.host}/two`, () => {}, fast);
  assert.deepEqual(info.layers, fx.diffIds);
  const req = reg.blobRequests.find((r) => r.digest === layer.digest);
  assert.equal(req?.range, `bytes=${cutAt}-`);
  assert.deepEqual(await fs.readdir(downloadsDir(store)), []);
});

test("a cut within one pull is retried from where it broke", async (t) => {
  const store = await newStore(t);
  const layer = fx.layers[1]!;
  reg.cutOnce.set(layer.digest, 10);
  reg.blobRequests.length = 0;
  const info = await pullFromRegistry(store, `${reg.host}/two`, () => {}, fast);
  assert.deepEqual(info.layers, fx.diffIds);
  const ranges = reg.blobRequests.filter((r) => r.digest === layer.digest).map((r) => r.range);
  assert.deepEqual(ranges, [undefined, "bytes=10-"]);
});

test("a completely downloaded blob is not fetched again", async (t) => {
  const store = await newStore(t);
  // As if an earlier pull downloaded every blob and then stopped before unpacking.
  await fs.mkdir(downloadsDir(store), { recursive: true });
  for (const l of fx.layers) {
    await fs.writeFile(path.join(downloadsDir(store), l.digest.slice(7)), reg.blobs.get(l.digest)!);
  }
  reg.blobRequests.length = 0;
  await pullFromRegistry(store, `${reg.host}/two`, () => {}, fast);
  const layerHits = reg.blobRequests.filter((r) => fx.layers.some((l) => l.digest === r.digest));
  assert.deepEqual(layerHits, []);
});

test("a blob redirect to a refused address is refused", async (t) => {
  const store = await newStore(t);
  const b = new LayoutBuilder(path.join(work, "redirect"));
  const img = await b.image([await layerTar([{ path: "r", content: "r" }])]);
  await b.write([named(img.manifest, "v1")]);
  await reg.serveLayout(b.dir, "redirect");
  reg.redirects.set(img.layers[0]!.digest, `http://169.254.169.254/latest/meta-data/`);
  t.after(() => reg.redirects.delete(img.layers[0]!.digest));
  await assert.rejects(
    pullFromRegistry(store, `${reg.host}/redirect:v1`, () => {}, fast),
    (e) => isWarrenError(e, "REGISTRY_REFUSED") && /169\.254\.169\.254.*metadata/.test(e.message),
  );
  await assertNothingKept(store);
});
