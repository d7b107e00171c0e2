// Disk I/O limits as the runtimes and the drivers write them: the OCI blockIO rules, the v1
// blkio.throttle lines (0 removes a rule) and the v2 io.max line ("max" where unlimited), the
// v2 driver against a directory laid out like cgroupfs, the device number read from sysfs, and
// the protocol's parsing of the class flags.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { checkIoLimits, formatIoLimits, isWarrenError, parseIoBps, parseIoIops } from "@warren/protocol";
import {
  blockDeviceOf,
  ociBlockIo,
  parseV1Throttle,
  v1ThrottleWrites,
  v2IoMaxLine,
} from "../src/cgroups/io-limits.ts";
import { CgroupV2Driver } from "../src/cgroups/v2.ts";
import { withBlockIo } from "../src/spec/cgroups.ts";
import type { OciSpec } from "../src/spec/types.ts";

const MiB = 1024 ** 2;
const loop3 = { major: 7, minor: 3 };

test("OCI blockIO names the device once per limit set, and nothing when unlimited", () => {
  assert.deepEqual(ociBlockIo(loop3, { writeBps: 50 * MiB, readIops: 2000 }), {
    throttleWriteBpsDevice: [{ major: 7, minor: 3, rate: 50 * MiB }],
    throttleReadIOPSDevice: [{ major: 7, minor: 3, rate: 2000 }],
  });
  assert.equal(ociBlockIo(loop3, {}), undefined);
  assert.equal(ociBlockIo(loop3, undefined), undefined);
});

test("withBlockIo adds blockIO beside the other resources, and leaves them alone when unlimited", () => {
  const spec = { linux: { resources: { cpu: { quota: 50_000 } } } } as unknown as OciSpec;
  withBlockIo(ociBlockIo(loop3, { readBps: MiB }))(spec);
  assert.deepEqual(spec.linux.resources, {
    cpu: { quota: 50_000 },
    blockIO: { throttleReadBpsDevice: [{ major: 7, minor: 3, rate: MiB }] },
  });
  const plain = { linux: { resources: { cpu: { quota: 1 } } } } as unknown as OciSpec;
  withBlockIo(undefined)(plain);
  assert.deepEqual(plain.linux.resources, { cpu: { quota: 1 } });
});

test("v1 writes every throttle file, 0 for a limit not set (which removes an earlier rule)", () => {
  assert.deepEqual(v1ThrottleWrites(loop3, { writeBps: 8 * MiB }), [
    ["blkio.throttle.read_bps_device", "7:3 0"],
    ["blkio.throttle.write_bps_device", `7:3 ${8 * MiB}`],
    ["blkio.throttle.read_iops_device", "7:3 0"],
    ["blkio.throttle.write_iops_device", "7:3 0"],
  ]);
  assert.deepEqual(
    [...parseV1Throttle("7:3 8388608\n259:0 100\nRead 5\n").entries()],
    [
      ["7:3", 8 * MiB],
      ["259:0", 100],
    ],
  );
});

test("v2 io.max is one line with every key", () => {
  assert.equal(v2IoMaxLine(loop3, { readBps: MiB }), `7:3 rbps=${MiB} wbps=max riops=max wiops=max`);
  assert.equal(v2IoMaxLine(loop3, undefined), "7:3 rbps=max wbps=max riops=max wiops=max");
});

test("the v2 driver writes io.max in the environment's group", async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), "wt-cgio-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const cg = "/warren/warren-ab12cd34ef56";
  await mkdir(path.join(root, cg), { recursive: true });
  await writeFile(path.join(root, cg, "io.max"), "");
  await new CgroupV2Driver({ root }).setIoLimits(cg, loop3, { writeBps: 50 * MiB, writeIops: 500 });
  assert.equal(
    await readFile(path.join(root, cg, "io.max"), "utf8"),
    `7:3 rbps=max wbps=${50 * MiB} riops=max wiops=500`,
  );
});

test("the device number comes from sysfs; a name that is not a device is refused", async (t) => {
  const sys = await mkdtemp(path.join(tmpdir(), "wt-sysblock-"));
  t.after(() => rm(sys, { recursive: true, force: true }));
  await mkdir(path.join(sys, "loop12"));
  await writeFile(path.join(sys, "loop12", "dev"), "7:12\n");
  assert.deepEqual(blockDeviceOf("/dev/loop12", sys), { major: 7, minor: 12 });
  assert.throws(() => blockDeviceOf("/dev/..", sys), /not a block device name/);
  assert.throws(() => blockDeviceOf("/dev/loop_x", sys), /not a block device name/);
});

test("class flags: rates with units, whole IOPS, bounds named with the flag", () => {
  assert.equal(parseIoBps("writeBps", "50M"), 50 * MiB);
  assert.equal(parseIoBps("readBps", "1g/s"), 1024 * MiB);
  assert.equal(parseIoIops("writeIops", "2000"), 2000);
  const refuses = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (err: unknown) => isWarrenError(err, "INVALID_ARGUMENT") && re.test(err.message));
  refuses(() => parseIoBps("writeBps", "fast"), /--write-bps "fast" is not a rate: .* e\.g\. 50M/);
  refuses(
    () => parseIoBps("readBps", "100k"),
    /--read-bps 102400 is out of bounds: use 1Mi to 1Ti per second/,
  );
  refuses(() => parseIoIops("readIops", "5"), /--read-iops 5 is out of bounds: use a whole number from 10/);
  refuses(() => parseIoIops("writeIops", "1.5k"), /--write-iops 1\.5k is out of bounds/);
  refuses(() => checkIoLimits({ readBps: 2 * MiB, bogus: 1 }), /unknown I\/O limit "bogus"/);
  assert.deepEqual(checkIoLimits({ readBps: 2 * MiB, writeBps: null }), { readBps: 2 * MiB });
  assert.equal(formatIoLimits({ writeBps: 50 * MiB, writeIops: 2000 }), "w 50Mi/s w 2000 IOPS");
  assert.equal(formatIoLimits({}), "-");
});
