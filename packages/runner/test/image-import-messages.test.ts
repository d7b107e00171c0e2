// `image import` of something that is not an image says what an image layout or archive is, and
// names only the path the user gave, never the store's scratch directory.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { importOciImage } from "../src/storage/image-import.ts";
import { ImageStore } from "../src/storage/image-store.ts";

test("a file, an archive of other files and a plain directory are each refused, explained", async (t) => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "warren-import-msg-"));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  const storeRoot = path.join(root, "store");
  const store = new ImageStore({ root: storeRoot });
  const notes = path.join(root, "notes.txt");
  await fs.writeFile(notes, "not an image\n");
  const plainDir = path.join(root, "project");
  await fs.mkdir(plainDir);
  await fs.writeFile(path.join(plainDir, "README"), "hello\n");
  const tarball = path.join(root, "project.tar");
  execFileSync("tar", ["-cf", tarball, "-C", plainDir, "."]);

  for (const [src, why] of [
    [notes, /notes\.txt is not an image: it is neither a directory nor a tar archive/],
    [tarball, /project\.tar is not an image: it has no oci-layout file/],
    [plainDir, /project is not an image: it has no oci-layout file/],
    [path.join(root, "missing.tar"), /missing\.tar does not exist/],
  ] as const) {
    await assert.rejects(
      importOciImage(store, src, "x:1", () => {}),
      (err) => {
        assert.ok(isWarrenError(err, "INVALID_ARGUMENT"), String(err));
        assert.match(err.message, why);
        assert.ok(err.message.startsWith(src), err.message);
        assert.match(
          err.message,
          /OCI image layout, a directory holding an oci-layout file, index\.json and blobs\/sha256\//,
        );
        assert.match(err.message, /tar archive of such a directory/);
        assert.ok(!err.message.includes(storeRoot), `names the store's scratch dir: ${err.message}`);
        assert.ok(!JSON.stringify(err.details ?? {}).includes(storeRoot), "nor in its details");
        return true;
      },
    );
  }
});
