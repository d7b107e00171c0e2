// The runner's Feature cache: one directory per content digest under <root>/features/sha256/,
// holding the unpacked Feature (`content/`, extracted by the sandboxed warren-unpack like any
// image layer) and `feature.json` (its id, digest and devcontainer-feature.json). An entry is
// made in a tmp directory and renamed into place, so presence means complete.
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { type FetchedFeature, type ProgressFn, WarrenError } from "@warren/protocol";
import type { EngineContext } from "../engine/context.ts";
import { pidAlive } from "../storage/image-files.ts";
import { sniffCompression, unpackLayer } from "../storage/image-layer-unpack.ts";
import { refuseNestedEngine } from "./features-source.ts";

/** A Feature's files are small (scripts); a bigger one is refused rather than filling the disk. */
export const FEATURE_MAX_BYTES = 256 * 1024 * 1024;
const MAX_METADATA_BYTES = 1024 * 1024;

export interface CachedFeature {
  digest: string;
  id: string;
  metadata: Record<string, unknown>;
  /** Host directory with the Feature's files (install.sh, devcontainer-feature.json, ...). */
  contentDir: string;
}

export function featuresRoot(ctx: EngineContext): string {
  return path.join(ctx.cfg.root, "features");
}

function entryDir(ctx: EngineContext, digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new WarrenError("INVALID_ARGUMENT", `"${digest.slice(0, 80)}" is not a sha256 digest`);
  }
  return path.join(featuresRoot(ctx), "sha256", digest.slice(7));
}

/** The cached Feature with this digest, or null. */
export async function cachedFeature(ctx: EngineContext, digest: string): Promise<CachedFeature | null> {
  const dir = entryDir(ctx, digest);
  const text = await fs.readFile(path.join(dir, "feature.json"), "utf8").catch(() => null);
  if (text === null) return null;
  const rec = JSON.parse(text) as { id: string; metadata: Record<string, unknown> };
  return { digest, id: rec.id, metadata: rec.metadata, contentDir: path.join(dir, "content") };
}

const swept = new Set<string>();

/**
 * A private scratch path under the cache (for downloads, tars, entries and build contexts). The
 * first call in a process removes what crashed runs left (their pid is in the name).
 */
export async function scratchFile(ctx: EngineContext, purpose: string): Promise<string> {
  const dir = path.join(featuresRoot(ctx), "tmp");
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (!swept.has(dir)) {
    swept.add(dir);
    for (const name of await fs.readdir(dir)) {
      const pid = Number(name.split(".")[0]);
      if (pid !== process.pid && !pidAlive(pid))
        await fs.rm(path.join(dir, name), { recursive: true, force: true });
    }
  }
  return path.join(dir, `${process.pid}.${randomBytes(6).toString("hex")}.${purpose}`);
}

/**
 * Writes a stream to `file`, hashing it and stopping at `cap` bytes; returns its sha256 digest.
 * `what` names the source in the error.
 */
export async function saveCapped(source: Readable, file: string, cap: number, what: string): Promise<string> {
  const hash = createHash("sha256");
  const fh = await fs.open(file, "wx", 0o600);
  let n = 0;
  try {
    for await (const c of source) {
      const chunk = c as Buffer;
      n += chunk.length;
      if (n > cap) {
        source.destroy();
        throw tooBig(what, cap);
      }
      hash.update(chunk);
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
  return `sha256:${hash.digest("hex")}`;
}

export function tooBig(what: string, cap: number): WarrenError {
  return new WarrenError(
    "IMAGE_TOO_LARGE",
    `${what} is larger than ${cap / 1024 / 1024} MiB, the cap for a Feature; a Feature holds install scripts, ` +
      "so download big files from install.sh instead of shipping them in the Feature",
    { capBytes: cap },
  );
}

/**
 * Unpacks a Feature archive (tar, or gzip'd tar) already saved at `file` with content `digest`
 * into the cache, reads its devcontainer-feature.json, and returns the entry. Idempotent.
 */
export async function addToCache(
  ctx: EngineContext,
  file: string,
  digest: string,
  what: string,
  progress: ProgressFn,
): Promise<CachedFeature> {
  const have = await cachedFeature(ctx, digest);
  if (have) return have;
  const final = entryDir(ctx, digest);
  const tmp = await scratchFile(ctx, "entry");
  await fs.mkdir(tmp, { mode: 0o700 });
  try {
    const fh = await fs.open(file);
    try {
      const head = Buffer.alloc(4);
      await fh.read(head, 0, 4, 0);
      progress({ phase: "feature", message: `${what}: unpacking` });
      await unpackLayer({
        what,
        source: fh.createReadStream({ start: 0, autoClose: false }),
        compression: sniffCompression(head),
        dest: path.join(tmp, "content"),
        sandbox: { ...(await ctx.images.sandbox()), maxBytes: FEATURE_MAX_BYTES },
      });
    } finally {
      await fh.close();
    }
    const contentDir = path.join(tmp, "content");
    const metadata = await readFeatureMetadata(contentDir, what);
    await requireRegularFile(contentDir, "install.sh", what);
    const id = metadata["id"] as string;
    refuseNestedEngine(id);
    await fs.writeFile(path.join(tmp, "feature.json"), JSON.stringify({ id, digest, metadata }));
    await fs.mkdir(path.dirname(final), { recursive: true, mode: 0o700 });
    await fs.rename(tmp, final).catch(async (err: NodeJS.ErrnoException) => {
      // Another fetch of the same content finished first: keep theirs.
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    });
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  const entry = await cachedFeature(ctx, digest);
  if (!entry) throw new Error(`Feature cache entry ${digest} vanished after it was made`);
  return entry;
}

/**
 * Reads a file the Feature's archive made, never through a symlink (an archive may plant one
 * pointing at a host file) and never more than `max` bytes.
 */
async function readContained(dir: string, name: string, max: number, what: string): Promise<Buffer | null> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(
      path.join(dir, name),
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") throw notRegular(what, name);
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notRegular(what, name);
    if (st.size > max) {
      throw new WarrenError("INVALID_ARGUMENT", `${what}: ${name} is larger than ${max} bytes`);
    }
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

function notRegular(what: string, name: string): WarrenError {
  return new WarrenError(
    "INVALID_ARGUMENT",
    `${what}: ${name} must be a regular file, not a link or a folder`,
  );
}

async function requireRegularFile(dir: string, name: string, what: string): Promise<void> {
  const st = await fs.lstat(path.join(dir, name)).catch(() => null);
  if (!st) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${what} has no ${name} at its top level; a Feature is a folder with devcontainer-feature.json and install.sh`,
    );
  }
  if (!st.isFile()) throw notRegular(what, name);
}

export async function readFeatureMetadata(dir: string, what: string): Promise<Record<string, unknown>> {
  const bytes = await readContained(dir, "devcontainer-feature.json", MAX_METADATA_BYTES, what);
  if (bytes === null) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${what} has no devcontainer-feature.json at its top level; a Feature is a folder with devcontainer-feature.json and install.sh`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${what}: devcontainer-feature.json is not valid JSON: ${(err as Error).message}`,
    );
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new WarrenError("INVALID_ARGUMENT", `${what}: devcontainer-feature.json must be a JSON object`);
  }
  const id = (doc as Record<string, unknown>)["id"];
  if (typeof id !== "string" || !/^[A-Za-z0-9_.-]{1,128}$/.test(id)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${what}: devcontainer-feature.json needs an "id" of letters, digits, . _ - (it names the Feature)`,
    );
  }
  return doc as Record<string, unknown>;
}

export function fetched(source: string, entry: CachedFeature): FetchedFeature {
  return { source, id: entry.id, digest: entry.digest, metadata: entry.metadata };
}
