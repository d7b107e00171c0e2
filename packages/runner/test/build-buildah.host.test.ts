// The Dockerfile builder on a real host: an Engine on a private root, id block and subnet, an
// environment on a busybox image, and a local docker-registry holding the FROM image (pushed with
// skopeo). A RUN step runs in the environment's own id range (its uid_map names the slot's first
// host id), the result lands in the store with its label, a second build is answered by the
// cache without buildah, and contexts that leave the repository (by `..` or by a symlink) and
// ADD of a URL are refused. Needs root, crun, buildah, skopeo, docker-registry, busybox-static.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import type { BuildImageRequest, ProgressEvent, RunnerEnvSpec } from "@warren/protocol";
import { rejectsWithCode, runExec } from "@warren/testing/conformance";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import { pushLayout, startRegistry, type TestRegistry } from "@warren/testing/registry";
import type { Engine } from "../src/engine/engine.ts";
import { createRunner } from "../src/engine/runner.ts";
import { slotRange } from "../src/host/idrange.ts";
import { run } from "../src/host/run.ts";
import { removeHostNetwork } from "../src/network/index.ts";
import { busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";

const TAG = randomBytes(3).toString("hex");
const PREFIX = `wb${TAG}`;
const DIR = `/tmp/warren-build-${TAG}`;
const IMAGE = `buildtest/busybox:${TAG}`;
process.env["WARREN_SUBNET"] = `10.205.${randomInt(1, 250)}.0/24`;

const ready =
  process.getuid?.() === 0 &&
  busyboxAvailable() &&
  existsSync("/usr/bin/buildah") &&
  existsSync("/usr/bin/skopeo");
const skip = ready ? false : "needs root, busybox-static, buildah and skopeo";

let engine: Engine;
let reg: TestRegistry;
let spec: RunnerEnvSpec;
let from: string;

const REPO = "/workspaces/repo";

async function write(file: string, text: string): Promise<void> {
  const r = await runExec(
    engine,
    spec.id,
    ["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", file],
    {
      stdin: [text],
    },
  );
  assert.equal(r.code, 0, r.stderr);
}

const build = (over: Partial<BuildImageRequest["dockerfile"]> = {}, label = "[]"): BuildImageRequest => ({
  envId: spec.id,
  repoRoot: REPO,
  dockerfile: { dockerfile: `${REPO}/.devcontainer/Dockerfile`, context: `${REPO}/.devcontainer`, ...over },
  metadataLabel: label,
});

before(async () => {
  if (skip) return;
  await mkdir(DIR, { recursive: true });
  engine = await createRunner({
    root: path.join(DIR, "root"),
    runDir: path.join(DIR, "run"),
    prefix: PREFIX,
    imagesDir: path.join(DIR, "images"),
    idRange: { start: 3_500_000_000 + randomInt(0, 100) * 65536 * 8, size: 65536 * 8 },
    registryAllow: "127.0.0.1",
  });
  const rootfs = path.join(DIR, "image-rootfs");
  await makeBusyboxRootfs(rootfs);
  const tar = path.join(DIR, "layer.tar");
  await run("tar", ["-cf", tar, "--numeric-owner", "-C", rootfs, "."]);
  const builder = new LayoutBuilder(path.join(DIR, "layout"));
  const img = await builder.image([await readFile(tar)], { compression: "none", cmd: ["/bin/sh"] });
  const layout = await builder.write([named(img.manifest, IMAGE)]);
  await engine.importImage(layout, IMAGE, () => {});
  reg = await startRegistry();
  await pushLayout(reg, layout, IMAGE, `test/busybox:${TAG}`);
  from = `${reg.host}/test/busybox:${TAG}`;
  spec = {
    id: `${TAG}bld000001`.slice(0, 12).padEnd(12, "0"),
    name: "builder",
    slot: 1,
    image: IMAGE,
    runtime: "crun",
    resources: { cpus: 1, memoryBytes: 512 * 1024 ** 2, diskBytes: 256 * 1024 ** 2, pids: 512 },
  };
  await engine.ensureRunning(spec);
  await write(
    `${REPO}/.devcontainer/Dockerfile`,
    `ARG BASE=${from}\nFROM \${BASE}\nARG GREETING=hi\nCOPY hello.txt /hello.txt\n` +
      'RUN cat /proc/self/uid_map > /uidmap && echo "$GREETING" > /made && stat -c %u /made > /made-uid && readlink /proc/self/ns/net > /netns\n',
  );
  await write(`${REPO}/.devcontainer/hello.txt`, "from the context\n");
  await write(`${REPO}/Dockerfile.add`, "FROM scratch\nADD https://example.com/x /x\n");
});

after(async () => {
  if (skip) return;
  await engine?.sweep(new Set()).catch(() => undefined);
  await engine?.close();
  if (engine) await removeHostNetwork(engine.ctx.cfg).catch(() => undefined);
  await reg?.stop();
  for (const ctrl of await readdir("/sys/fs/cgroup").catch(() => [] as string[])) {
    await rmdir(path.join("/sys/fs/cgroup", ctrl, PREFIX)).catch(() => undefined);
  }
  await rm(DIR, { recursive: true, force: true });
});

/** A file of a built image, read from its top layer on the host. */
async function fileOf(ref: string, file: string): Promise<string> {
  const img = await engine.ctx.images.get(ref);
  return readFile(path.join(img.layerDirs.at(-1)!, file), "utf8");
}

test("a Dockerfile FROM a registry image builds: RUN in the environment's ids, then the cache answers", {
  skip,
}, async () => {
  const events: ProgressEvent[] = [];
  const first = await engine.buildImage(build(), (e) => events.push(e));
  assert.equal(first.cached, false);
  assert.match(first.ref, /^warren-build\/[0-9a-f]{32}$/);
  assert.ok(await engine.hasImage(first.ref));
  assert.ok(
    events.some((e) => e.phase === "build" && /STEP \d\/\d: RUN/.test(e.message)),
    "buildah's steps are progress",
  );
  const start = slotRange(engine.ctx.idRange, spec.slot).hostStart;
  assert.deepEqual((await fileOf(first.ref, "uidmap")).trim().split(/\s+/).map(Number), [0, start, 65536]);
  assert.equal((await fileOf(first.ref, "made-uid")).trim(), "0");
  assert.equal((await fileOf(first.ref, "made")).trim(), "hi");
  // RUN joined the environment's network namespace (its egress policy applies).
  const envNet = await runExec(engine, spec.id, ["readlink", "/proc/self/ns/net"]);
  assert.equal((await fileOf(first.ref, "netns")).trim(), envNet.stdout.trim());
  assert.equal((await engine.imageLabels(first.ref))["devcontainer.metadata"], "[]");
  // The built image shares the base's store layers.
  const base = await engine.ctx.images.info(from);
  assert.equal(first.layers[0], base.layers[0]);

  const t0 = Date.now();
  const again = await engine.buildImage(build(), () => {});
  assert.equal(again.cached, true);
  assert.equal(again.ref, first.ref);
  assert.equal(again.digest, first.digest);
  assert.ok(Date.now() - t0 < 3000, `a cached build took ${Date.now() - t0} ms`);

  const other = await engine.buildImage(build({ args: { GREETING: "hello" } }), () => {});
  assert.equal(other.cached, false);
  assert.notEqual(other.ref, first.ref);
  assert.equal((await fileOf(other.ref, "made")).trim(), "hello");
});

test("contexts outside the repository and ADD of a URL are refused", { skip }, async () => {
  const dotdot = await rejectsWithCode(
    engine.buildImage(build({ context: `${REPO}/..` }), () => {}),
    "INVALID_ARGUMENT",
  );
  assert.match(dotdot.message, /build context \.\. escapes the repository/);
  await runExec(engine, spec.id, ["ln", "-sfn", "/etc", `${REPO}/etc-link`]);
  const link = await rejectsWithCode(
    engine.buildImage(build({ context: `${REPO}/etc-link` }), () => {}),
    "INVALID_ARGUMENT",
  );
  assert.match(link.message, /outside the repository/);
  const add = await rejectsWithCode(
    engine.buildImage(build({ dockerfile: `${REPO}/Dockerfile.add`, context: REPO }), () => {}),
    "INVALID_ARGUMENT",
  );
  assert.match(add.message, /ADD of a URL is refused/);
});
