// The embedded default blob store: files under the control plane's data directory (never a
// runner's state directory, which dies with its host). A put streams into `tmp/`, fsyncs, renames
// into place and fsyncs the directory, so a crash leaves the old object or the new one, never half.
//
// Layout: key "a/b/c" is the file `objects/a/b/c~`. The "~" (not allowed in keys) keeps object
// files apart from directories, so "a/b" and "a/b/c" can both exist, as in S3.
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { WarrenError } from "@warren/protocol";
import {
  asChunks,
  type BlobInfo,
  type BlobRead,
  type BlobStore,
  type ByteRange,
  blobNotFound,
  clipRange,
  type ListPage,
  type PresignOptions,
  requireBlobKey,
  requireBlobPrefix,
  requirePresignOptions,
} from "./types.ts";
import { signBlobPath } from "./url-signer.ts";

const OBJ = "~";
const STALE_PART_MS = 60 * 60 * 1000;

export interface FsBlobStoreOptions {
  /** The store's directory, e.g. `${controlPlaneRoot}/blobs` (fsBlobStoreDir). */
  dir: string;
  /** The control plane's URL as runners reach it (scheme://host:port), for presigned URLs. */
  urlBase?: string | (() => string) | undefined;
  /** The HMAC key presigned URLs are signed with (url-signer.ts). */
  urlKey?: (() => Promise<Buffer>) | undefined;
  /** Milliseconds since the epoch; signing time. */
  now?: (() => number) | undefined;
}

export function fsBlobStoreDir(controlPlaneRoot: string): string {
  return path.join(controlPlaneRoot, "blobs");
}

export function createFsBlobStore(o: FsBlobStoreOptions): BlobStore & { readonly dir: string } {
  const objects = path.join(o.dir, "objects");
  const tmp = path.join(o.dir, "tmp");
  const now = o.now ?? Date.now;
  const fileOf = (key: string) => path.join(objects, ...key.split("/")) + OBJ;
  let ready: Promise<void> | undefined;
  const init = () => {
    ready ??= (async () => {
      await fs.mkdir(objects, { recursive: true, mode: 0o700 });
      await fs.mkdir(tmp, { recursive: true, mode: 0o700 });
      await sweepStaleParts(tmp, Date.now());
    })().catch((err) => {
      ready = undefined;
      throw err;
    });
    return ready;
  };

  const infoOf = (key: string, st: import("node:fs").BigIntStats): BlobInfo => ({
    key,
    size: Number(st.size),
    etag: `${st.ino.toString(16)}-${st.mtimeNs.toString(16)}-${st.size.toString(16)}`,
    modified: new Date(Number(st.mtimeMs)),
  });

  async function head(key: string): Promise<BlobInfo | undefined> {
    requireBlobKey(key);
    const st = await fs.stat(fileOf(key), { bigint: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    return st ? infoOf(key, st) : undefined;
  }

  return {
    kind: "fs",
    dir: o.dir,
    async put(key, body) {
      requireBlobKey(key);
      await init();
      const part = path.join(tmp, `${randomBytes(12).toString("hex")}.part`);
      const fh = await fs.open(part, "wx", 0o600);
      let committed = false;
      try {
        try {
          for await (const chunk of asChunks(body)) await fh.write(chunk);
          await fh.sync();
        } finally {
          await fh.close();
        }
        const dest = fileOf(key);
        // A concurrent delete may remove the (then empty) parent between mkdir and rename.
        for (let attempt = 0; ; attempt++) {
          await fs.mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
          try {
            await fs.rename(part, dest);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 3) throw err;
          }
        }
        committed = true;
        await syncDir(path.dirname(dest));
        const st = await fs.stat(dest, { bigint: true });
        return infoOf(key, st);
      } finally {
        if (!committed) await fs.rm(part, { force: true });
      }
    },
    async get(key, range?: ByteRange): Promise<BlobRead> {
      requireBlobKey(key);
      // Open first: a replace that lands while we stream leaves this reader on the old file.
      const fh = await fs.open(fileOf(key), "r").catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") throw blobNotFound(key);
        throw err;
      });
      try {
        const info = infoOf(key, await fh.stat({ bigint: true }));
        if (info.size === 0 && !range) {
          await fh.close();
          return { info, start: 0, end: -1, body: Readable.from([]) };
        }
        const { start, end } = clipRange(key, info.size, range);
        const body = createReadStream("", { fd: fh, start, end, autoClose: true });
        return { info, start, end, body };
      } catch (err) {
        await fh.close();
        throw err;
      }
    },
    head,
    async list(prefix, lo = {}): Promise<ListPage> {
      requireBlobPrefix(prefix);
      const limit = lo.limit ?? 1000;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new WarrenError("INVALID_ARGUMENT", `list limit ${limit}: give 1 to 1000`);
      const slash = prefix.lastIndexOf("/");
      const base = slash < 0 ? "" : prefix.slice(0, slash);
      const keys: string[] = [];
      await walk(base ? path.join(objects, ...base.split("/")) : objects, base, keys);
      const after = lo.after;
      const matching = keys
        .filter((k) => k.startsWith(prefix) && (after === undefined || k > after))
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const page = matching.slice(0, limit);
      const items: BlobInfo[] = [];
      for (const k of page) {
        const info = await head(k);
        if (info) items.push(info);
      }
      const last = page.at(-1);
      return matching.length > limit && last !== undefined ? { items, next: last } : { items };
    },
    async delete(key) {
      requireBlobKey(key);
      const file = fileOf(key);
      await fs.rm(file, { force: true });
      await syncDir(path.dirname(file)).catch(() => {});
      // Drop directories the delete emptied, so a long-lived store does not collect them.
      let dir = path.dirname(file);
      while (dir.startsWith(objects + path.sep)) {
        try {
          await fs.rmdir(dir);
        } catch {
          break;
        }
        dir = path.dirname(dir);
      }
    },
    async presign(key, po: PresignOptions) {
      requireBlobKey(key);
      requirePresignOptions(po);
      if (!o.urlBase || !o.urlKey)
        throw new WarrenError(
          "INVALID_ARGUMENT",
          "this filesystem blob store has no URL base or key to presign with",
        );
      const secret = await o.urlKey();
      const expires = Math.floor(now() / 1000) + po.expiresIn;
      const base = typeof o.urlBase === "function" ? o.urlBase() : o.urlBase;
      return `${base.replace(/\/+$/, "")}${signBlobPath(secret, { method: po.method, key, expires, contentLength: po.contentLength })}`;
    },
  };
}

async function walk(dir: string, rel: string, out: string[]): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") return [];
    throw err;
  });
  for (const e of entries) {
    const name = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) await walk(path.join(dir, e.name), name, out);
    else if (e.isFile() && e.name.endsWith(OBJ)) out.push(name.slice(0, -OBJ.length));
  }
}

/** Parts a crashed put left behind. Only old ones: another replica may be writing a fresh one. */
async function sweepStaleParts(tmp: string, nowMs: number): Promise<void> {
  for (const name of await fs.readdir(tmp)) {
    const file = path.join(tmp, name);
    const st = await fs.stat(file).catch(() => undefined);
    if (st && nowMs - st.mtimeMs > STALE_PART_MS) await fs.rm(file, { force: true });
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await fs.open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
