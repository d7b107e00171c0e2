// Log rotation: copy-truncate with N kept copies, by size, also when only "init" writes (the
// periodic pass), and a live O_APPEND writer keeps writing into the live file afterwards.
import assert from "node:assert/strict";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { defaultConfig } from "../src/host/config.ts";
import { appendEvent, rotateIfNeeded } from "../src/logs/env-log.ts";
import { rotateAllLogs } from "../src/logs/log-rotator.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "warren-logrot-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("under the cap nothing rotates; past it the file is copied to .1 and cut to zero", async () => {
  const file = path.join(dir, "console.log");
  writeFileSync(file, "a".repeat(100));
  assert.equal(await rotateIfNeeded(file, { maxBytes: 100, keep: 2 }), false);
  writeFileSync(file, "b".repeat(101));
  assert.equal(await rotateIfNeeded(file, { maxBytes: 100, keep: 2 }), true);
  assert.equal(statSync(file).size, 0);
  assert.equal(readFileSync(`${file}.1`, "utf8"), "b".repeat(101));
});

test("keeps exactly N rotated copies, newest in .1", async () => {
  const file = path.join(dir, "console.log");
  for (const ch of ["1", "2", "3", "4"]) {
    writeFileSync(file, ch.repeat(50), { flag: "a" });
    await rotateIfNeeded(file, { maxBytes: 10, keep: 2 });
  }
  assert.equal(readFileSync(`${file}.1`, "utf8"), "4".repeat(50));
  assert.equal(readFileSync(`${file}.2`, "utf8"), "3".repeat(50));
  assert.equal(existsSync(`${file}.3`), false);
  // keep 0: just cut.
  writeFileSync(file, "x".repeat(50));
  await rotateIfNeeded(file, { maxBytes: 10, keep: 0 });
  assert.equal(statSync(file).size, 0);
  assert.equal(readFileSync(`${file}.1`, "utf8"), "4".repeat(50), "untouched with keep 0");
});

test("a writer holding an O_APPEND fd (like init) keeps writing into the live file after rotation", async () => {
  const file = path.join(dir, "console.log");
  const fd = openSync(file, "a");
  try {
    writeSync(fd, "x".repeat(200));
    await rotateIfNeeded(file, { maxBytes: 100, keep: 1 });
    writeSync(fd, "after\n");
    assert.equal(readFileSync(file, "utf8"), "after\n", "no hole of zeros: O_APPEND writes at the new end");
  } finally {
    closeSync(fd);
  }
});

test("appendEvent rotates on the way", async () => {
  const file = path.join(dir, "console.log");
  writeFileSync(file, "y".repeat(5000));
  await appendEvent(file, "started", { maxBytes: 4096, keep: 2 });
  assert.equal(statSync(file).size, 0);
  assert.match(readFileSync(`${file}.1`, "utf8"), /started\n$/);
});

test("the periodic pass rotates every environment's log that only init wrote to", async () => {
  const ids = ["aaaaaaaaaaaa", "bbbbbbbbbbbb"];
  const logOf = (id: string) => path.join(dir, "envs", id, "console.log");
  for (const id of ids) mkdirSync(path.join(dir, "envs", id), { recursive: true });
  writeFileSync(logOf(ids[0]!), "z".repeat(5000));
  writeFileSync(logOf(ids[1]!), "small");
  mkdirSync(path.join(dir, "envs", "not-an-id"));
  const rotated = await rotateAllLogs({ root: dir }, { maxBytes: 4096, keep: 2 }, logOf);
  assert.deepEqual(rotated, [logOf(ids[0]!)]);
  assert.equal(statSync(logOf(ids[0]!)).size, 0);
  assert.equal(readFileSync(logOf(ids[1]!), "utf8"), "small");
});

test("WARREN_LOG_MAX_BYTES and WARREN_LOG_KEEP configure the cap; bad values are refused", () => {
  const saved = { ...process.env };
  try {
    assert.equal(defaultConfig().logMaxBytes, 8 * 1024 ** 2);
    assert.equal(defaultConfig().logKeep, 2);
    process.env["WARREN_LOG_MAX_BYTES"] = "65536";
    process.env["WARREN_LOG_KEEP"] = "5";
    assert.equal(defaultConfig().logMaxBytes, 65536);
    assert.equal(defaultConfig().logKeep, 5);
    process.env["WARREN_LOG_MAX_BYTES"] = "10k";
    assert.throws(() => defaultConfig(), /WARREN_LOG_MAX_BYTES must be a whole number/);
  } finally {
    process.env = saved;
  }
});
