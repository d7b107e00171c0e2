// The runner side of an environment made from a repository: containerEnv reaches its processes,
// a named volume is a folder on its disk bound at the target, and starting a stopped environment
// on another image discards the writable root layer made on the old one while the workspace and
// the volumes stay. An Engine on a private root, id block and subnet, busybox images.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import type { RunnerEnvSpec } from "@warren/protocol";
import { runExec } from "@warren/testing/conformance";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import type { Engine } from "../src/engine/engine.ts";
import { createRunner } from "../src/engine/runner.ts";
import { run } from "../src/host/run.ts";
import { removeHostNetwork } from "../src/network/index.ts";
import { busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";

const TAG = randomBytes(3).toString("hex");
const PREFIX = `wi${TAG}`;
const DIR = `/tmp/warren-imgchange-${TAG}`;
process.env["WARREN_SUBNET"] = `10.206.${randomInt(1, 250)}.0/24`;
const skip = process.getuid?.() === 0 && busyboxAvailable() ? false : "needs root and busybox-static";

let engine: Engine;
const A = `imgchange/a:${TAG}`;
const B = `imgchange/b:${TAG}`;

before(async () => {
  if (skip) return;
  await mkdir(DIR, { recursive: true });
  engine = await createRunner({
    root: path.join(DIR, "root"),
    runDir: path.join(DIR, "run"),
    prefix: PREFIX,
    imagesDir: path.join(DIR, "images"),
    idRange: { start: 3_700_000_000 + randomInt(0, 100) * 65536 * 4, size: 65536 * 4 },
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

test("containerEnv, a volume, and a new image that discards only the writable layer", { skip }, async () => {
  const spec: RunnerEnvSpec = {
    id: `${TAG}img000001`.slice(0, 12),
    name: "dev",
    slot: 1,
    image: A,
    runtime: "crun",
    resources: { cpus: 1, memoryBytes: 256 * 1024 ** 2, diskBytes: 128 * 1024 ** 2, pids: 256 },
    env: { FROM_SPEC: "yes", KEEP: "spec" },
    volumes: [{ name: "cache", target: "/var/cache/app" }],
  };
  await engine.ensureRunning(spec);
  assert.equal(await sh(spec.id, 'echo "$(cat /which) $FROM_SPEC $KEEP"'), "a yes spec");
  await sh(
    spec.id,
    "echo root > /in-root && echo ws > /workspaces/dev/in-ws && echo vol > /var/cache/app/in-vol",
  );
  // The volume is a folder on the environment's disk.
  const disk = path.join(DIR, "root", "envs", spec.id, "disk");
  assert.equal(await readFile(path.join(disk, "volumes", "cache", "in-vol"), "utf8"), "vol\n");

  // Same image: a stop and start keeps the writable layer.
  await engine.ensureStopped(spec, 1000);
  await engine.ensureRunning(spec);
  assert.equal(await sh(spec.id, "cat /in-root"), "root");

  await engine.ensureStopped(spec, 1000);
  await engine.ensureRunning({ ...spec, image: B });
  assert.equal(await sh(spec.id, "cat /which"), "b");
  assert.equal(await sh(spec.id, "test -e /in-root && echo kept || echo gone"), "gone");
  assert.equal(await sh(spec.id, "cat /workspaces/dev/in-ws /var/cache/app/in-vol"), "ws\nvol");
  assert.deepEqual(
    (await readdir(disk)).filter((n) => n.includes("discarded")),
    [],
    "the old layer is deleted, not left beside the new one",
  );
});
