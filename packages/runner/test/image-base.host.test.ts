// Really builds the default image with mmdebstrap (about 20-40 s, needs the Debian mirror).
// With WARREN_TEST_BASE_CACHE set, an image already built there is reused and kept.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { DEFAULT_IMAGE, type ProgressEvent } from "@warren/protocol";
import { buildBaseImageCached } from "@warren/testing/oci-layout";
import { ImageStore } from "../src/storage/image-store.ts";

test("the default image is built once, holds the tools and all three apt suites", {
  timeout: 15 * 60_000,
}, async (t) => {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "warren-base-"));
  t.after(() => fs.rm(tmp, { recursive: true, force: true }));
  const cacheDir = process.env["WARREN_TEST_BASE_CACHE"] ?? path.join(tmp, "cache");
  const events: ProgressEvent[] = [];
  const cacheStore = new ImageStore({ root: cacheDir });
  const cached = await cacheStore.has(DEFAULT_IMAGE);

  const img = await buildBaseImageCached(path.join(tmp, "a"), { cacheDir, progress: (e) => events.push(e) });
  if (!cached) {
    assert.ok(events.filter((e) => e.phase === "base").length > 5, "mmdebstrap output arrives as progress");
    assert.ok(
      events.some((e) => /^I: /.test(e.message)),
      "mmdebstrap's own lines are passed through",
    );
  }
  assert.equal(img.ref, DEFAULT_IMAGE);
  assert.equal(img.layerDirs.length, 1);
  assert.deepEqual(img.config.cmd, ["/bin/bash"]);
  assert.ok(img.config.env.includes("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));

  const layer = img.layerDirs[0]!;
  for (const bin of [
    "usr/bin/git",
    "usr/bin/sudo",
    "usr/bin/bash",
    "usr/bin/curl",
    "usr/bin/ps",
    // For the SSH gateway: scp/sftp, rsync and `ssh -A` with git inside.
    "usr/lib/openssh/sftp-server",
    "usr/bin/rsync",
    "usr/bin/ssh-add",
  ]) {
    const st = await fs.stat(path.join(layer, bin));
    assert.ok(st.isFile() && (st.mode & 0o111) !== 0, `${bin} is an executable`);
  }
  const sudo = await fs.stat(path.join(layer, "usr/bin/sudo"));
  assert.ok((sudo.mode & 0o4000) !== 0 && sudo.uid === 0, "sudo keeps its setuid bit and root owner");

  let sources = await fs.readFile(path.join(layer, "etc/apt/sources.list"), "utf8").catch(() => "");
  const dDir = path.join(layer, "etc/apt/sources.list.d");
  for (const f of await fs.readdir(dDir).catch(() => [] as string[]))
    sources += await fs.readFile(path.join(dDir, f), "utf8");
  for (const suite of ["bookworm", "bookworm-updates", "bookworm-security"]) {
    assert.match(sources, new RegExp(`^deb \\S+ ${suite} main$`, "m"), `apt sources have ${suite}`);
  }

  // A second test root gets the same layer without a rebuild, and a second ensureBase is instant.
  const started = Date.now();
  const again = await buildBaseImageCached(path.join(tmp, "b"), { cacheDir });
  assert.equal(await fs.realpath(again.layerDirs[0]!), await fs.realpath(layer));
  const info = await cacheStore.ensureBase({}, () => assert.fail("no build expected"));
  assert.equal(info.digest, img.digest);
  assert.ok(Date.now() - started < 2000, "cached base image is reused at once");
  assert.deepEqual(await fs.readdir(cacheStore.tmpDir), []);
});
