// End to end on the real kernel: a sparse ext4 disk on a direct-I/O loop device, an overlay
// rootfs over idmapped image layers, the disk bound on writes, persistence, and a clean teardown.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { type HostNames, hostNames } from "../src/host/names.ts";
import {
  attachLoop,
  createDisk,
  detachLoop,
  isDirectIo,
  listWarrenLoops,
  mountDisk,
  removeDisk,
  templatePath,
  unmountDisk,
} from "../src/storage/disk.ts";
import { isMountPoint, mountsUnder, readMounts } from "../src/storage/mountinfo.ts";
import { mountRootfs, unmountRootfs } from "../src/storage/rootfs.ts";
import { type StorageFixture, storageFixture } from "./storage-fixture.ts";

const DISK = 64 * 1024 ** 2;
let fx: StorageFixture;
let names: HostNames;
let layers: string[];

function makeLayers(root: string): string[] {
  const l0 = path.join(root, "layers", "0");
  const l1 = path.join(root, "layers", "1");
  for (const d of ["etc", "bin", "home/user"]) mkdirSync(path.join(l0, d), { recursive: true });
  writeFileSync(path.join(l0, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
  writeFileSync(path.join(l0, "etc/hostname"), "from-layer-0\n");
  writeFileSync(path.join(l0, "home/user/notes"), "mine\n");
  copyFileSync("/usr/bin/true", path.join(l0, "bin/true")); // an ordinary, setuid-less binary
  chownSync(path.join(l0, "home/user"), 1000, 1000);
  chownSync(path.join(l0, "home/user/notes"), 1000, 1000);
  mkdirSync(path.join(l0, "opt"));
  writeFileSync(path.join(l0, "etc/motd"), "deleted above\n");
  writeFileSync(path.join(l0, "opt/a"), "hidden by an opaque dir above\n");
  mkdirSync(path.join(l1, "etc"), { recursive: true });
  writeFileSync(path.join(l1, "etc/hostname"), "from-layer-1\n");
  // Whiteouts in overlayfs form, as the image unpacker writes them.
  mkdirSync(path.join(l1, "opt"));
  writeFileSync(path.join(l1, "opt/b"), "b\n");
  execFileSync("mknod", ["-m", "0", path.join(l1, "etc/motd"), "c", "0", "0"]);
  execFileSync("setfattr", ["-n", "trusted.overlay.opaque", "-v", "y", path.join(l1, "opt")]);
  return [l0, l1];
}

function asEnvUser(uidOffset: number, script: string): { status: number | null; stderr: string } {
  const id = fx.map.hostStart + uidOffset;
  const res = spawnSync("sh", ["-c", script], { uid: id, gid: id, encoding: "utf8", cwd: "/" });
  return { status: res.status, stderr: res.stderr };
}

function allocatedBytes(file: string): number {
  return statSync(file).blocks * 512;
}

async function mountAll(): Promise<void> {
  await attachLoop(names.diskImage);
  await mountDisk(fx.cfg, names, fx.map);
  await mountRootfs(fx.cfg, names, layers, fx.map);
}

before(() => {
  fx = storageFixture();
  names = hostNames(fx.cfg, fx.newId());
  layers = makeLayers(fx.root);
});
after(() => fx.cleanup());

test("createDisk copies a sparse template once and keeps an existing image", async () => {
  await createDisk(fx.cfg, names, DISK);
  assert.ok(existsSync(templatePath(fx.cfg, DISK)), "template made under root/templates");
  const s = statSync(names.diskImage);
  assert.equal(s.size, DISK);
  assert.ok(
    allocatedBytes(names.diskImage) < DISK / 4,
    `image is sparse (${allocatedBytes(names.diskImage)} bytes)`,
  );
  await createDisk(fx.cfg, names, DISK);
  assert.equal(statSync(names.diskImage).ino, s.ino, "second createDisk keeps the image");
});

test("attachLoop binds with direct I/O and reuses the device", async () => {
  const dev = await attachLoop(names.diskImage);
  assert.match(dev, /^\/dev\/loop\d+$/);
  const dio = readFileSync(`/sys/block/${path.basename(dev)}/loop/dio`, "utf8").trim();
  assert.equal(dio, "1");
  assert.equal(isDirectIo(dev), true);
  assert.equal(await attachLoop(names.diskImage), dev);
  assert.deepEqual(fx.loopsUnderRoot(), [dev]);
  assert.deepEqual(
    (await listWarrenLoops(fx.cfg)).map((l) => l.device),
    [dev],
  );
});

test("mountDisk mounts once and owns the top dirs correctly", async () => {
  await mountDisk(fx.cfg, names, fx.map);
  await mountDisk(fx.cfg, names, fx.map);
  assert.equal(isMountPoint(names.diskMount), true);
  assert.equal(mountsUnder(names.diskMount).length, 1, "second call does not stack a mount");
  const opts = readMounts().find((m) => m.mountPoint === names.diskMount)!.options;
  assert.match(opts, /nosuid/);
  assert.match(opts, /nodev/);
  for (const d of [names.upperDir, names.workspaceDir]) {
    const s = statSync(d);
    assert.deepEqual([s.uid, s.gid], [fx.map.hostStart, fx.map.hostStart], d);
  }
  assert.equal(statSync(names.workDir).uid, 0);
});

test("mountRootfs shows image owners shifted into the environment's range", async () => {
  await mountRootfs(fx.cfg, names, layers, fx.map);
  const before = mountsUnder(fx.root).length;
  await mountRootfs(fx.cfg, names, layers, fx.map);
  assert.equal(mountsUnder(fx.root).length, before, "second call mounts nothing new");

  const lowers = readMounts().filter((m) => m.mountPoint.startsWith(`${names.lowerDir}/`));
  assert.equal(lowers.length, 2);
  for (const m of lowers) assert.match(m.options, /idmapped/);

  const passwd = statSync(path.join(names.rootfs, "etc/passwd"));
  assert.deepEqual([passwd.uid, passwd.gid], [fx.map.hostStart, fx.map.hostStart]);
  const notes = statSync(path.join(names.rootfs, "home/user/notes"));
  assert.deepEqual([notes.uid, notes.gid], [fx.map.hostStart + 1000, fx.map.hostStart + 1000]);
  assert.equal(
    readFileSync(path.join(names.rootfs, "etc/hostname"), "utf8"),
    "from-layer-1\n",
    "top layer wins",
  );
  assert.equal(statSync(path.join(layers[0]!, "etc/passwd")).uid, 0, "layers are never chowned");
  assert.equal(
    existsSync(path.join(names.rootfs, "etc/motd")),
    false,
    "whiteout in an idmapped layer hides the file",
  );
  assert.deepEqual(readdirSync(path.join(names.rootfs, "opt")), ["b"], "opaque dir hides lower entries");
});

test("the environment's root can run and write; its other users cannot touch root's files", () => {
  const r = names.rootfs;
  assert.equal(asEnvUser(0, `${r}/bin/true`).status, 0);
  const w = asEnvUser(
    0,
    `echo hello > ${r}/etc/newfile && echo 'u:x:1000:1000::/home/user:/bin/sh' >> ${r}/etc/passwd`,
  );
  assert.equal(w.status, 0, w.stderr);
  const up = statSync(path.join(names.upperDir, "etc/newfile"));
  assert.deepEqual([up.uid, up.gid], [fx.map.hostStart, fx.map.hostStart]);
  assert.equal(
    statSync(path.join(names.upperDir, "etc/passwd")).uid,
    fx.map.hostStart,
    "copy-up keeps the owner",
  );
  assert.equal(readFileSync(path.join(layers[0]!, "etc/passwd"), "utf8"), "root:x:0:0::/root:/bin/sh\n");
  const denied = asEnvUser(1000, `echo x > ${r}/etc/other`);
  assert.notEqual(denied.status, 0);
  assert.match(denied.stderr, /Permission denied/);
  assert.equal(asEnvUser(1000, `echo more >> ${r}/home/user/notes`).status, 0);
});

test("writes past the disk size fail with ENOSPC and the image never grows past it", () => {
  const res = asEnvUser(0, `dd if=/dev/zero of=${names.rootfs}/big bs=1M count=${(DISK / 1024 ** 2) * 2}`);
  assert.notEqual(res.status, 0);
  assert.match(res.stderr, /No space left on device/);
  assert.equal(statSync(names.diskImage).size, DISK);
  assert.ok(allocatedBytes(names.diskImage) <= DISK, `host allocation ${allocatedBytes(names.diskImage)}`);
  assert.equal(asEnvUser(0, `rm ${names.rootfs}/big`).status, 0);
});

test("data persists across unmount, detach and remount", async () => {
  await unmountDisk(names); // takes the rootfs down first
  await detachLoop(names.diskImage);
  assert.deepEqual(mountsUnder(fx.root), []);
  assert.deepEqual(fx.loopsUnderRoot(), []);
  await unmountDisk(names);
  await detachLoop(names.diskImage);

  await mountAll();
  assert.equal(readFileSync(path.join(names.rootfs, "etc/newfile"), "utf8"), "hello\n");
  assert.match(readFileSync(path.join(names.rootfs, "etc/passwd"), "utf8"), /^u:x:1000/m);
});

test("removeDisk refuses while mounted; teardown leaves nothing behind", async () => {
  await assert.rejects(removeDisk(names), /still mounted or attached/);
  await unmountRootfs(names);
  assert.equal(existsSync(names.lowerDir), false);
  assert.equal(existsSync(names.rootfs), false);
  await unmountDisk(names);
  await detachLoop(names.diskImage);
  await removeDisk(names);
  await removeDisk(names);
  assert.equal(existsSync(names.diskImage), false);
  assert.deepEqual(mountsUnder(fx.root), []);
  assert.deepEqual(fx.loopsUnderRoot(), []);
});
