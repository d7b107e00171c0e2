import assert from "node:assert/strict";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { layerTar } from "@warren/testing/oci-layout";
import { TarScanner } from "../src/storage/image-tar-scan.ts";

function scan(tar: Buffer, chunkSize = tar.length): TarScanner {
  const s = new TarScanner("test layer");
  for (let i = 0; i < tar.length; i += chunkSize) s.push(tar.subarray(i, i + chunkSize));
  return s;
}

const refused = (re: RegExp) => (err: unknown) => isWarrenError(err, "IMAGE_CORRUPT") && re.test(err.message);

test("collects whiteouts and finds the end marker, whatever the chunking", async () => {
  const tar = await layerTar([
    { path: "a", dir: true },
    { path: "a/.wh.gone" },
    { path: "a/.wh..wh..opq" },
    { path: "a/keep", content: "x".repeat(700) },
    { path: ".wh.top" },
  ]);
  for (const size of [1, 7, 512, 513, tar.length]) {
    const s = scan(tar, size);
    assert.deepEqual(s.whiteouts, ["a/.wh.gone", "a/.wh..wh..opq", ".wh.top"], `chunk ${size}`);
    assert.ok(s.endOffset !== null && s.endOffset <= tar.length, `chunk ${size}`);
  }
});

test("long names (GNU and PAX) are read, so their checks cannot be dodged", async () => {
  const deep = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(60)}`;
  const files = [{ path: deep, dir: true }, { path: `${deep}/.wh.x` }];
  for (const format of ["gnu", "pax"]) {
    const s = scan(await layerTar(files, [`--format=${format}`]), 100);
    assert.deepEqual(s.whiteouts, [`${deep}/.wh.x`], format);
  }
  const evil = await layerTar(
    [{ path: "x" }],
    ["--format=pax", "-P", `--transform=s,^x,${"../".repeat(40)}evil,`],
  );
  assert.throws(() => scan(evil), refused(/"\.\." component/));
});

test("refuses `..` components and absolute paths", async () => {
  const dotdot = await layerTar([{ path: "evil" }], ["-P", "--transform=s,^evil,../evil,"]);
  assert.throws(() => scan(dotdot), refused(/"\.\.\/evil" has a "\.\." component/));
  const inner = await layerTar(
    [{ path: "a", dir: true }, { path: "a/b" }],
    ["-P", "--transform=s,^a/b,a/../../b,"],
  );
  assert.throws(() => scan(inner), refused(/"\.\." component/));
  const abs = await layerTar([{ path: "passwd" }], ["-P", "--transform=s,^passwd,/etc/passwd,"]);
  assert.throws(() => scan(abs), refused(/absolute path/));
});

test("refuses entries written through a symlink of the same layer", async () => {
  const viaLink = await layerTar(
    [{ path: "link", symlink: "/etc" }, { path: "f" }],
    ["-P", "--transform=s,^f$,link/passwd,"],
  );
  assert.throws(() => scan(viaLink), refused(/through the symlink "link"/));
  const hardViaLink = await layerTar(
    [
      { path: "link", symlink: "/etc" },
      { path: "t", content: "x" },
      { path: "h", content: "x" },
    ],
    [],
  );
  // A plain layer with a symlink and files is fine.
  assert.equal(scan(hardViaLink).whiteouts.length, 0);
});

test("a hard link whose target goes through an in-layer symlink is refused", async () => {
  const tar = await layerTar([{ path: "link", symlink: "/etc" }, { path: "h" }], []);
  // Rewrite entry "h" into a hard link to link/shadow by patching its header.
  const patched = Buffer.from(tar);
  const hdr = findHeader(patched, "h");
  patched[hdr + 156] = "1".charCodeAt(0);
  patched.write("link/shadow\0", hdr + 157, "latin1");
  fixChecksum(patched, hdr);
  assert.throws(() => scan(patched), refused(/"h" would be written through the symlink "link"/));
});

test("a symlink replaced by a directory no longer counts", async () => {
  const tar = await layerTar([{ path: "d", symlink: "/etc" }], []);
  const dir = await layerTar([{ path: "d", dir: true }, { path: "d/f" }], []);
  // Concatenate the first archive's entries (without its end marker) with the second.
  const first = tar.subarray(0, 1024);
  assert.doesNotThrow(() => scan(Buffer.concat([first, dir])));
});

test("a damaged header checksum is refused", async () => {
  const tar = Buffer.from(await layerTar([{ path: "f", content: "x" }]));
  tar[0] = "g".charCodeAt(0);
  assert.throws(() => scan(tar), refused(/checksum/));
});

test("whiteouts naming nothing are refused", async () => {
  const tar = await layerTar([{ path: "x" }], ["--transform=s,^x$,.wh..,"]);
  assert.throws(() => scan(tar), refused(/names no file/));
});

function findHeader(tar: Buffer, name: string): number {
  for (let off = 0; off < tar.length; off += 512) {
    if (
      tar
        .subarray(off, off + 100)
        .toString("latin1")
        .split("\0")[0] === name
    )
      return off;
  }
  throw new Error(`no header ${name}`);
}

function fixChecksum(tar: Buffer, off: number): void {
  tar.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[off + i]!;
  tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, off + 148, "latin1");
}

test("entries that could desynchronize the scanner from GNU tar are refused", async () => {
  const tar = Buffer.from(await layerTar([{ path: "l", symlink: "x" }]));
  const hdr = findHeader(tar, "l");
  tar.write("00000001000\0", hdr + 124, "latin1");
  fixChecksum(tar, hdr);
  assert.throws(() => scan(tar), refused(/claims 512 bytes/));
  const vol = Buffer.from(await layerTar([{ path: "v" }]));
  vol[findHeader(vol, "v") + 156] = "V".charCodeAt(0);
  fixChecksum(vol, findHeader(vol, "v"));
  assert.throws(() => scan(vol), refused(/unsupported tar type "V"/));
});
