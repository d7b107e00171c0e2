// Disk templates (prebuilds): a stopped environment's disk image kept under a key in
// <root>/templates/<key>.img, so a new environment's disk starts as a copy of it instead of an
// empty filesystem. Copies are sparse (and reflinks where the filesystem has them), so a template
// costs the host only the blocks written in it.
//
// Files on a disk belong to host ids of the environment that wrote them (its slot's range). A
// copy made for another slot is shifted to that slot's range by host code before the new
// environment ever runs (shiftDiskOwnership): lstat/lchown only, never following a link.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  lchown,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { type SavedTemplate, TEMPLATE_KEY_RE, WarrenError, wrap } from "@warren/protocol";
import type { RunnerConfig } from "../host/config.ts";
import type { HostNames } from "../host/names.ts";
import { run } from "../host/run.ts";
import { unmountDisk } from "./disk.ts";

/** What a template's sidecar (<key>.json) records about the disk it copied. */
export interface TemplateMeta {
  key: string;
  /** The image its writable root layer was made on. */
  image: string;
  /** Host uid/gid that was root inside the environment that wrote it. */
  hostStart: number;
  diskBytes: number;
  savedAt: string;
}

/** Ids of one environment's block (host/idrange.ts slots are 65,536 ids each). */
const SLOT_IDS = 65536;
/** Left in the new environment's dir until its disk's owners are shifted: crash-safe. */
const SHIFT_MARK = "template-shift";

export function checkTemplateKey(key: string): string {
  if (typeof key !== "string" || !TEMPLATE_KEY_RE.test(key)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid disk template key ${JSON.stringify(String(key).slice(0, 40))}: 16 to 128 lower-case hex digits`,
      { field: "template" },
    );
  }
  return key;
}

export function templateFiles(cfg: RunnerConfig, key: string): { image: string; meta: string } {
  const base = path.join(cfg.root, "templates", checkTemplateKey(key));
  return { image: `${base}.img`, meta: `${base}.json` };
}

const tmpName = (file: string) => `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;

async function fsyncPath(p: string, flags = "r"): Promise<void> {
  const fh = await open(p, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Sparse copy; a reflink where the filesystem can (btrfs, XFS), a plain copy where it cannot (ext4). */
async function sparseCopy(from: string, to: string): Promise<void> {
  await run("cp", ["--sparse=always", "--reflink=auto", "--", from, to]);
}

export async function readTemplateMeta(cfg: RunnerConfig, key: string): Promise<TemplateMeta | undefined> {
  const f = templateFiles(cfg, key);
  const text = await readFile(f.meta, "utf8").catch(() => undefined);
  if (text === undefined || !existsSync(f.image)) return undefined;
  const m = JSON.parse(text) as TemplateMeta;
  if (m.key !== key || typeof m.image !== "string" || !Number.isSafeInteger(m.hostStart))
    throw new Error(
      `disk template ${key}: its record ${f.meta} is damaged; remove the prebuild and make it again`,
    );
  return m;
}

/**
 * Copies a stopped environment's disk to template `key`. The disk is unmounted first (a later
 * start mounts it again), so the copy is a clean filesystem. Atomic: the old record goes first,
 * the image and then the new record are renamed into place after fsync; a crash leaves either the
 * old template, or none (a record without its image or an image without its record is no template).
 */
export async function saveDiskTemplate(
  cfg: RunnerConfig,
  names: HostNames,
  key: string,
  o: { image: string; hostStart: number; diskBytes: number },
): Promise<SavedTemplate> {
  const f = templateFiles(cfg, key);
  if (!existsSync(names.diskImage)) {
    throw new WarrenError("ENV_NOT_FOUND", `environment ${names.id} has no disk on this runner to save`);
  }
  await unmountDisk(names);
  await mkdir(path.dirname(f.image), { recursive: true, mode: 0o700 });
  const tmpImage = tmpName(f.image);
  const tmpMeta = tmpName(f.meta);
  try {
    await sparseCopy(names.diskImage, tmpImage);
    await fsyncPath(tmpImage);
    const meta: TemplateMeta = { key, ...o, savedAt: new Date().toISOString() };
    await writeFile(tmpMeta, JSON.stringify(meta), { mode: 0o600 });
    await fsyncPath(tmpMeta);
    await rm(f.meta, { force: true });
    await rename(tmpImage, f.image);
    await rename(tmpMeta, f.meta);
    await fsyncPath(path.dirname(f.image));
  } catch (err) {
    await rm(tmpImage, { force: true });
    await rm(tmpMeta, { force: true });
    throw wrap(`save disk template ${key}`, err);
  }
  const st = await stat(f.image);
  return { key, image: o.image, diskBytes: st.size, usedBytes: st.blocks * 512 };
}

export async function removeDiskTemplate(cfg: RunnerConfig, key: string): Promise<void> {
  const f = templateFiles(cfg, key);
  await rm(f.meta, { force: true });
  await rm(f.image, { force: true });
}

/**
 * Makes the environment's disk image as a copy of template `key`, resized to `sizeBytes` when the
 * template's differs (the filesystem grows, or shrinks if its data fits). Leaves a mark for
 * finishTemplateCopy when the template was written by another slot's ids. Returns its record.
 */
export async function createDiskFromTemplate(
  cfg: RunnerConfig,
  names: HostNames,
  key: string,
  sizeBytes: number,
  hostStart: number,
): Promise<TemplateMeta> {
  const meta = await readTemplateMeta(cfg, key);
  if (!meta) {
    throw new WarrenError(
      "PREBUILD_NOT_FOUND",
      `disk template ${key} is not on this runner (removed, or saved on another runner); run \`warren prebuild --repo URL\` again, or create the environment without it`,
      { template: key },
    );
  }
  const f = templateFiles(cfg, key);
  await mkdir(path.dirname(names.diskImage), { recursive: true });
  const tmp = tmpName(names.diskImage);
  try {
    await sparseCopy(f.image, tmp);
    const size = (await stat(tmp)).size;
    if (size !== sizeBytes) await resizeImage(tmp, size, sizeBytes);
    const mark = path.join(names.envDir, SHIFT_MARK);
    if (meta.hostStart !== hostStart) await writeFile(mark, `${meta.hostStart}\n`);
    else await rm(mark, { force: true });
    await rename(tmp, names.diskImage);
  } catch (err) {
    await rm(tmp, { force: true });
    throw wrap(`create disk from template ${key}`, err);
  }
  return meta;
}

async function resizeImage(file: string, from: number, to: number): Promise<void> {
  // resize2fs wants a checked filesystem; -p repairs only what is safe (a clean copy has nothing).
  await run("e2fsck", ["-f", "-p", file], { allowFail: true }).then((r) => {
    if (r.code > 1)
      throw new Error(`e2fsck ${file}: exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(-300)}`);
  });
  if (to > from) await run("truncate", ["--size", String(to), file]);
  const r = await run("resize2fs", [file, `${Math.floor(to / 1024)}K`], { allowFail: true });
  if (r.code !== 0) {
    throw new WarrenError(
      "INSUFFICIENT_DISK",
      `the prebuilt disk holds more than the environment's ${Math.floor(to / 1024 ** 2)} MiB disk; ask for a larger --disk (the prebuild's was ${Math.floor(from / 1024 ** 2)} MiB)`,
    );
  }
  if (to < from) await run("truncate", ["--size", String(to), file]);
}

/**
 * With the disk mounted: moves the owners of a template copy into this environment's id range
 * (see SHIFT_MARK), then drops the mark. Idempotent: only ids still in the old range move.
 */
export async function finishTemplateCopy(names: HostNames, hostStart: number): Promise<void> {
  const mark = path.join(names.envDir, SHIFT_MARK);
  const text = await readFile(mark, "utf8").catch(() => undefined);
  if (text === undefined) return;
  const from = Number(text.trim());
  if (!Number.isSafeInteger(from) || from < 0) throw new Error(`${mark}: not a host id`);
  await shiftDiskOwnership(names.diskMount, from, hostStart).catch((e) => {
    throw wrap("move the prebuilt disk's files to this environment's ids", e);
  });
  await rm(mark, { force: true });
}

/**
 * Every inode under `root` owned by an id in [from, from+65536) gets the same offset in
 * [to, to+65536). lstat + lchown never follow a link; other filesystems are not entered; set-id
 * bits that chown clears are put back (chmod on a non-link only). Nothing else runs on this disk
 * while it happens: the environment has not started.
 */
export async function shiftDiskOwnership(root: string, from: number, to: number): Promise<number> {
  const shift = (id: number) => (id >= from && id < from + SLOT_IDS ? id - from + to : id);
  const top = await lstat(root);
  let changed = 0;
  const dirs: string[] = [];
  const visit = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.dev !== top.dev) return;
    if (st.isDirectory()) dirs.push(p);
    const uid = shift(st.uid);
    const gid = shift(st.gid);
    if (uid === st.uid && gid === st.gid) return;
    await lchown(p, uid, gid);
    changed++;
    if (!st.isSymbolicLink() && st.mode & 0o6000) await chmod(p, st.mode & 0o7777);
  };
  await visit(root);
  while (dirs.length > 0) {
    const dir = dirs.pop() as string;
    const entries = await readdir(dir);
    for (let i = 0; i < entries.length; i += 64) {
      await Promise.all(entries.slice(i, i + 64).map((e) => visit(path.join(dir, e))));
    }
  }
  return changed;
}
