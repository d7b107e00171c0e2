import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { isWarrenError } from "@warren/protocol";
import {
  DEFAULT_RANGE_COUNT,
  DEFAULT_RANGE_START,
  ensureWarrenRange,
  findFreeStart,
  IDS_PER_ENV,
  maxSlots,
  parseSubidFile,
  readWarrenRange,
  type SubidFiles,
  slotRange,
} from "../src/host/idrange.ts";

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "wt-idrange-"));
});
after(() => rm(dir, { recursive: true, force: true }));

async function files(subuid: string | null, subgid: string | null): Promise<SubidFiles> {
  const f = { subuid: path.join(dir, `subuid${n}`), subgid: path.join(dir, `subgid${n++}`) };
  if (subuid !== null) await writeFile(f.subuid, subuid, { mode: 0o644 });
  if (subgid !== null) await writeFile(f.subgid, subgid, { mode: 0o644 });
  return f;
}

const isInvalid = (re: RegExp) => (err: unknown) => {
  assert.ok(isWarrenError(err, "INVALID_ARGUMENT"), String(err));
  assert.match(err.message, re);
  return true;
};

test("parseSubidFile reads entries and skips comments, blanks and junk", () => {
  assert.deepEqual(parseSubidFile("# c\nalice:100000:65536\n\nbogus\n1000:165536:65536\n"), [
    { name: "alice", start: 100000, count: 65536, line: 2 },
    { name: "1000", start: 165536, count: 65536, line: 5 },
  ]);
});

test("ensureWarrenRange appends to both files, keeps other lines, and is idempotent", async () => {
  const f = await files("alice:100000:65536", "alice:100000:65536\n");
  const first = await ensureWarrenRange(f);
  assert.deepEqual(first.range, { start: DEFAULT_RANGE_START, size: DEFAULT_RANGE_COUNT });
  assert.deepEqual(first.changed, [f.subuid, f.subgid]);
  const want = `alice:100000:65536\nwarren:${DEFAULT_RANGE_START}:${DEFAULT_RANGE_COUNT}\n`;
  assert.equal(await readFile(f.subuid, "utf8"), want);
  assert.equal(await readFile(f.subgid, "utf8"), want);
  assert.equal((await stat(f.subuid)).mode & 0o777, 0o644);
  const second = await ensureWarrenRange(f);
  assert.deepEqual(second, { range: first.range, changed: [] });
  assert.equal(await readFile(f.subuid, "utf8"), want);
  assert.deepEqual(await readWarrenRange(f), first.range);
});

test("ensureWarrenRange creates missing files and skips past occupied ids", async () => {
  const taken = `bob:${DEFAULT_RANGE_START + 5}:10\n`;
  const f = await files(null, taken);
  const { range } = await ensureWarrenRange(f, { count: IDS_PER_ENV * 4 });
  assert.equal(range.start, DEFAULT_RANGE_START + IDS_PER_ENV, "next aligned block after bob");
  assert.equal(await readFile(f.subuid, "utf8"), `warren:${range.start}:${range.size}\n`);
  assert.deepEqual(await readWarrenRange(f), range);
});

test("ensureWarrenRange copies a one-sided entry to the other file", async () => {
  const f = await files("warren:2000000000:131072\n", "");
  const { range, changed } = await ensureWarrenRange(f);
  assert.deepEqual(range, { start: 2000000000, size: 131072 });
  assert.deepEqual(changed, [f.subgid]);
  assert.equal(await readFile(f.subgid, "utf8"), "warren:2000000000:131072\n");
});

test("ensureWarrenRange refuses to copy a range that would overlap, and writes nothing", async () => {
  const f = await files("warren:2000000000:131072\n", "carol:2000000100:5\n");
  await assert.rejects(ensureWarrenRange(f), isInvalid(/overlaps the entry "carol:2000000100:5" \(line 1\)/));
  assert.equal(await readFile(f.subgid, "utf8"), "carol:2000000100:5\n");
});

test("readWarrenRange refuses an overlap, naming the other entry", async () => {
  const text = "alice:100000:65536\nwarren:131072:65536\n";
  const f = await files(text, text);
  await assert.rejects(
    readWarrenRange(f),
    isInvalid(/warren" range 131072-196607 in .*subuid.* overlaps the entry "alice:100000:65536" \(line 1\)/),
  );
});

test("readWarrenRange explains a missing, mismatched, duplicate or misaligned entry", async () => {
  await assert.rejects(
    readWarrenRange(await files("", "")),
    isInvalid(/no "warren" entry in .*subuid.* and .*subgid.*setup\.sh/),
  );
  await assert.rejects(readWarrenRange(await files(null, null)), isInvalid(/no "warren" entry/));
  await assert.rejects(
    readWarrenRange(await files("warren:1073741824:65536\n", "warren:1073741824:131072\n")),
    isInvalid(/entries differ: .* has 1073741824:65536 but .* has 1073741824:131072/),
  );
  const dup = "warren:1073741824:65536\nwarren:2000000000:65536\n";
  await assert.rejects(
    readWarrenRange(await files(dup, dup)),
    isInvalid(/2 "warren" entries \(lines 1, 2\)/),
  );
  const odd = "warren:1073741824:1000\n";
  await assert.rejects(
    readWarrenRange(await files(odd, odd)),
    isInvalid(/has 1000 ids; it must be a positive multiple of 65536/),
  );
  const low = "warren:0:65536\n";
  await assert.rejects(readWarrenRange(await files(low, low)), isInvalid(/must lie between 65536/));
});

test("slots are disjoint 65536-id blocks inside the range", () => {
  const range = { start: DEFAULT_RANGE_START, size: IDS_PER_ENV * 8 };
  assert.equal(maxSlots(range), 8);
  const blocks = Array.from({ length: 8 }, (_, i) => slotRange(range, i));
  assert.deepEqual(blocks[0], { hostStart: DEFAULT_RANGE_START, size: 65536 });
  for (let i = 1; i < blocks.length; i++) {
    assert.equal(
      blocks[i]!.hostStart,
      blocks[i - 1]!.hostStart + blocks[i - 1]!.size,
      "adjacent, not overlapping",
    );
  }
  assert.equal(blocks[7]!.hostStart + 65536, range.start + range.size, "last block ends at the range end");
  for (const bad of [-1, 8, 1.5]) assert.throws(() => slotRange(range, bad), RangeError);
});

test("findFreeStart fails when no block fits below 2^32", () => {
  assert.throws(() => findFreeStart([], 2 ** 32 - IDS_PER_ENV, IDS_PER_ENV * 2), /no free block/);
});
