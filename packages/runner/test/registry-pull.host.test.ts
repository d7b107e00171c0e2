// Pulls from a real registry (Debian's docker-registry on 127.0.0.1, images pushed with skopeo)
// into an image store, as root (unpacking keeps ownership). The registry, its storage and every
// temp dir are removed by after() hooks, even when a test fails.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { isWarrenError, type ProgressEvent } from "@warren/protocol";
import { type FixtureCompression, multiArchLayout, twoLayerLayout } from "@warren/testing/oci-layout";
import { pushLayout, startRegistry, type TestRegistry } from "@warren/testing/registry";
import { ImageStore } from "../src/storage/image-store.ts";
import { parseAllowList } from "../src/storage/registry/address-guard.ts";
import type { HttpPolicy } from "../src/storage/registry/http.ts";
import { downloadsDir, pullFromRegistry } from "../src/storage/registry/pull.ts";

const policy = (allow = "127.0.0.1"): HttpPolicy => ({
  allow: parseAllowList(allow),
  insecure: new Set(),
  timeoutMs: 10_000,
});

let reg: TestRegistry;
let work: string;
const layouts: Record<string, Awaited<ReturnType<typeof twoLayerLayout>>> = {};
let multi: Awaited<ReturnType<typeof multiArchLayout>>;

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), "warren-pull-"));
  reg = await startRegistry();
  for (const c of ["gzip", "zstd", "none"] as FixtureCompression[]) {
    layouts[c] = await twoLayerLayout(path.join(work, `layout-${c}`), c);
    await pushLayout(reg, layouts[c].builder.dir, "test/two:1", `two-${c}:1`);
  }
  multi = await multiArchLayout(path.join(work, "layout-multi"));
  await pushLayout(reg, multi.builder.dir, "test/multi:latest", "multi", { all: true });
});

after(async () => {
  await reg?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

async function newStore(t: { after: (fn: () => Promise<void>) => void }): Promise<ImageStore> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "warren-pull-store-"));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  return new ImageStore({ root });
}

for (const c of ["gzip", "zstd", "none"] as FixtureCompression[]) {
  test(`pulls a two-layer ${c} image: listed, layer dirs with the right files`, async (t) => {
    const store = await newStore(t);
    const fx = layouts[c]!;
    const events: ProgressEvent[] = [];
    const info = await pullFromRegistry(store, `${reg.host}/two-${c}:1`, (e) => events.push(e), {
      policy: policy(),
    });
    assert.equal(info.ref, `${reg.host}/two-${c}:1`);
    assert.equal(info.digest, fx.manifest.digest);
    assert.deepEqual(info.layers, fx.diffIds);
    assert.deepEqual(
      (await store.list()).map((i) => i.ref),
      [info.ref],
    );
    const img = await store.get(info.ref);
    const [lower, upper] = img.layerDirs as [string, string];
    assert.equal(await fs.readFile(path.join(lower, "etc/hello"), "utf8"), "hello\n");
    const notes = await fs.stat(path.join(lower, "home/dev/notes.txt"));
    assert.deepEqual([notes.uid, notes.gid, notes.mode & 0o777], [1000, 1000, 0o640]);
    assert.equal(await fs.readFile(path.join(upper, "data/new"), "utf8"), "new");
    assert.equal((await fs.stat(path.join(upper, "gone.txt"))).isCharacterDevice(), true, "whiteout");
    assert.deepEqual(img.config.cmd, ["/bin/sh"]);

    const layerEvents = events.filter((e) => e.phase === "layer");
    const sizes = fx.layers.map((l) => l.size);
    for (const [i, size] of sizes.entries()) {
      const mine = layerEvents.filter((e) => e.message.startsWith(`layer ${i + 1}/2`));
      assert.ok(mine.some((e) => e.message.endsWith("downloading") && e.total === size));
      assert.ok(mine.some((e) => e.message.endsWith("unpacked") && e.current === size));
    }
    assert.deepEqual(await fs.readdir(downloadsDir(store)), [], "blobs are removed once unpacked");

    // Again: every layer is already there, nothing is downloaded.
    const again: ProgressEvent[] = [];
    await pullFromRegistry(store, `${reg.host}/two-${c}:1`, (e) => again.push(e), { policy: policy() });
    const msgs = again.filter((e) => e.phase === "layer").map((e) => e.message);
    assert.equal(msgs.length, 2);
    assert.ok(
      msgs.every((m) => m.endsWith("already present")),
      msgs.join("; "),
    );
  });
}

test("resolves a multi-arch index to linux/amd64", async (t) => {
  const store = await newStore(t);
  const info = await pullFromRegistry(store, `${reg.host}/multi`, () => {}, { policy: policy() });
  assert.equal(info.ref, `${reg.host}/multi:latest`);
  assert.equal(info.digest, multi.amd.manifest.digest);
  const img = await store.get(info.ref);
  assert.equal(await fs.readFile(path.join(img.layerDirs[0]!, "arch"), "utf8"), "amd64");
});

test("pulls by digest, and refuses a digest the registry does not have", async (t) => {
  const store = await newStore(t);
  const digest = layouts["gzip"]!.manifest.digest;
  const info = await pullFromRegistry(store, `${reg.host}/two-gzip@${digest}`, () => {}, {
    policy: policy(),
  });
  assert.equal(info.ref, `${reg.host}/two-gzip@${digest}`);
  assert.equal(info.digest, digest);
  await assert.rejects(
    pullFromRegistry(store, `${reg.host}/two-gzip@sha256:${"0".repeat(64)}`, () => {}, { policy: policy() }),
    (e) => isWarrenError(e, "IMAGE_NOT_FOUND"),
  );
});

test("refuses registry hosts resolving to internal addresses not on the allow-list", async (t) => {
  const store = await newStore(t);
  const refused = (e: unknown) =>
    isWarrenError(e, "REGISTRY_REFUSED") &&
    /WARREN_REGISTRY_ALLOW=/.test(e.message) &&
    /allow-list/.test(e.message);
  // 127.0.0.2 is loopback too, but only 127.0.0.1 is allowed.
  await assert.rejects(
    pullFromRegistry(store, `127.0.0.2:${reg.port}/two-gzip:1`, () => {}, { policy: policy() }),
    refused,
  );
  // A name resolving to loopback, with nothing allowed.
  await assert.rejects(
    pullFromRegistry(store, `localhost:${reg.port}/two-gzip:1`, () => {}, { policy: policy("") }),
    refused,
  );
  // The metadata address, even with the rest of link-local... not allowed.
  await assert.rejects(
    pullFromRegistry(store, "169.254.169.254/x:1", () => {}, { policy: policy("127.0.0.1") }),
    refused,
  );
  // Allowing the name (with its port) lets it through.
  const ok = await pullFromRegistry(store, `localhost:${reg.port}/two-gzip:1`, () => {}, {
    policy: policy(`localhost:${reg.port}`),
  });
  assert.equal(ok.ref, `localhost:${reg.port}/two-gzip:1`);
  assert.deepEqual(
    (await store.list()).map((i) => i.ref),
    [ok.ref],
  );
});
