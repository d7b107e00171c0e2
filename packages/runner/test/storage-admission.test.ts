import assert from "node:assert/strict";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import { defaultConfig } from "../src/host/config.ts";
import { checkDiskAdmission, freeBytes, unclaimedBytes } from "../src/storage/admission.ts";

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
