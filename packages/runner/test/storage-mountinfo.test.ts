import assert from "node:assert/strict";
import { test } from "node:test";
import { isMountPoint, mountsUnder, parseMountinfo, readMounts } from "../src/storage/mountinfo.ts";

const SAMPLE = [
  "22 27 0:21 / /proc rw,relatime - proc proc rw",
  "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard",
  "40 27 7:3 / /var/lib/warren/envs/abc/disk rw,nosuid,nodev master:4 - ext4 /dev/loop3 rw",
  "41 27 254:0 /images/l0 /var/lib/warren/envs/abc/lower/0 rw,nodev,idmapped - ext4 /dev/vda rw",
  "42 27 0:50 / /var/lib/warren/envs/abc/rootfs rw,nodev - overlay overlay rw,lowerdir=/x,upperdir=/y",
  "43 42 0:51 / /var/lib/warren/envs/abc/rootfs/proc rw - proc proc rw",
  "44 27 0:52 / /mnt/with\\040space\\011tab rw - tmpfs my\\134src rw",
  "45 42 0:53 / /var/lib/warren/envs/abc/rootfs/proc rw - tmpfs tmpfs rw",
  "46 27 0:54 / /var/lib/warren/envs/abcdef rw - tmpfs tmpfs rw",
].join("\n");

test("parseMountinfo reads fields, optional tags and the separator", () => {
  const m = parseMountinfo(SAMPLE);
  assert.equal(m.length, 9);
  const disk = m[2]!;
  assert.equal(disk.id, 40);
  assert.equal(disk.parentId, 27);
  assert.equal(disk.mountPoint, "/var/lib/warren/envs/abc/disk");
  assert.equal(disk.options, "rw,nosuid,nodev");
  assert.equal(disk.fsType, "ext4");
  assert.equal(disk.source, "/dev/loop3");
  assert.equal(m[3]!.root, "/images/l0");
  assert.equal(m[4]!.superOptions, "rw,lowerdir=/x,upperdir=/y");
});

test("parseMountinfo undoes octal escapes in paths", () => {
  const m = parseMountinfo(SAMPLE);
  assert.equal(m[6]!.mountPoint, "/mnt/with space\ttab");
  assert.equal(m[6]!.source, "my\\src");
});

test("parseMountinfo rejects a line without the separator", () => {
  assert.throws(() => parseMountinfo("1 2 0:1 / /x rw shared:1 ext4 /dev/x rw a b"), /unparseable/);
});

test("isMountPoint matches exact mount points only", () => {
  const m = parseMountinfo(SAMPLE);
  assert.equal(isMountPoint("/var/lib/warren/envs/abc/disk", m), true);
  assert.equal(isMountPoint("/var/lib/warren/envs/abc/disk/", m), true);
  assert.equal(isMountPoint("/var/lib/warren/envs/abc", m), false);
  assert.equal(isMountPoint("/mnt/with space\ttab", m), true);
});

test("mountsUnder lists a tree deepest first, stacked mounts newest first, no sibling prefixes", () => {
  const m = parseMountinfo(SAMPLE);
  assert.deepEqual(mountsUnder("/var/lib/warren/envs/abc", m), [
    "/var/lib/warren/envs/abc/rootfs/proc", // id 45, stacked on top of 43
    "/var/lib/warren/envs/abc/rootfs/proc",
    "/var/lib/warren/envs/abc/lower/0",
    "/var/lib/warren/envs/abc/rootfs",
    "/var/lib/warren/envs/abc/disk",
  ]);
  const order = mountsUnder("/var/lib/warren/envs/abc/rootfs", m);
  assert.deepEqual(order, [
    "/var/lib/warren/envs/abc/rootfs/proc",
    "/var/lib/warren/envs/abc/rootfs/proc",
    "/var/lib/warren/envs/abc/rootfs",
  ]);
  assert.deepEqual(mountsUnder("/nothing/here", m), []);
});

test("the live mountinfo parses and contains /", () => {
  const mounts = readMounts();
  assert.ok(mounts.some((x) => x.mountPoint === "/"));
  assert.equal(isMountPoint("/"), true);
});
