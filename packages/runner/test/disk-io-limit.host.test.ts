// A class's disk I/O limits on a real environment (crun and runc): its loop device gets the
// blkio.throttle rules at create, `dd` with direct I/O inside stays within ±20 % of the limit for
// writes and reads, and with the rules taken away live (the driver's setIoLimits) the same dd is
// several times faster, so the test fails whenever the limits do not apply. And the hard disk
// floor (storage/disk-guard.ts) on a host it is told is nearly full: the environment that wrote
// is frozen, its idle neighbour is not, both run again once space is back. An Engine on a
// private root, id block and subnet, a busybox image.
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { mkdir, readdir, readFile, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import type { IoLimits, RunnerEnvSpec, RuntimeName } from "@warren/protocol";
import { runExec } from "@warren/testing/conformance";
import { LayoutBuilder, named } from "@warren/testing/oci-layout";
import { blockDeviceOf, parseV1Throttle } from "../src/cgroups/io-limits.ts";
import type { Engine } from "../src/engine/engine.ts";
import { createRunner } from "../src/engine/runner.ts";
import { hostNames } from "../src/host/names.ts";
import { run } from "../src/host/run.ts";
import { removeHostNetwork } from "../src/network/index.ts";
import { DiskGuard } from "../src/storage/disk-guard.ts";
import { findLoops } from "../src/storage/loop.ts";
import { busyboxAvailable, makeBusyboxRootfs } from "./fixtures/busybox-rootfs.ts";

const TAG = randomBytes(3).toString("hex");
const PREFIX = `wq${TAG}`;
const DIR = `/tmp/warren-diskio-${TAG}`;
process.env["WARREN_SUBNET"] = `10.219.${randomInt(1, 250)}.0/24`;
const skip = process.getuid?.() === 0 && busyboxAvailable() ? false : "needs root and busybox-static";

const MiB = 1024 ** 2;
/** 8 MiB/s: 12 MiB takes 1.5 s limited, a fraction of that unlimited on any disk here. */
const LIMIT = 8 * MiB;
const SIZE_MIB = 12;
const IMAGE = `diskio/busybox:${TAG}`;

let engine: Engine;

before(async () => {
  if (skip) return;
  await mkdir(DIR, { recursive: true });
  engine = await createRunner({
    root: path.join(DIR, "root"),
    runDir: path.join(DIR, "run"),
    prefix: PREFIX,
    imagesDir: path.join(DIR, "images"),
    idRange: { start: 3_800_000_000 + randomInt(0, 50) * 65536 * 8, size: 65536 * 8 },
  });
  const rootfs = path.join(DIR, "image-rootfs");
  await makeBusyboxRootfs(rootfs);
  const tar = path.join(DIR, "layer.tar");
  await run("tar", ["-cf", tar, "--numeric-owner", "-C", rootfs, "."]);
  const builder = new LayoutBuilder(path.join(DIR, "layout"));
  const img = await builder.image([await readFile(tar)], { compression: "none", cmd: ["/bin/sh"] });
  await engine.importImage(await builder.write([named(img.manifest, IMAGE)]), IMAGE, () => {});
});

after(async () => {
  if (skip) return;
  await engine?.sweep(new Set()).catch(() => undefined);
  await engine?.close();
  if (engine) await removeHostNetwork(engine.ctx.cfg).catch((err) => console.error(String(err)));
  for (const ctrl of await readdir("/sys/fs/cgroup").catch(() => [] as string[])) {
    await rmdir(path.join("/sys/fs/cgroup", ctrl, PREFIX)).catch(() => undefined);
  }
  await rm(DIR, { recursive: true, force: true });
});

/** Runs `cmd` under the shell's `time` inside the environment; its wall-clock seconds. */
async function timed(id: string, cmd: string): Promise<number> {
  const r = await runExec(engine, id, ["sh", "-c", `time ${cmd}`]);
  assert.equal(r.code, 0, r.stderr);
  const m = /real\s+(\d+)m\s*([\d.]+)s/.exec(r.stderr);
  assert.ok(m, `no timing in ${JSON.stringify(r.stderr)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

const write = (id: string, file: string) =>
  timed(id, `dd if=/dev/zero of=/workspaces/${file} bs=1M count=${SIZE_MIB} oflag=direct`);
const read = (id: string, file: string) =>
  timed(id, `dd if=/workspaces/${file} of=/dev/null bs=1M iflag=direct`);
const rate = (seconds: number) => (SIZE_MIB * MiB) / seconds;
const mibs = (bytesPerS: number) => `${(bytesPerS / MiB).toFixed(1)} MiB/s`;

function assertNearLimit(what: string, bytesPerS: number): void {
  const off = Math.abs(bytesPerS - LIMIT) / LIMIT;
  assert.ok(off <= 0.2, `${what} ran at ${mibs(bytesPerS)}, more than 20 % from the limit of ${mibs(LIMIT)}`);
}

for (const [n, runtime] of (["crun", "runc"] as RuntimeName[]).entries()) {
  test(`${runtime}: dd stays within ±20 % of the class's read and write limits`, { skip }, async () => {
    const io: IoLimits = { readBps: LIMIT, writeBps: LIMIT };
    const spec: RunnerEnvSpec = {
      id: `${TAG}dio00${n}`,
      name: `io${n}`,
      slot: n + 1,
      image: IMAGE,
      runtime,
      resources: { cpus: 1, memoryBytes: 256 * MiB, diskBytes: 256 * MiB, pids: 256 },
      io,
    };
    await engine.ensureRunning(spec);
    try {
      const names = hostNames(engine.ctx.cfg, spec.id);
      const loop = findLoops(names.diskImage)[0];
      assert.ok(loop, "the disk is on a loop device");
      const dev = blockDeviceOf(loop);
      // The runtime wrote the rules on the environment's own device, nowhere else.
      const blkio = engine.ctx.cgroups.paths(names.cgroupPath)["blkio"]!;
      const rules = (f: string) => readFile(path.join(blkio, f), "utf8").then(parseV1Throttle);
      assert.deepEqual(
        [...(await rules("blkio.throttle.write_bps_device"))],
        [[`${dev.major}:${dev.minor}`, LIMIT]],
      );
      assert.deepEqual(
        [...(await rules("blkio.throttle.read_bps_device"))],
        [[`${dev.major}:${dev.minor}`, LIMIT]],
      );
      assert.deepEqual([...(await rules("blkio.throttle.write_iops_device"))], [], "no IOPS limit was set");

      const limitedWrite = rate(await write(spec.id, "a"));
      const limitedRead = rate(await read(spec.id, "a"));
      console.log(
        `${runtime}: limited write ${mibs(limitedWrite)}, read ${mibs(limitedRead)} (limit ${mibs(LIMIT)})`,
      );
      assertNearLimit("write", limitedWrite);
      assertNearLimit("read", limitedRead);

      // The control: the same environment with its limits taken away live.
      await engine.ctx.cgroups.setIoLimits(names.cgroupPath, dev, undefined);
      assert.deepEqual([...(await rules("blkio.throttle.write_bps_device"))], [], "the rule is gone");
      const freeWrite = rate(await write(spec.id, "b"));
      const freeRead = rate(await read(spec.id, "b"));
      console.log(`${runtime}: unlimited write ${mibs(freeWrite)}, read ${mibs(freeRead)}`);
      assert.ok(
        freeWrite > 3 * LIMIT,
        `unlimited write ${mibs(freeWrite)} is not clearly faster than the limit`,
      );
      assert.ok(
        freeRead > 3 * LIMIT,
        `unlimited read ${mibs(freeRead)} is not clearly faster than the limit`,
      );
    } finally {
      await engine.remove(spec.id).catch(() => undefined);
    }
  });
}

test("crun: below the hard floor the largest writer is frozen, its neighbour is not, both resume", {
  skip,
}, async () => {
  const GiB = 1024 ** 3;
  const mk = (n: number, name: string): RunnerEnvSpec => ({
    id: `${TAG}gd000${n}`,
    name,
    slot: 3 + n,
    image: IMAGE,
    runtime: "crun",
    resources: { cpus: 1, memoryBytes: 256 * MiB, diskBytes: 256 * MiB, pids: 256 },
  });
  const writer = mk(1, "writer");
  const quiet = mk(2, "quiet");
  // The host's filesystem as the guard sees it: roomy, then nearly full, then roomy again.
  const space = { freeBytes: 50 * GiB, totalBytes: 100 * GiB };
  const guard = new DiskGuard(engine.ctx.cfg, engine.ctx.cgroups, { space: () => space });
  const freezer = (s: RunnerEnvSpec) =>
    path.join(
      engine.ctx.cgroups.paths(hostNames(engine.ctx.cfg, s.id).cgroupPath)["freezer"]!,
      "freezer.state",
    );
  const state = async (s: RunnerEnvSpec) => (await readFile(freezer(s), "utf8")).trim();
  const log = (s: RunnerEnvSpec) => readFile(hostNames(engine.ctx.cfg, s.id).logFile, "utf8");
  await engine.ensureRunning(writer);
  await engine.ensureRunning(quiet);
  try {
    assert.deepEqual(await guard.pass(), [], "the first sample only records sizes");
    const w = await runExec(engine, writer.id, [
      "dd",
      "if=/dev/zero",
      "of=/workspaces/big",
      "bs=1M",
      "count=16",
      "oflag=direct",
    ]);
    assert.equal(w.code, 0, w.stderr);
    space.freeBytes = GiB / 2;
    assert.deepEqual(
      (await guard.pass()).map((a) => [a.kind, a.id]),
      [["freeze", writer.id]],
    );
    assert.match(await state(writer), /FROZEN|FREEZING/);
    assert.equal(await state(quiet), "THAWED", "the neighbour that wrote nothing keeps running");
    assert.match(
      await log(writer),
      /frozen: the host's disk is nearly full \(512Mi free, below the hard floor of 1Gi\) and this environment wrote the most \(16Mi/,
    );
    const q = await runExec(engine, quiet.id, ["echo", "alive"]);
    assert.equal(q.stdout.trim(), "alive");

    space.freeBytes = 50 * GiB;
    assert.deepEqual(
      (await guard.pass()).map((a) => [a.kind, a.id]),
      [["thaw", writer.id]],
    );
    assert.equal(await state(writer), "THAWED");
    assert.match(await log(writer), /resumed: the host's disk has 50Gi free again/);
    const again = await runExec(engine, writer.id, ["cat", "/proc/self/stat"]);
    assert.equal(again.code, 0, "the writer runs again");
  } finally {
    await engine.remove(writer.id).catch(() => undefined);
    await engine.remove(quiet.id).catch(() => undefined);
  }
});
