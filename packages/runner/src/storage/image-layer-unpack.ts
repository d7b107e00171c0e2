// Unpacks one layer stream into a new directory: decompress, hash (compressed digest and diffid),
// vet every tar header, extract with GNU tar as root (ownership, modes, xattrs, devices kept as
// numbers in the archive), then turn OCI whiteouts into overlayfs ones. The caller renames the
// directory into the store only after every digest matched.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import { type Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { WarrenError } from "@warren/protocol";
import { TarScanner } from "./image-tar-scan.ts";
import { convertWhiteouts } from "./image-whiteouts.ts";

export type Compression = "none" | "gzip" | "zstd";

export interface UnpackOptions {
  /** Short name for messages, e.g. "layer 2/3 sha256:ab12..". */
  what: string;
  source: Readable;
  compression: Compression;
  /** Directory to create and extract into; must not exist. */
  dest: string;
  /** When set, the raw (possibly compressed) stream must match this digest and size. */
  expectBlob?: { digest: string; size: number };
  /** When set, the uncompressed tar must hash to this diffid. */
  expectDiffId?: string;
  /** Called with the count of raw bytes read so far. */
  onBytes?: (bytes: number) => void;
}

export interface UnpackResult {
  diffId: string;
  /** Bytes of the uncompressed tar stream. */
  sizeBytes: number;
  whiteouts: number;
}

/** Reads the magic bytes, because some tools label plain tars as gzip. */
export function sniffCompression(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  return "none";
}

const TAR_ARGS = [
  "-x",
  "-f",
  "-",
  "--numeric-owner",
  "--same-owner",
  "--same-permissions",
  "--xattrs",
  "--xattrs-include=*",
  // trusted.overlay.* in a lower layer would steer overlayfs (redirects, opaque dirs) behind the
  // OCI format's back; whiteouts are the only way a layer may say that.
  "--xattrs-exclude=trusted.*",
  "--warning=no-unknown-keyword",
];

export async function unpackLayer(opts: UnpackOptions): Promise<UnpackResult> {
  await fs.mkdir(opts.dest);
  // The layer root becomes `/` unless the tar has a `./` entry; never let a umask narrow it.
  await fs.chmod(opts.dest, 0o755);
  const blobHash = createHash("sha256");
  const tarHash = createHash("sha256");
  let blobBytes = 0;
  let tarBytes = 0;
  let forwarded = 0;
  let decompressFailed: Error | null = null;
  const scanner = new TarScanner(opts.what);

  // Directories implied by entries get tar's default mode less the umask; pin it like dockerd does.
  const tar = spawn("sh", ["-c", 'umask 022 && exec tar "$@"', "tar", ...TAR_ARGS, "-C", opts.dest], {
    stdio: ["pipe", "ignore", "pipe"],
  });
  const tarErr: Buffer[] = [];
  tar.stderr.on("data", (d: Buffer) => tarErr.push(d));
  const tarExit = new Promise<number>((resolve, reject) => {
    tar.on("error", (e) => reject(new Error(`tar: ${e.message}`)));
    tar.on("close", (code) => resolve(code ?? 128));
  });
  // A tar that exits early closes its stdin; that surfaces as its exit status, not as EPIPE.
  tar.stdin.on("error", () => {});

  const countRaw = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      blobHash.update(chunk);
      blobBytes += chunk.length;
      opts.onBytes?.(blobBytes);
      cb(null, chunk);
    },
  });
  const stages: (Readable | Transform | Writable)[] = [opts.source, countRaw];
  if (opts.compression !== "none") {
    const d = opts.compression === "gzip" ? zlib.createGunzip() : zlib.createZstdDecompress();
    d.on("error", (e) => {
      decompressFailed = e;
    });
    stages.push(d);
  }
  const toTar = new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        scanner.push(chunk);
      } catch (err) {
        cb(err as Error);
        return;
      }
      tarHash.update(chunk);
      tarBytes += chunk.length;
      // After the end-of-archive marker only hashing matters; tar may already have exited.
      const limit = scanner.endOffset ?? Number.POSITIVE_INFINITY;
      const part = chunk.subarray(0, Math.max(0, Math.min(chunk.length, limit - forwarded)));
      forwarded += part.length;
      if (part.length === 0 || tar.stdin.destroyed || tar.stdin.write(part)) cb();
      else tar.stdin.once("drain", () => cb());
    },
    final(cb) {
      tar.stdin.end();
      cb();
    },
  });
  stages.push(toTar);

  try {
    try {
      await pipeline(stages);
    } catch (err) {
      tar.kill("SIGKILL");
      await tarExit.catch(() => {});
      if (decompressFailed) {
        throw new WarrenError(
          "IMAGE_CORRUPT",
          `${opts.what}: cannot decompress (${opts.compression}): ${err}`,
        );
      }
      throw err;
    }
    const code = await tarExit;
    if (opts.expectBlob) {
      const got = `sha256:${blobHash.digest("hex")}`;
      if (got !== opts.expectBlob.digest || blobBytes !== opts.expectBlob.size) {
        throw new WarrenError(
          "IMAGE_CORRUPT",
          `${opts.what}: blob ${opts.expectBlob.digest} does not match its descriptor ` +
            `(read ${blobBytes} bytes hashing to ${got}, expected ${opts.expectBlob.size} bytes); ` +
            "the layout is damaged: export or download it again",
          { digest: opts.expectBlob.digest },
        );
      }
    }
    const diffId = `sha256:${tarHash.digest("hex")}`;
    if (opts.expectDiffId && diffId !== opts.expectDiffId) {
      throw new WarrenError(
        "IMAGE_CORRUPT",
        `${opts.what}: uncompressed layer hashes to ${diffId}, but the image config says ${opts.expectDiffId}`,
        { digest: opts.expectDiffId },
      );
    }
    if (scanner.endOffset === null) {
      throw new WarrenError("IMAGE_CORRUPT", `${opts.what}: the tar stream is truncated (no end marker)`);
    }
    if (code !== 0) {
      const msg = Buffer.concat(tarErr).toString().trim().split("\n").slice(-3).join("; ");
      throw new Error(`tar -x exited ${code}: ${msg}`);
    }
    const whiteouts = await convertWhiteouts(opts.dest, scanner.whiteouts);
    return { diffId, sizeBytes: tarBytes, whiteouts };
  } catch (err) {
    await fs.rm(opts.dest, { recursive: true, force: true });
    throw err;
  }
}
