// Unpacks one layer stream into a new directory: decompress, hash (compressed digest and diffid),
// vet every tar header (image-tar-scan.ts, for clear errors), then hand the bytes to the
// sandboxed native extractor `warren-unpack` (image-unpack-sandbox.ts), which writes as root of
// an unprivileged user namespace through openat2-confined paths and converts OCI whiteouts into
// overlayfs ones. The expanded size is capped: a decompression bomb stops at the cap, not when
// the disk is full. The caller renames the directory into the store only after every digest
// matched.
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import { type Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { WarrenError } from "@warren/protocol";
import { TarScanner } from "./image-tar-scan.ts";
import { defaultSandbox, startUnpackHelper, type UnpackSandbox } from "./image-unpack-sandbox.ts";

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
  /** Helper, id block and size cap; defaults to the runner's (defaultSandbox()). */
  sandbox?: UnpackSandbox;
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

export async function unpackLayer(opts: UnpackOptions): Promise<UnpackResult> {
  const sandbox = opts.sandbox ?? (await defaultSandbox());
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

  let tar: ReturnType<typeof startUnpackHelper>;
  try {
    tar = startUnpackHelper(sandbox, opts.dest, opts.what);
  } catch (err) {
    await fs.rm(opts.dest, { recursive: true, force: true });
    throw err;
  }
  // A refusal by the helper stops reading the blob at once (see write() below); the error itself
  // surfaces through `await tar.done`, never as an unhandled rejection.
  let helperError: Error | null = null;
  tar.done.catch((e: Error) => {
    helperError = e;
  });

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
      if (helperError) {
        cb(helperError);
        return;
      }
      try {
        scanner.push(chunk);
      } catch (err) {
        cb(err as Error);
        return;
      }
      tarHash.update(chunk);
      tarBytes += chunk.length;
      if (tarBytes > sandbox.maxBytes) {
        // Checked on the decompressed bytes as they arrive, so a bomb stops here, early.
        cb(tooLarge(opts.what, sandbox.maxBytes));
        return;
      }
      // After the end-of-archive marker only hashing matters; tar may already have exited.
      const limit = scanner.endOffset ?? Number.POSITIVE_INFINITY;
      const part = chunk.subarray(0, Math.max(0, Math.min(chunk.length, limit - forwarded)));
      forwarded += part.length;
      if (part.length === 0 || tar.stdin.destroyed || tar.stdin.write(part)) {
        cb();
        return;
      }
      // "close" too: a helper that exits never drains, and a pending callback would hang.
      const go = () => {
        tar.stdin.off("drain", go);
        tar.stdin.off("close", go);
        cb();
      };
      tar.stdin.once("drain", go);
      tar.stdin.once("close", go);
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
      tar.kill();
      await tar.done.catch(() => {});
      // Our own refusals (scanner, cap, helper) also tear the decompressor down; keep them.
      if (decompressFailed && !(err instanceof WarrenError)) {
        throw new WarrenError(
          "IMAGE_CORRUPT",
          `${opts.what}: cannot decompress (${opts.compression}): ${err}`,
        );
      }
      throw err;
    }
    const helperFailed = await tar.done.then(
      () => null,
      (e: unknown) => e as Error,
    );
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
    if (helperFailed) throw helperFailed;
    return { diffId, sizeBytes: tarBytes, whiteouts: scanner.whiteouts.length };
  } catch (err) {
    await fs.rm(opts.dest, { recursive: true, force: true });
    throw err;
  }
}

function tooLarge(what: string, cap: number): WarrenError {
  return new WarrenError(
    "IMAGE_TOO_LARGE",
    `${what}: the layer expands past the cap of ${cap} bytes; refusing to unpack it ` +
      "(raise WARREN_LAYER_MAX to allow bigger layers)",
    { capBytes: cap },
  );
}
