import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { DEFAULT_IMAGE, isWarrenError } from "@warren/protocol";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import { pickManifest, readLayoutIndex } from "../src/storage/image-oci-layout.ts";
import { ImageStore, validateRef } from "../src/storage/image-store.ts";

async function tempRoot(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "warren-imgstore-"));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  return root;
}

const HEX = "a".repeat(64);

test("refs are validated before they name files", () => {
  assert.equal(validateRef("myorg/tools:1.0"), "myorg/tools:1.0");
  for (const bad of ["", "../x", "a/../b", "-x", "a b", "x".repeat(300)]) {
    assert.throws(
      () => validateRef(bad),
      (e: unknown) => isWarrenError(e, "INVALID_ARGUMENT"),
      bad,
    );
  }
});

test("a missing image says how to get it", async (t) => {
  const store = new ImageStore({ root: await tempRoot(t) });
  await assert.rejects(
    store.get("x/y:1"),
    (e: unknown) => isWarrenError(e, "IMAGE_NOT_FOUND") && /warren image import/.test(e.message),
  );
  await assert.rejects(
    store.get(DEFAULT_IMAGE),
    (e: unknown) => isWarrenError(e, "IMAGE_NOT_FOUND") && /warren up/.test(e.message),
  );
  assert.equal(await store.has("x/y:1"), false);
  assert.deepEqual(await store.list(), []);
});

test("records round-trip; a missing layer dir or a damaged record is IMAGE_CORRUPT", async (t) => {
  const store = new ImageStore({ root: await tempRoot(t) });
  const rec = {
    ref: "a/b:1",
    digest: `sha256:${"b".repeat(64)}`,
    layers: [`sha256:${HEX}`],
    config: { env: [], cmd: ["/bin/sh"], workingDir: "/", user: "" },
    sizeBytes: 10,
    createdAt: new Date().toISOString(),
  };
  await store.writeRecord(rec);
  assert.equal(await store.has("a/b:1"), true);
  const img = await store.get("a/b:1");
  assert.deepEqual(img.layerDirs, [path.join(store.layersDir, HEX)]);
  assert.deepEqual(img.config.cmd, ["/bin/sh"]);
  assert.equal((await store.list())[0]?.ref, "a/b:1");
  await assert.rejects(
    store.verify("a/b:1"),
    (e: unknown) => isWarrenError(e, "IMAGE_CORRUPT") && /missing/.test(e.message),
  );
  await fs.mkdir(path.join(store.layersDir, HEX));
  assert.deepEqual((await store.verify("a/b:1")).layerDirs, img.layerDirs);

  await fs.writeFile(store.refFile("a/b:1"), "{not json");
  await assert.rejects(store.get("a/b:1"), (e: unknown) => isWarrenError(e, "IMAGE_CORRUPT"));
  assert.deepEqual(await store.list(), []);
});

test("remove() deletes the ref and only layers no other ref uses", async (t) => {
  const store = new ImageStore({ root: await tempRoot(t) });
  const shared = `sha256:${"1".repeat(64)}`;
  const own = `sha256:${"2".repeat(64)}`;
  const base = {
    digest: shared,
    config: { env: [], cmd: [], workingDir: "/", user: "" },
    sizeBytes: 0,
    createdAt: "",
  };
  await store.writeRecord({ ...base, ref: "one", layers: [shared, own] });
  await store.writeRecord({ ...base, ref: "two", layers: [shared] });
  for (const l of [shared, own]) await fs.mkdir(store.layerDir(l), { recursive: true });
  assert.deepEqual(await store.remove("one"), [own]);
  assert.equal(await store.hasLayer(shared), true);
  assert.equal(await store.hasLayer(own), false);
  assert.deepEqual(await fs.readdir(store.tmpDir), []);
});

test("cleanupStale removes leftovers of dead processes but not of live imports", async (t) => {
  const store = new ImageStore({ root: await tempRoot(t) });
  await store.init();
  const dead = spawnSync("true").pid!;
  await fs.mkdir(path.join(store.tmpDir, `${dead}.abc.layer`));
  await fs.writeFile(path.join(store.refsDir, `x.json.${dead}.ab.tmp`), "");
  const live = await store.tmpPath("layer");
  await fs.mkdir(live);
  const removed = await store.cleanupStale();
  assert.deepEqual(removed.sort(), [`${dead}.abc.layer`, `x.json.${dead}.ab.tmp`]);
  assert.deepEqual(await fs.readdir(store.tmpDir), [path.basename(live)]);
});

test("pickManifest: by ref annotation, by tag suffix, else asks which one", async (t) => {
  const dir = path.join(await tempRoot(t), "layout");
  const b = new LayoutBuilder(dir);
  const tar = Buffer.alloc(1024);
  const one = await b.image([tar], { cmd: ["one"] });
  const two = await b.image([tar], { cmd: ["two"] });
  await b.write([named(one.manifest, "one"), named(two.manifest, "two")]);
  const index = await readLayoutIndex(dir);
  assert.equal((await pickManifest(dir, index, "two")).manifestDesc.digest, two.manifest.digest);
  assert.equal((await pickManifest(dir, index, "me/img:one")).manifestDesc.digest, one.manifest.digest);
  await assert.rejects(
    pickManifest(dir, index, undefined),
    (e: unknown) => isWarrenError(e, "INVALID_ARGUMENT") && /one, two/.test(e.message),
  );
});

test("a directory without oci-layout is refused with a hint", async (t) => {
  const dir = await tempRoot(t);
  await assert.rejects(
    readLayoutIndex(dir),
    (e: unknown) => isWarrenError(e, "INVALID_ARGUMENT") && /skopeo/.test(e.message),
  );
});
