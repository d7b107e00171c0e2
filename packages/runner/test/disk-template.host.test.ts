// Disk templates (prebuilds) on a real Engine: a stopped environment's disk saved under a key is
// where a new environment's disk starts from. Files written before the save are in the new
// environment, owned by the same users inside although its id block differs; the copy is its
// own (writes on either side stay there); a secret delivered to the first one never reaches
// the template; a larger disk grows; another image drops the writable layer but keeps the
// workspace; a missing template is a clear error that leaves nothing behind. Busybox images.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, rm, rmdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import type { RunnerEnvSpec, WarrenError } from "@warren/protocol";
import { runExec } from "@warren/testing/conformance";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import type { Engine } from "../src/engine/engine.ts";
import { createRunner } from "../src/engine/runner.ts";
import { run } from "../src/host/run.ts";
import { removeHostNetwork } from "../src/network/index.ts";
import { busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";

const TAG = randomBytes(3).toString("hex");
const PREFIX = `wt${TAG}`;
const DIR = `/tmp/warren-template-${TAG}`;
process.env["WARREN_SUBNET"] = `10.207.${randomInt(1, 250)}.0/24`;
const skip = process.getuid?.() === 0 && busyboxAvailable() ? false : "needs root and busybox-static";

let engine: Engine;
const A = `template/a:${TAG}`;
const B = `template/b:${TAG}`;
const KEY = randomBytes(16).toString("hex");
const SECRET = `s3cr3t-${randomBytes(12).toString("hex")}`;
const MiB = 1024 ** 2;
/** What the copy writes: unique, so finding it elsewhere cannot be chance. */
const MINE = `copy-${randomBytes(12).toString("hex")}`;

before(async () => {
  if (skip) return;
  await mkdir(DIR, { recursive: true });
  engine = await createRunner({
    root: path.join(DIR, "root"),
    runDir: path.join(DIR, "run"),
    prefix: PREFIX,
    imagesDir: path.join(DIR, "images"),
    idRange: { start: 3_800_000_000 + randomInt(0, 100) * 65536 * 8, size: 65536 * 8 },
  });
  const rootfs = path.join(DIR, "image-rootfs");
  await makeBusyboxRootfs(rootfs);
  for (const [ref, marker] of [
    [A, "a"],
    [B, "b"],
  ] as const) {
    await writeFile(path.join(rootfs, "which"), `${marker}\n`);
    const tar = path.join(DIR, `layer-${marker}.tar`);
    await run("tar", ["-cf", tar, "--numeric-owner", "-C", rootfs, "."]);
    const builder = new LayoutBuilder(path.join(DIR, `layout-${marker}`));
    const img = await builder.image([await readFile(tar)], { compression: "none", cmd: ["/bin/sh"] });
    await engine.importImage(await builder.write([named(img.manifest, ref)]), ref, () => {});
  }
});

after(async () => {
  if (skip) return;
  await engine?.sweep(new Set()).catch(() => undefined);
  await engine?.removeTemplate(KEY).catch(() => undefined);
  await engine?.close();
  if (engine) await removeHostNetwork(engine.ctx.cfg).catch(() => undefined);
  for (const ctrl of await readdir("/sys/fs/cgroup").catch(() => [] as string[])) {
    await rmdir(path.join("/sys/fs/cgroup", ctrl, PREFIX)).catch(() => undefined);
  }
  await rm(DIR, { recursive: true, force: true });
});

const sh = async (id: string, script: string) => {
  const r = await runExec(engine, id, ["sh", "-c", script]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
};

const spec = (n: number, o: Partial<RunnerEnvSpec> = {}): RunnerEnvSpec => ({
  id: `${TAG}tpl${String(n).padStart(3, "0")}`.slice(0, 12),
  name: `dev${n}`,
  slot: n,
  image: A,
  runtime: "crun",
  resources: { cpus: 1, memoryBytes: 256 * MiB, diskBytes: 64 * MiB, pids: 256 },
  ...o,
});

/** True when `needle` occurs anywhere in the file (read in chunks, overlapping at the seams). */
async function fileContains(file: string, needle: string): Promise<boolean> {
  const fh = await open(file, "r");
  const want = Buffer.from(needle);
  const chunk = Buffer.alloc(4 * MiB);
  try {
    for (let pos = 0; ; pos += chunk.length - want.length) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) return false;
      if (chunk.subarray(0, bytesRead).includes(want)) return true;
      if (bytesRead < chunk.length) return false;
    }
  } finally {
    await fh.close();
  }
}

const templateImg = () => path.join(DIR, "root", "templates", `${KEY}.img`);

test("a saved disk is where a new environment starts; each copy is its own", { skip }, async () => {
  const src = spec(1, { secrets: [{ name: "tok", kind: "file", value: SECRET }] });
  await engine.ensureRunning(src);
  assert.equal(await sh(src.id, "cat /run/secrets/tok"), SECRET, "the secret was delivered");
  await sh(
    src.id,
    [
      "mkdir -p /workspaces/repo/node_modules/x",
      "echo prebuilt > /workspaces/repo/node_modules/x/index.js",
      "chown -R 1000:1000 /workspaces/repo",
      "echo installed > /opt-installed",
      "cp /bin/busybox /suid-tool && chmod 4755 /suid-tool",
      "ln -s /etc/passwd /workspaces/repo/link",
    ].join(" && "),
  );
  await assert.rejects(engine.saveTemplate(src.id, KEY), (e: WarrenError) => e.code === "ENV_RUNNING");
  await engine.ensureStopped(src, 1000);
  await assert.rejects(
    engine.saveTemplate(src.id, "../../etc"),
    (e: WarrenError) => e.code === "INVALID_ARGUMENT",
  );
  const saved = await engine.saveTemplate(src.id, KEY);
  assert.equal(saved.image, A);
  assert.equal(saved.diskBytes, 64 * MiB);
  assert.ok(saved.usedBytes < saved.diskBytes, `a sparse copy (${saved.usedBytes} bytes used)`);
  assert.equal(await fileContains(templateImg(), "prebuilt"), true, "the search finds what is on the disk");
  assert.equal(await fileContains(templateImg(), SECRET), false, "no secret in the template");
  const { readdirSync } = await import("node:fs");
  assert.deepEqual(
    readdirSync(path.dirname(templateImg())).filter((f) => f.includes(".tmp-")),
    [],
    "nothing half-made",
  );

  // Another slot (another host id block), a larger disk.
  const copy = spec(2, { template: KEY, resources: { ...src.resources, diskBytes: 96 * MiB } });
  await engine.ensureRunning(copy);
  assert.equal(
    await sh(copy.id, "cat /workspaces/repo/node_modules/x/index.js /opt-installed"),
    "prebuilt\ninstalled",
  );
  assert.equal(await sh(copy.id, "stat -c %u:%g /workspaces/repo/node_modules/x/index.js"), "1000:1000");
  assert.equal(await sh(copy.id, "stat -c %u:%a /suid-tool"), "0:4755", "owner and set-id bit kept");
  assert.equal(await sh(copy.id, "readlink /workspaces/repo/link"), "/etc/passwd");
  assert.equal(await sh(copy.id, `echo ${MINE} > /workspaces/repo/new && echo ok`), "ok");
  const blocks = Number(await sh(copy.id, "df -k /workspaces | tail -1 | awk '{print $2}'"));
  assert.ok(blocks > 80 * 1024, `the disk grew to the asked size (${blocks} KiB)`);
  const hostStat = await stat(path.join(DIR, "root", "envs", copy.id, "disk", "workspaces", "repo", "new"));
  const srcStart = (await engine.observe(src.id)).uidRange?.start ?? -1;
  const copyStart = (await engine.observe(copy.id)).uidRange?.start ?? -1;
  assert.notEqual(srcStart, copyStart);
  assert.equal(hostStat.uid, copyStart, "files are the new environment's ids on the host");

  // The source is untouched by the copy's writes, and the template too.
  await run("sync", []);
  assert.equal(await fileContains(path.join(DIR, "root", "envs", copy.id, "disk.img"), MINE), true);
  assert.equal(await fileContains(path.join(DIR, "root", "envs", src.id, "disk.img"), MINE), false);
  assert.equal(await fileContains(templateImg(), MINE), false);

  // Another image: the writable root layer goes, the workspace stays.
  const other = spec(3, { template: KEY, image: B });
  await engine.ensureRunning(other);
  assert.equal(await sh(other.id, "cat /which; test -e /opt-installed && echo kept || echo gone"), "b\ngone");
  assert.equal(await sh(other.id, "cat /workspaces/repo/node_modules/x/index.js"), "prebuilt");
});

test("a missing template is a clear error and leaves no disk", { skip }, async () => {
  const s = spec(4, { template: "ab".repeat(16) });
  await assert.rejects(engine.ensureRunning(s), (e: WarrenError) => {
    assert.equal(e.code, "PREBUILD_NOT_FOUND");
    assert.match(e.message, /disk template abab.* is not on this runner.*warren prebuild/);
    return true;
  });
  assert.equal(existsSync(path.join(DIR, "root", "envs", s.id, "disk.img")), false);
  await engine.remove(s.id);
});

test("removeTemplate removes it, and again is fine", { skip }, async () => {
  await engine.removeTemplate(KEY);
  assert.equal(existsSync(templateImg()), false);
  await engine.removeTemplate(KEY);
  await assert.rejects(engine.ensureRunning(spec(5, { template: KEY })), /not on this runner/);
  await engine.remove(spec(5).id);
});
