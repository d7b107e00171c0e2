// Imports real OCI layouts as root: ownership, devices and trusted.* xattrs need it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { isWarrenError, type ProgressEvent } from "@warren/protocol";
import {
  compress,
  type FixtureCompression,
  LayoutBuilder,
  layerTar,
  multiArchLayout,
  named,
  sha256,
  tarLayout,
  twoLayerLayout,
} from "@warren/testing/oci-layout";
import { ImageStore } from "../src/storage/image-store.ts";

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "warren-import-"));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  return { root, store: new ImageStore({ root: path.join(root, "store") }) };
}

const corruptErr = (digest: string) => (e: unknown) =>
  isWarrenError(e, "IMAGE_CORRUPT") && e.message.includes(digest);

/** Nothing half-made may remain after a refused import. */
async function assertEmptyStore(store: ImageStore): Promise<void> {
  for (const dir of [store.layersDir, store.refsDir, store.tmpDir]) {
    assert.deepEqual(await fs.readdir(dir).catch(() => []), [], dir);
  }
}

for (const compression of ["gzip", "zstd", "none"] as FixtureCompression[]) {
  test(`imports a two-layer ${compression} image with ownership and whiteouts converted`, async (t) => {
    const { root, store } = await setup(t);
    const fx = await twoLayerLayout(path.join(root, "layout"), compression);
    const events: ProgressEvent[] = [];
    const info = await store.importOci(fx.builder.dir, undefined, (e) => events.push(e));

    assert.equal(info.ref, "test/two:1");
    assert.equal(info.digest, fx.manifest.digest);
    assert.deepEqual(info.layers, fx.diffIds);
    const img = await store.verify("test/two:1");
    const [lower, upper] = img.layerDirs as [string, string];
    assert.deepEqual(img.config, {
      env: ["PATH=/usr/bin:/bin", "FIXTURE=1"],
      cmd: ["/bin/sh"],
      workingDir: "/work",
      user: "",
    });

    assert.equal(await fs.readFile(path.join(lower, "etc/hello"), "utf8"), "hello\n");
    const notes = await fs.stat(path.join(lower, "home/dev/notes.txt"));
    assert.deepEqual([notes.uid, notes.gid, notes.mode & 0o777], [1000, 1000, 0o640]);
    assert.equal(await fs.readlink(path.join(lower, "bin-link")), "/usr/bin");
    assert.equal(await fs.readFile(path.join(lower, "gone.txt"), "utf8"), "bye");

    const wh = await fs.lstat(path.join(upper, "gone.txt"));
    assert.ok(wh.isCharacterDevice(), "whiteout is a character device");
    assert.deepEqual([wh.rdev, wh.uid, wh.gid], [0, 0, 0]);
    await assert.rejects(fs.lstat(path.join(upper, ".wh.gone.txt")), { code: "ENOENT" });
    await assert.rejects(fs.lstat(path.join(upper, "data/.wh..wh..opq")), { code: "ENOENT" });
    const opaque = execFileSync("getfattr", [
      "--absolute-names",
      "--only-values",
      "-n",
      "trusted.overlay.opaque",
      path.join(upper, "data"),
    ]);
    assert.equal(opaque.toString(), "y");
    assert.deepEqual(await fs.readdir(path.join(upper, "data")), ["new"]);

    const layerEvents = events.filter((e) => e.phase === "layer");
    assert.ok(layerEvents.some((e) => e.total === fx.layers[0]!.size && e.current === e.total));
    assert.deepEqual(await fs.readdir(store.tmpDir), []);
  });
}

test("the overlay of the imported layers shows the deletions and the opaque dir", async (t) => {
  const { root, store } = await setup(t);
  const fx = await twoLayerLayout(path.join(root, "layout"));
  await store.importOci(fx.builder.dir, "mine/two:2", () => {});
  const img = await store.get("mine/two:2");
  const merged = path.join(root, "merged");
  const work = path.join(root, "work");
  const up = path.join(root, "up");
  for (const d of [merged, work, up]) await fs.mkdir(d);
  const lowers = [...img.layerDirs].reverse().join(":");
  execFileSync("mount", [
    "-t",
    "overlay",
    "overlay",
    "-o",
    `lowerdir=${lowers},upperdir=${up},workdir=${work}`,
    merged,
  ]);
  try {
    assert.deepEqual((await fs.readdir(merged)).sort(), ["bin-link", "data", "etc", "home"]);
    assert.deepEqual(await fs.readdir(path.join(merged, "data")), ["new"]);
  } finally {
    // Here, not in t.after: it must run before the temp root is removed.
    execFileSync("umount", [merged]);
  }
});

test("a tarball of a layout with a multi-arch index imports the host's platform", async (t) => {
  const { root, store } = await setup(t);
  const fx = await multiArchLayout(path.join(root, "multi"));
  const tarball = await tarLayout(fx.builder.dir, path.join(root, "multi.tar.gz"));
  const info = await store.importOci(tarball, undefined, () => {});
  assert.equal(info.ref, "test/multi:latest");
  assert.equal(info.digest, fx.amd.manifest.digest);
  const img = await store.get(info.ref);
  assert.equal(await fs.readFile(path.join(img.layerDirs[0]!, "arch"), "utf8"), "amd64");
  assert.deepEqual(await fs.readdir(store.tmpDir), []);
});

test("re-importing is a no-op: layers are shared and unpacked once", async (t) => {
  const { root, store } = await setup(t);
  const fx = await twoLayerLayout(path.join(root, "layout"));
  await store.importOci(fx.builder.dir, undefined, () => {});
  const dirs = (await store.get("test/two:1")).layerDirs;
  const inodes = await Promise.all(dirs.map(async (d) => (await fs.stat(d)).ino));
  await fs.writeFile(path.join(dirs[0]!, "marker"), "still the same dir");

  const events: ProgressEvent[] = [];
  const again = await store.importOci(fx.builder.dir, "other/name:1", (e) => events.push(e));
  assert.deepEqual(again.layers, fx.diffIds);
  assert.deepEqual((await store.get("other/name:1")).layerDirs, dirs);
  assert.deepEqual(await Promise.all(dirs.map(async (d) => (await fs.stat(d)).ino)), inodes);
  assert.equal(await fs.readFile(path.join(dirs[0]!, "marker"), "utf8"), "still the same dir");
  assert.equal(events.filter((e) => /already present/.test(e.message)).length, 2);
  assert.ok(again.sizeBytes > 0);
  assert.equal((await fs.readdir(store.layersDir)).filter((n) => !n.endsWith(".json")).length, 2);
});

test("a corrupted layer blob is refused and leaves no layer or ref", async (t) => {
  const { root, store } = await setup(t);
  const fx = await twoLayerLayout(path.join(root, "layout"), "none");
  // Same length, different content: only the digest check can catch it.
  const blob = fx.builder.blobPath(fx.layers[1]!);
  const data = await fs.readFile(blob);
  data[600] = data[600]! ^ 0xff;
  await fs.writeFile(blob, data);
  await assert.rejects(
    store.importOci(fx.builder.dir, undefined, () => {}),
    corruptErr(fx.layers[1]!.digest),
  );
  // The first layer was fine and got unpacked, but a refused image leaves nothing behind.
  await assertEmptyStore(store);
});

test("a blob with the wrong size, a damaged manifest or a wrong diff_id is IMAGE_CORRUPT", async (t) => {
  const { root, store } = await setup(t);
  const fx = await twoLayerLayout(path.join(root, "a"));
  await fs.appendFile(fx.builder.blobPath(fx.layers[0]!), "x");
  await assert.rejects(
    store.importOci(fx.builder.dir, undefined, () => {}),
    corruptErr(fx.layers[0]!.digest),
  );
  await assertEmptyStore(store);

  const fx2 = await twoLayerLayout(path.join(root, "b"));
  await fs.writeFile(
    fx2.builder.blobPath(fx2.manifest),
    (await fs.readFile(fx2.builder.blobPath(fx2.manifest), "utf8")).replace("gzip", "gzip "),
  );
  await assert.rejects(
    store.importOci(fx2.builder.dir, undefined, () => {}),
    corruptErr(fx2.manifest.digest),
  );
  await assertEmptyStore(store);

  // A config whose diff_id does not match what the layer decompresses to.
  const b = new LayoutBuilder(path.join(root, "c"));
  const tar = await layerTar([{ path: "f", content: "x" }]);
  const img = await b.image([tar]);
  const cfgText = (await fs.readFile(b.blobPath(img.config), "utf8")).replace(
    img.diffIds[0]!,
    `sha256:${"0".repeat(64)}`,
  );
  const cfg = await b.blob(cfgText, "application/vnd.oci.image.config.v1+json");
  const manifest = await b.blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: cfg,
      layers: img.layers,
    }),
    "application/vnd.oci.image.manifest.v1+json",
  );
  await b.write([named(manifest, "bad/diffid:1")]);
  await assert.rejects(
    store.importOci(b.dir, undefined, () => {}),
    corruptErr(`sha256:${"0".repeat(64)}`),
  );
  await assertEmptyStore(store);
});

test("path traversal and symlink escapes are refused before anything is written", async (t) => {
  const { root, store } = await setup(t);
  const outside = path.join(root, "evil");
  const cases: [string, Buffer][] = [
    [
      "dotdot",
      await layerTar([{ path: "evil", content: "pwned" }], ["-P", "--transform=s,^evil,../../../evil,"]),
    ],
    [
      "symlink",
      await layerTar(
        [
          { path: "link", symlink: root },
          { path: "f", content: "pwned" },
        ],
        ["-P", "--transform=s,^f$,link/evil,"],
      ),
    ],
  ];
  for (const [name, tar] of cases) {
    const b = new LayoutBuilder(path.join(root, name));
    const img = await b.image([tar]);
    await b.write([named(img.manifest, `evil/${name}:1`)]);
    await assert.rejects(
      store.importOci(b.dir, undefined, () => {}),
      (e: unknown) => isWarrenError(e, "IMAGE_CORRUPT"),
      name,
    );
    await assert.rejects(fs.lstat(outside), { code: "ENOENT" }, name);
    await assertEmptyStore(store);
  }
});

test("a path that is not a layout is a user error", async (t) => {
  const { root, store } = await setup(t);
  await assert.rejects(
    store.importOci(path.join(root, "nope"), undefined, () => {}),
    (e: unknown) => isWarrenError(e, "INVALID_ARGUMENT"),
  );
  await fs.writeFile(path.join(root, "junk.tar"), "not a tar at all");
  await assert.rejects(
    store.importOci(path.join(root, "junk.tar"), undefined, () => {}),
    (e: unknown) => isWarrenError(e, "INVALID_ARGUMENT"),
  );
  await assertEmptyStore(store);
});

test("docker media types import; without a ref name the ref is imported/<short digest>", async (t) => {
  const { root, store } = await setup(t);
  const b = new LayoutBuilder(path.join(root, "docker"));
  const tar = await layerTar([{ path: "hello", content: "docker" }]);
  const layer = await b.blob(compress(tar, "gzip"), "application/vnd.docker.image.rootfs.diff.tar.gzip");
  const config = await b.blob(
    JSON.stringify({
      config: { Entrypoint: ["/ep"], Cmd: ["arg"] },
      rootfs: { type: "layers", diff_ids: [sha256(tar)] },
    }),
    "application/vnd.docker.container.image.v1+json",
  );
  const type = "application/vnd.docker.distribution.manifest.v2+json";
  const manifest = await b.blob(
    JSON.stringify({ schemaVersion: 2, mediaType: type, config, layers: [layer] }),
    type,
  );
  await b.write([manifest]);
  const info = await store.importOci(b.dir, undefined, () => {});
  assert.equal(info.ref, `imported/${manifest.digest.slice(7, 19)}`);
  const img = await store.get(info.ref);
  assert.deepEqual(img.config.cmd, ["/ep", "arg"]);
  assert.equal(await fs.readFile(path.join(img.layerDirs[0]!, "hello"), "utf8"), "docker");
});
