// The image cache policy: `image rm` refuses images in use, `image prune` removes only
// unreferenced layers, and eviction past the cap goes least recently used first (injected clock).
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { isWarrenError, type RunnerEnvSpec } from "@warren/protocol";
import { writeHandle } from "../src/state/handle.ts";
import {
  evictImages,
  mountedLayers,
  planEviction,
  pruneImages,
  removeImage,
} from "../src/storage/image-cache.ts";
import { ImageStore, type ImageStoreOptions } from "../src/storage/image-store.ts";

const layer = (c: string) => `sha256:${c.repeat(64)}`;
const MiB = 1024 * 1024;

async function makeStore(
  t: { after: (fn: () => Promise<void>) => void },
  opts: Partial<ImageStoreOptions> = {},
) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "warren-imgcache-"));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  let clock = Date.parse("2025-01-01T00:00:00Z");
  const store = new ImageStore({ root, now: () => new Date(clock), ...opts });
  await store.init();
  return {
    root,
    store,
    tick: (ms: number) => {
      clock += ms;
    },
  };
}

/** An image whose layers are real (empty) dirs in the store, each `sizeMiB` big by metadata. */
async function addImage(store: ImageStore, ref: string, layers: string[], sizeMiB = 1): Promise<void> {
  for (const l of layers) {
    if (await store.hasLayer(l)) continue;
    const tmp = await store.tmpPath("layer");
    await fs.mkdir(tmp);
    await store.commitLayer(tmp, l, sizeMiB * MiB);
  }
  await store.writeRecord({
    ref,
    digest: layers[0]!,
    layers,
    config: { env: [], cmd: [], workingDir: "/", user: "" },
    sizeBytes: layers.length * sizeMiB * MiB,
    createdAt: store.now().toISOString(),
  });
}

async function addEnv(root: string, id: string, name: string, image: string): Promise<void> {
  const spec = { id, name, image } as RunnerEnvSpec;
  await writeHandle(path.join(root, "envs", id, "handle.json"), {
    version: 1,
    spec,
    createdAt: "",
    hostStart: 0,
  });
}

test("image rm refuses an image an environment uses and names the environments", async (t) => {
  const { root, store } = await makeStore(t);
  await addImage(store, "used:1", [layer("1")]);
  await addImage(store, "free:1", [layer("2")]);
  await addEnv(root, "e1", "alpha", "used:1");
  await addEnv(root, "e2", "beta", "used:1");
  await assert.rejects(
    removeImage(store, "used:1"),
    (e: unknown) => isWarrenError(e, "IMAGE_IN_USE") && /alpha, beta/.test(e.message),
  );
  assert.ok(await store.hasLayer(layer("1")));
  assert.deepEqual(await removeImage(store, "free:1"), [layer("2")]);
  await assert.rejects(removeImage(store, "free:1"), (e: unknown) => isWarrenError(e, "IMAGE_NOT_FOUND"));
});

test("prune removes unreferenced layers and never one an image names", async (t) => {
  const { store } = await makeStore(t);
  await addImage(store, "keep:1", [layer("1"), layer("2")]);
  for (const orphan of [layer("8"), layer("9")]) {
    const tmp = await store.tmpPath("layer");
    await fs.mkdir(tmp);
    await store.commitLayer(tmp, orphan, 3 * MiB);
  }
  const res = await pruneImages(store);
  assert.deepEqual(res.removed.sort(), [layer("8"), layer("9")]);
  assert.equal(res.freedBytes, 6 * MiB);
  assert.ok(await store.hasLayer(layer("1")));
  assert.ok(await store.hasLayer(layer("2")));
  assert.deepEqual(await pruneImages(store), { removed: [], freedBytes: 0 });
});

test("prune past the cap never evicts an image the control plane asks to keep", async (t) => {
  const { store, tick } = await makeStore(t, { cacheMaxBytes: 1 * MiB });
  await addImage(store, "other-org:1", [layer("1")]);
  tick(1000);
  await addImage(store, "mine:1", [layer("2")]);
  // Over the cap by one image: LRU alone would take other-org:1 (the older); keep spares it.
  const res = await pruneImages(store, ["other-org:1"]);
  assert.deepEqual(res.removed, ["mine:1"]);
  assert.equal(await store.hasLayer(layer("2")), false);
  assert.deepEqual(
    (await store.list()).map((i) => i.ref),
    ["other-org:1"],
  );
});

test("a mounted layer counts as in use (environments of another root sharing the store)", () => {
  const hex = "c".repeat(64);
  const text =
    `36 35 98:0 /var/lib/warren/images/layers/sha256/${hex} /var/lib/warren/envs/x/lower/0 rw - ext4 /dev/sda1 rw\n` +
    "37 35 98:0 /home /home rw - ext4 /dev/sda1 rw\n";
  assert.deepEqual([...mountedLayers(text)], [hex]);
});

test("eviction removes unused images least recently used first, down to the cap", async (t) => {
  const { root, store, tick } = await makeStore(t, { cacheMaxBytes: 3 * MiB });
  // a, b, c, d created in order; then b and a are used (a most recently); d is used by an env.
  for (const [ref, c] of [
    ["a", "1"],
    ["b", "2"],
    ["c", "3"],
    ["d", "4"],
  ] as const) {
    await addImage(store, ref, [layer(c), layer("0")]);
    tick(1000);
  }
  await store.touch("b");
  tick(1000);
  await store.touch("a");
  await addEnv(root, "e1", "dev", "d");
  // 5 layers of 1 MiB (one shared) against a 3 MiB cap: two images must go, c (never used) then b.
  assert.deepEqual(await evictImages(store), ["c", "b"]);
  assert.deepEqual((await store.list()).map((i) => i.ref).sort(), ["a", "d"]);
  assert.ok(await store.hasLayer(layer("0")), "the shared layer stays");
  assert.equal((await store.info("a")).lastUsedAt, "2025-01-01T00:00:05.000Z");
  assert.deepEqual(await evictImages(store), [], "under the cap now");
});

test("planEviction: shared layers free nothing until their last image goes; keep is kept", () => {
  const sizes = new Map([
    [layer("0"), 10],
    [layer("1"), 1],
    [layer("2"), 1],
  ]);
  const images = [
    { ref: "old", layers: [layer("0"), layer("1")], createdAt: "2025-01-01T00:00:00Z" },
    { ref: "new", layers: [layer("0"), layer("2")], createdAt: "2025-01-02T00:00:00Z" },
    {
      ref: "pulled",
      layers: [layer("0")],
      createdAt: "2025-01-01T00:00:00Z",
      lastUsedAt: "2024-01-01T00:00:00Z",
    },
  ];
  const keep = new Set(["pulled"]);
  assert.deepEqual(planEviction({ images, layerSizes: sizes, keep, capBytes: 11 }), ["old"]);
  assert.deepEqual(planEviction({ images, layerSizes: sizes, keep, capBytes: 5 }), ["old", "new"]);
  assert.deepEqual(planEviction({ images, layerSizes: sizes, keep, capBytes: 12 }), []);
});
