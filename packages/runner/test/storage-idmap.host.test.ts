// The warren-idmap helper and idmapMount against the real kernel.
import assert from "node:assert/strict";
import { chownSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { run } from "../src/host/run.ts";
import { idmapHelperPath, idmapMount } from "../src/storage/idmap.ts";
import { isMountPoint, mountsUnder } from "../src/storage/mountinfo.ts";
import { type StorageFixture, storageFixture } from "./storage-fixture.ts";

let fx: StorageFixture;
let src: string;

before(() => {
  fx = storageFixture();
  src = path.join(fx.root, "src");
  mkdirSync(src);
  writeFileSync(path.join(src, "root-file"), "r");
  writeFileSync(path.join(src, "user-file"), "u");
  chownSync(path.join(src, "user-file"), 1000, 1001);
});
after(() => fx.cleanup());

function dir(name: string): string {
  const d = path.join(fx.root, name);
  mkdirSync(d, { recursive: true });
  return d;
}

test("idmapMount shifts uids and gids and is idempotent", async () => {
  const a = dir("a");
  const b = dir("b");
  await idmapMount(fx.cfg, fx.map, [
    { src, dst: a },
    { src, dst: b },
  ]);
  await idmapMount(fx.cfg, fx.map, [{ src, dst: a }]);
  assert.equal(mountsUnder(a).length, 1, "no stacked mount on retry");
  for (const d of [a, b]) {
    assert.equal(statSync(path.join(d, "root-file")).uid, fx.map.hostStart);
    const u = statSync(path.join(d, "user-file"));
    assert.deepEqual([u.uid, u.gid], [fx.map.hostStart + 1000, fx.map.hostStart + 1001]);
  }
  assert.equal(statSync(path.join(src, "user-file")).uid, 1000, "source unchanged");
  // Writes through the idmapped mount land with unshifted ids in the source.
  const id = fx.map.hostStart;
  const w = await run(
    "setpriv",
    [`--reuid=${id}`, `--regid=${id}`, "--clear-groups", "sh", "-c", `echo x > ${a}/new`],
    {
      allowFail: true,
    },
  );
  assert.equal(w.code, 0, w.stderr);
  assert.equal(statSync(path.join(src, "new")).uid, 0);
  await run("umount", [a]);
  await run("umount", [b]);
});

test("ids outside the map show as the overflow id", async () => {
  const c = dir("c");
  await idmapMount(fx.cfg, { hostStart: fx.map.hostStart, size: 1000 }, [{ src, dst: c }]);
  assert.equal(statSync(path.join(c, "root-file")).uid, fx.map.hostStart);
  assert.equal(statSync(path.join(c, "user-file")).uid, 65534, "uid 1000 is outside a 1000-id map");
  await run("umount", [c]);
});

test("a failing pair rolls back the pairs already mounted", async () => {
  const ok = dir("ok");
  const missing = path.join(fx.root, "missing");
  await assert.rejects(
    idmapMount(fx.cfg, fx.map, [
      { src, dst: ok },
      { src, dst: missing },
    ]),
    /move_mount .* No such file or directory/,
  );
  assert.equal(isMountPoint(ok), false);
});

test("the helper rejects bad arguments with a usage message", async () => {
  const x = dir("x");
  for (const args of [
    ["1", "0", src, x],
    ["-1", "10", src, x],
    ["4294967295", "2", src, x],
    ["1", "10", src],
  ]) {
    const res = await run(idmapHelperPath(fx.cfg), args, { allowFail: true });
    assert.equal(res.code, 2, args.join(" "));
    assert.match(res.stderr, /usage: warren-idmap/);
  }
  assert.deepEqual(mountsUnder(x), []);
});
