import assert from "node:assert/strict";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { defaultConfig } from "../src/host/config.ts";
import {
  checkDiskAdmission,
  DISK_FLOOR_MIN_BYTES,
  diskFloorBytes,
  diskSpace,
  freeBytes,
  unclaimedBytes,
} from "../src/storage/admission.ts";

const GiB = 1024 ** 3;
const cfg = defaultConfig({ root: "/nonexistent/warren-test-root", diskReserveBytes: 2 * GiB });
const freeIs = (bytes: number) => () => bytes;

test("admits a disk that fits beside existing promises and the reserve", () => {
  // 20 GiB free - 2 GiB reserve = 18 GiB usable; 8 promised + 10 requested = 18 fits exactly.
  assert.doesNotThrow(() => checkDiskAdmission(cfg, 8 * GiB, 10 * GiB, freeIs(20 * GiB)));
});

test("refuses one byte past the limit with figures and a fix", () => {
  assert.throws(
    () => checkDiskAdmission(cfg, 8 * GiB, 10 * GiB + 1, freeIs(20 * GiB)),
    (err: unknown) => {
      assert.ok(isWarrenError(err, "INSUFFICIENT_DISK"));
      assert.match(err.message, /10Gi disk/);
      assert.match(err.message, /10Gi is available/);
      assert.match(err.message, /20Gi free/);
      assert.match(err.message, /2Gi reserved/);
      assert.match(err.message, /8Gi promised/);
      assert.match(err.message, /smaller --disk/);
      assert.equal(err.details?.["availableBytes"], 10 * GiB);
      return true;
    },
  );
});

test("reports zero available when the reserve exceeds free space", () => {
  assert.throws(
    () => checkDiskAdmission(cfg, 0, GiB, freeIs(GiB)),
    (err: unknown) => isWarrenError(err, "INSUFFICIENT_DISK") && /0 is available/.test(err.message),
  );
});

test("freeBytes reads the nearest existing ancestor of a missing root", () => {
  const bytes = freeBytes(cfg);
  assert.ok(Number.isSafeInteger(bytes) && bytes > 0, `free bytes ${bytes}`);
});

test("unclaimedBytes counts what a sparse image may still grow into", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "wt-adm-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "sparse.img");
  writeFileSync(file, Buffer.alloc(4096, 1));
  truncateSync(file, 1024 * 1024); // the extension is a hole: promised, not yet taken
  const unclaimed = unclaimedBytes(file);
  assert.ok(unclaimed >= 1024 * 1024 - 8192 && unclaimed <= 1024 * 1024 - 4096, `unclaimed ${unclaimed}`);
});

test("a class's disk overcommit promises the usable space that many times over", () => {
  // 20 GiB free - 2 GiB reserve = 18 GiB usable; at 4:1, 72 GiB may be promised.
  assert.doesNotThrow(() => checkDiskAdmission(cfg, 62 * GiB, 10 * GiB, freeIs(20 * GiB), 4));
  assert.throws(
    () => checkDiskAdmission(cfg, 62 * GiB, 10 * GiB + 1, freeIs(20 * GiB), 4),
    (err: unknown) =>
      isWarrenError(err, "INSUFFICIENT_DISK") &&
      /promised up to 4:1/.test(err.message) &&
      /10Gi is available/.test(err.message),
  );
  // A ratio below 1 (or not a number) never shrinks what 1:1 admits.
  assert.doesNotThrow(() => checkDiskAdmission(cfg, 8 * GiB, 10 * GiB, freeIs(20 * GiB), 0.5));
  assert.throws(() => checkDiskAdmission(cfg, 8 * GiB, 10 * GiB + 1, freeIs(20 * GiB), Number.NaN));
});

test("the free-disk floor is max(5 GiB, 5 % of the filesystem) unless the knob sets it", () => {
  assert.equal(
    diskFloorBytes({}, 40 * GiB),
    DISK_FLOOR_MIN_BYTES,
    "5 % of 40 GiB is 2 GiB: the minimum wins",
  );
  assert.equal(diskFloorBytes({}, 252 * GiB), Math.ceil(252 * GiB * 0.05), "5 % of 252 GiB is 12.6 GiB");
  assert.equal(diskFloorBytes({ diskFloorBytes: GiB }, 252 * GiB), GiB, "the knob wins");
  assert.equal(diskFloorBytes({ diskFloorBytes: 0 }, 252 * GiB), 0, "0 turns the floor off");
});

test("the knob comes from $WARREN_DISK_FLOOR, and diskSpace reads free and total", () => {
  process.env["WARREN_DISK_FLOOR"] = String(3 * GiB);
  try {
    assert.equal(defaultConfig({ root: "/nonexistent/x" }).diskFloorBytes, 3 * GiB);
  } finally {
    delete process.env["WARREN_DISK_FLOOR"];
  }
  assert.equal(defaultConfig({ root: "/nonexistent/x" }).diskFloorBytes, undefined);
  const s = diskSpace(cfg);
  assert.ok(s.totalBytes >= s.freeBytes && s.freeBytes > 0, JSON.stringify(s));
});
