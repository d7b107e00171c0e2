// A corpus of hostile layers, each built byte by byte (fixtures/raw-tar.ts). Every one must be
// refused with a clear error, and nothing outside the store may change: a canary directory is
// snapshotted before and after, and the test root must hold exactly what it held before.
// Each layer goes through the whole import (header scanner first), and straight into the
// native extractor too, so the sandbox is proven on its own and not only behind the scanner.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import { ImageStore } from "../src/storage/image-store.ts";
import { defaultSandbox } from "../src/storage/image-unpack-sandbox.ts";
import { paxEntry, rawHeader, rawTar } from "./fixtures/raw-tar.ts";

const root = await fs.mkdtemp(path.join(os.tmpdir(), "warren-hostile-"));
const canary = path.join(root, "canary");
await fs.mkdir(canary);
await fs.writeFile(path.join(canary, "secret"), "do not touch\n", { mode: 0o600 });
await fs.mkdir(path.join(canary, "dir"));
test.after(() => fs.rm(root, { recursive: true, force: true }));

/** Path, type, owner, mode, size, mtime and content hash of everything under `dir`. */
async function snapshot(dir: string, skip: string[] = []): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await fs.readdir(dir, { recursive: true })).sort()) {
    const p = path.join(dir, name);
    if (skip.some((s) => p === s || p.startsWith(`${s}/`))) continue;
    const st = await fs.lstat(p);
    const hash = st.isFile()
      ? createHash("sha256")
          .update(await fs.readFile(p))
          .digest("hex")
      : "";
    out.push(`${name} ${st.mode} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs} ${st.nlink} ${hash}`);
  }
  return out;
}

const CAP = 1024 * 1024;
const C = canary.slice(1); // the canary's path without its leading slash, for `../` chains
const UP = "../".repeat(12);

const corpus: { name: string; tar: () => Buffer; want: RegExp; code?: string }[] = [
  { name: "`..` path", tar: () => rawTar({ name: `${UP}${C}/evil`, data: "x" }), want: /\.\./ },
  { name: "absolute path", tar: () => rawTar({ name: `${canary}/evil`, data: "x" }), want: /absolute/ },
  {
    name: "PAX path with `..` (long-name dodge)",
    tar: () => rawTar(paxEntry({ path: `a/${UP}${C}/evil` }), { name: "harmless", data: "x" }),
    want: /\.\./,
  },
  {
    name: "symlink escape, then a write through it",
    tar: () => rawTar({ name: "esc", type: "2", linkname: canary }, { name: "esc/evil", data: "pwned" }),
    want: /symlink/,
  },
  {
    name: "symlink escape via `..`, then a write through it",
    tar: () =>
      rawTar({ name: "esc", type: "2", linkname: `${UP}${C}` }, { name: "esc/secret", data: "pwned" }),
    want: /symlink/,
  },
  {
    name: "hard link to an absolute host file",
    tar: () => rawTar({ name: "shadow", type: "1", linkname: `${canary}/secret` }),
    want: /absolute|not a file of this layer/,
  },
  {
    name: "hard link to /etc/shadow",
    tar: () => rawTar({ name: "s", type: "1", linkname: "/etc/shadow" }),
    want: /./,
  },
  { name: "hard link to ../x", tar: () => rawTar({ name: "x", type: "1", linkname: "../x" }), want: /\.\./ },
  {
    name: "character device",
    tar: () => rawTar({ name: "null", type: "3", devmajor: 1, devminor: 3 }),
    want: /device/,
  },
  {
    name: "block device",
    tar: () => rawTar({ name: "sda", type: "4", devmajor: 8, devminor: 0 }),
    want: /device/,
  },
  { name: "0:0 char device in the tar", tar: () => rawTar({ name: "wh", type: "3" }), want: /device/ },
  { name: "whiteout `../.wh.x`", tar: () => rawTar({ name: `${UP}${C}/.wh.secret` }), want: /\.\./ },
  {
    name: "whiteout of an absolute path",
    tar: () => rawTar({ name: `${canary}/.wh.secret` }),
    want: /absolute/,
  },
  { name: "whiteout naming `..`", tar: () => rawTar({ name: "a/.wh..." }), want: /names no file/ },
  {
    name: "decompression bomb past the cap",
    tar: () =>
      Buffer.concat([
        rawHeader({ name: "zeros", size: 64 * CAP }),
        Buffer.alloc(64 * CAP),
        Buffer.alloc(1024),
      ]),
    want: /cap/,
    code: "IMAGE_TOO_LARGE",
  },
];

async function importLayer(tar: Buffer, dir: string, opts: { digestLie?: boolean } = {}) {
  const store = new ImageStore({ root: path.join(root, "store"), layerMaxBytes: CAP });
  const b = new LayoutBuilder(dir);
  const img = await b.image([tar], { compression: opts.digestLie ? "none" : "gzip" });
  if (opts.digestLie) {
    // One byte of file content: same size, still a valid tar, another digest.
    const p = b.blobPath(img.layers[0]!);
    const data = await fs.readFile(p);
    data[512] = data[512]! ^ 0x20;
    await fs.writeFile(p, data);
  }
  await b.write([named(img.manifest, "hostile/x:1")]);
  return { store, run: () => store.importOci(dir, undefined, () => {}) };
}

// Where the tests themselves write; the store is checked for emptiness instead.
const OWN = ["layouts", "direct", "store"].map((d) => path.join(root, d));

async function assertUntouched(before: string[], store?: ImageStore) {
  assert.deepEqual(await snapshot(root, OWN), before);
  if (store) {
    for (const d of [store.layersDir, store.refsDir, store.tmpDir])
      assert.deepEqual(await fs.readdir(d), [], d);
  }
}

const before = await snapshot(root, OWN);
const canaryBefore = await snapshot(canary);
let n = 0;
for (const c of [
  ...corpus,
  { name: "digest mismatch", tar: () => rawTar({ name: "ok", data: "fine" }), want: /does not match/ },
]) {
  test(`import refuses: ${c.name}`, async () => {
    const { store, run } = await importLayer(c.tar(), path.join(root, "layouts", String(n++)), {
      digestLie: c.name === "digest mismatch",
    });
    const t0 = Date.now();
    await assert.rejects(run(), (e: unknown) => {
      const code = "code" in c && c.code === "IMAGE_TOO_LARGE" ? "IMAGE_TOO_LARGE" : "IMAGE_CORRUPT";
      assert.ok(isWarrenError(e, code), String(e));
      assert.match((e as Error).message, c.want);
      return true;
    });
    assert.ok(Date.now() - t0 < 10_000, "refused quickly");
    await assertUntouched(before, store);
  });
}

/** Runs the native extractor on a raw tar (no scanner in front); returns its exit code and stderr. */
async function direct(tar: Buffer): Promise<{ code: number | null; err: string; dest: string }> {
  const sb = await defaultSandbox();
  const dest = path.join(root, "direct", String(n++));
  await fs.mkdir(dest, { recursive: true });
  const child = spawn(sb.helper, [dest, String(sb.idStart), "65536", String(CAP)], {
    stdio: ["pipe", "ignore", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  child.stdin.on("error", () => {});
  child.stdin.end(tar);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, err, dest };
}

for (const c of corpus) {
  test(`extractor alone confines: ${c.name}`, async () => {
    const r = await direct(c.tar());
    // Absolute names are taken relative to the layer root (never outside it), so some of these
    // extract harmlessly; everything else must be refused (exit 3) with a message.
    if (r.code !== 0) {
      assert.equal(r.code, 3, r.err);
      assert.match(r.err, /warren-unpack: refused: /);
    }
    await assertUntouched(before);
    // Nothing in the extracted tree is a device other than a 0:0 whiteout, or a link out.
    for (const name of await fs.readdir(r.dest, { recursive: true })) {
      const st = await fs.lstat(path.join(r.dest, name));
      if (st.isCharacterDevice()) assert.equal(st.rdev, 0);
      assert.ok(!st.isBlockDevice());
      if (st.isFile()) assert.equal(st.nlink, 1, `${name} is not a link to a host file`);
    }
  });
}

test("extractor: ids above 65535 become nobody; a write past the cap stops it", async () => {
  const r = await direct(rawTar({ name: "f", data: "x", uid: 200000, gid: 70000 }));
  assert.equal(r.code, 0, r.err);
  const st = await fs.stat(path.join(r.dest, "f"));
  assert.deepEqual([st.uid, st.gid], [65534, 65534]);
  const big = await direct(
    Buffer.concat([rawHeader({ name: "big", size: 2 * CAP }), Buffer.alloc(2 * CAP), Buffer.alloc(1024)]),
  );
  assert.equal(big.code, 3);
  assert.match(big.err, /past the cap/);
  assert.ok((await fs.stat(path.join(big.dest, "big"))).size <= CAP);
});

test("the hostile corpus leaves the canary exactly as it was", async () => {
  assert.deepEqual(await snapshot(canary), canaryBefore);
  assert.equal(await fs.readFile(path.join(canary, "secret"), "utf8"), "do not touch\n");
});
