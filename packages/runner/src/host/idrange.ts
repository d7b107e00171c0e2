// The host's id range for environments. Root inside an environment is an unprivileged uid
// outside; each environment gets a disjoint block of 65,536 ids (a full 16-bit range, so images
// with high uids such as nobody=65534 work) taken from ONE block reserved under `warren` in
// /etc/subuid and /etc/subgid. Reserving it there tells useradd and other tools not to hand the
// same ids to users. Startup refuses a range that overlaps anyone else's: two owners of one uid
// can read each other's files.
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { WarrenError, wrap } from "@warren/protocol";
import type { IdMap } from "../storage/types.ts";

export const WARREN_SUBID_NAME = "warren";
export const IDS_PER_ENV = 65536;
/** 2^30: far above Debian's SUB_UID range (100000-600100000) that useradd allocates from. */
export const DEFAULT_RANGE_START = 2 ** 30;
export const DEFAULT_RANGE_COUNT = IDS_PER_ENV * 4096;
/** uid_t is 32 bits and (uid_t)-1 means "no id". */
const MAX_ID = 2 ** 32 - 2;

export interface SubidFiles {
  subuid: string;
  subgid: string;
}
export const DEFAULT_SUBID_FILES: SubidFiles = { subuid: "/etc/subuid", subgid: "/etc/subgid" };

export interface SubidEntry {
  name: string;
  start: number;
  count: number;
  /** 1-based line number, for messages. */
  line: number;
}

export interface IdRange {
  start: number;
  size: number;
}

/** Parses "name:start:count" lines; blank lines, comments and malformed lines are skipped. */
export function parseSubidFile(text: string): SubidEntry[] {
  const out: SubidEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const m = /^([^:#\s][^:]*):(\d+):(\d+)$/.exec(raw.trim());
    if (m) out.push({ name: m[1]!, start: Number(m[2]), count: Number(m[3]), line: i + 1 });
  });
  return out;
}

const overlaps = (a: IdRange, b: SubidEntry) => a.start < b.start + b.count && b.start < a.start + a.size;
const lastId = (r: IdRange) => r.start + r.size - 1;
const fail = (message: string, details?: Record<string, unknown>) =>
  new WarrenError("INVALID_ARGUMENT", message, details);

/** The warren entry of one file after checking it; null when there is none. */
function warrenEntryOf(file: string, entries: SubidEntry[]): IdRange | null {
  const mine = entries.filter((e) => e.name === WARREN_SUBID_NAME);
  if (mine.length === 0) return null;
  if (mine.length > 1) {
    const lines = mine.map((e) => e.line).join(", ");
    throw fail(`${file} has ${mine.length} "warren" entries (lines ${lines}): delete all but one`);
  }
  const range = { start: mine[0]!.start, size: mine[0]!.count };
  if (range.size === 0 || range.size % IDS_PER_ENV !== 0) {
    throw fail(
      `the "warren" range in ${file} has ${range.size} ids; it must be a positive multiple of ` +
        `${IDS_PER_ENV} (one block per environment). Fix the count on line ${mine[0]!.line}.`,
    );
  }
  if (range.start < IDS_PER_ENV || lastId(range) > MAX_ID) {
    throw fail(
      `the "warren" range ${range.start}-${lastId(range)} in ${file} must lie between ` +
        `${IDS_PER_ENV} (above system ids) and ${MAX_ID}. Fix line ${mine[0]!.line}.`,
    );
  }
  for (const other of entries) {
    if (other.name !== WARREN_SUBID_NAME && overlaps(range, other)) {
      throw fail(
        `the "warren" range ${range.start}-${lastId(range)} in ${file} overlaps the entry ` +
          `"${other.name}:${other.start}:${other.count}" (line ${other.line}), so environments would ` +
          `share ids with ${other.name}. Delete the warren line from /etc/subuid and /etc/subgid ` +
          `and rerun scripts/setup.sh to reserve a free block, or move ${other.name}'s range.`,
        { other: other.name },
      );
    }
  }
  return range;
}

/** Checks both files' contents and returns the warren range (pure; for tests and preflight). */
export function checkWarrenRange(
  subuidText: string,
  subgidText: string,
  files = DEFAULT_SUBID_FILES,
): IdRange {
  const uid = warrenEntryOf(files.subuid, parseSubidFile(subuidText));
  const gid = warrenEntryOf(files.subgid, parseSubidFile(subgidText));
  if (!uid || !gid) {
    const missing = [!uid && files.subuid, !gid && files.subgid].filter(Boolean).join(" and ");
    throw fail(
      `no "warren" entry in ${missing}: run scripts/setup.sh as root (it runs ` +
        `node packages/runner/src/host/setup-host.ts) to reserve the environments' id range`,
    );
  }
  if (uid.start !== gid.start || uid.size !== gid.size) {
    throw fail(
      `the "warren" entries differ: ${files.subuid} has ${uid.start}:${uid.size} but ${files.subgid} ` +
        `has ${gid.start}:${gid.size}. Make them the same (uid N maps with gid N inside environments).`,
    );
  }
  return uid;
}

async function readOrEmpty(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  }
}

/** Reads and checks the warren range; throws a WarrenError that says how to fix the files. */
export async function readWarrenRange(files = DEFAULT_SUBID_FILES): Promise<IdRange> {
  return checkWarrenRange(await readOrEmpty(files.subuid), await readOrEmpty(files.subgid), files);
}

/** Lowest start >= `from` (aligned to a block) where `count` ids overlap no entry. */
export function findFreeStart(entries: SubidEntry[], from: number, count: number): number {
  let start = from;
  for (;;) {
    const hit = entries.find((e) => overlaps({ start, size: count }, e));
    if (!hit) break;
    start = Math.ceil((hit.start + hit.count) / IDS_PER_ENV) * IDS_PER_ENV;
  }
  if (start + count - 1 > MAX_ID) {
    throw fail(`no free block of ${count} ids above ${from} in the subordinate id files`);
  }
  return start;
}

/** Replaces a file's contents in one rename, keeping its mode, so readers never see half a file. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const mode = await stat(file).then(
    (s) => s.mode & 0o7777,
    () => 0o644,
  );
  const tmp = `${file}.warren-${process.pid}`;
  try {
    await writeFile(tmp, text, { mode });
    await rename(tmp, file);
  } catch (err) {
    throw wrap(`write ${file}`, err);
  }
}

const appendLine = (text: string, line: string) =>
  `${text}${text !== "" && !text.endsWith("\n") ? "\n" : ""}${line}\n`;

/**
 * Reserves the warren range in both files if it is missing (idempotent). A range present in only
 * one file is copied to the other. Returns the range and which files were changed.
 */
export async function ensureWarrenRange(
  files = DEFAULT_SUBID_FILES,
  opts: { start?: number; count?: number } = {},
): Promise<{ range: IdRange; changed: string[] }> {
  const uidText = await readOrEmpty(files.subuid);
  const gidText = await readOrEmpty(files.subgid);
  const uidEntries = parseSubidFile(uidText);
  const gidEntries = parseSubidFile(gidText);
  const uid = warrenEntryOf(files.subuid, uidEntries);
  const gid = warrenEntryOf(files.subgid, gidEntries);
  if (uid && gid) return { range: checkWarrenRange(uidText, gidText, files), changed: [] };

  let range = uid ?? gid;
  if (!range) {
    const count = opts.count ?? DEFAULT_RANGE_COUNT;
    range = {
      start: findFreeStart([...uidEntries, ...gidEntries], opts.start ?? DEFAULT_RANGE_START, count),
      size: count,
    };
  }
  const line = `${WARREN_SUBID_NAME}:${range.start}:${range.size}`;
  const newUid = uid ? uidText : appendLine(uidText, line);
  const newGid = gid ? gidText : appendLine(gidText, line);
  // Check the result before writing anything: a copied range may overlap the other file.
  checkWarrenRange(newUid, newGid, files);
  const changed: string[] = [];
  if (!uid) {
    await writeAtomic(files.subuid, newUid);
    changed.push(files.subuid);
  }
  if (!gid) {
    await writeAtomic(files.subgid, newGid);
    changed.push(files.subgid);
  }
  return { range, changed };
}

export function maxSlots(range: IdRange): number {
  return Math.floor(range.size / IDS_PER_ENV);
}

/** The host ids of environment slot `slot`: 0 inside maps to hostStart outside. */
export function slotRange(range: IdRange, slot: number): IdMap {
  if (!Number.isInteger(slot) || slot < 0 || slot >= maxSlots(range)) {
    throw new RangeError(`id slot ${slot} is outside the warren range (0-${maxSlots(range) - 1})`);
  }
  return { hostStart: range.start + slot * IDS_PER_ENV, size: IDS_PER_ENV };
}
