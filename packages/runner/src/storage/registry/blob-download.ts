// Downloads one blob into the store's download area, resumably. A partial download is kept as
// `<hex>.partial` (keyed by digest, so any later pull of any image continues it with an HTTP
// Range request); a complete, verified one is renamed to `<hex>` and is not fetched again, even
// when unpacking it failed for another reason. Size and digest are checked before the rename.
import { createHash, type Hash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { WarrenError } from "@warren/protocol";
import type { RegistryClient } from "./client.ts";

export interface BlobDesc {
  digest: string;
  size: number;
}

/** Thrown for transfer failures worth retrying (the partial file is kept). */
export class TransferError extends Error {}

const inFlight = new Map<string, Promise<string>>();

export function blobFile(dir: string, digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new WarrenError("IMAGE_CORRUPT", `unsupported or malformed digest ${JSON.stringify(digest)}`);
  }
  return path.join(dir, digest.slice(7));
}

/** One download per digest at a time in this process; concurrent pulls share it. */
export function downloadBlob(
  client: RegistryClient,
  desc: BlobDesc,
  dir: string,
  onBytes: (n: number) => void,
): Promise<string> {
  const key = `${dir}\0${desc.digest}`;
  let p = inFlight.get(key);
  if (!p) {
    p = download(client, desc, dir, onBytes).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

async function download(
  client: RegistryClient,
  desc: BlobDesc,
  dir: string,
  onBytes: (n: number) => void,
): Promise<string> {
  if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw new WarrenError("IMAGE_CORRUPT", `descriptor of ${desc.digest} has an invalid size`);
  }
  const done = blobFile(dir, desc.digest);
  const partial = `${done}.partial`;
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await fs.stat(done).catch(() => null);
  if (st?.size === desc.size) {
    onBytes(desc.size);
    return done;
  }
  if (st) await fs.rm(done, { force: true });

  const hash = createHash("sha256");
  const have = await hashPrefix(partial, hash, desc.size);
  onBytes(have);
  const res = await client.blob(desc.digest, have);
  if (res.status === 416) return restart(partial, "the registry refused the resume offset");
  if (have > 0 && res.status === 200) {
    // The registry ignored the Range and sends the whole blob: take it from zero.
    return finish(res.body, partial, done, desc, createHash("sha256"), 0, onBytes);
  }
  if (res.status === 206) {
    const m = /^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""));
    if (!m || Number(m[1]) !== have) {
      res.body.destroy();
      return restart(partial, "the registry answered the resume with another range");
    }
  }
  return finish(res.body, partial, done, desc, hash, have, onBytes);
}

async function restart(partial: string, why: string): Promise<never> {
  await fs.rm(partial, { force: true });
  throw new TransferError(why);
}

/** Hashes the bytes already downloaded; a partial longer than the blob is discarded. */
async function hashPrefix(file: string, hash: Hash, size: number): Promise<number> {
  const fh = await fs.open(file, "r").catch(() => null);
  if (!fh) return 0;
  try {
    const st = await fh.stat();
    if (st.size > size) {
      await fh.close();
      await fs.truncate(file, 0);
      return 0;
    }
    let n = 0;
    for await (const c of fh.createReadStream({ autoClose: false })) {
      hash.update(c as Buffer);
      n += (c as Buffer).length;
    }
    return n;
  } finally {
    await fh.close().catch(() => {});
  }
}

async function finish(
  body: AsyncIterable<unknown> & { destroy(): void },
  partial: string,
  done: string,
  desc: BlobDesc,
  hash: Hash,
  start: number,
  onBytes: (n: number) => void,
): Promise<string> {
  const fh = await fs.open(partial, start > 0 ? "a" : "w", 0o600);
  let n = start;
  try {
    for await (const c of body) {
      const chunk = c as Buffer;
      n += chunk.length;
      if (n > desc.size) {
        body.destroy();
        await fh.close();
        await fs.rm(partial, { force: true });
        throw corrupt(desc, `the registry sent more than its ${desc.size} bytes`);
      }
      hash.update(chunk);
      await fh.write(chunk);
      onBytes(n);
    }
  } catch (err) {
    await fh.close().catch(() => {});
    if (err instanceof WarrenError) throw err;
    // Connection cut or stalled: keep what arrived for the next attempt.
    throw new TransferError(
      `download of ${desc.digest.slice(0, 19)} broke at ${n} bytes: ${(err as Error).message}`,
    );
  }
  await fh.sync();
  await fh.close();
  if (n < desc.size)
    throw new TransferError(`download of ${desc.digest.slice(0, 19)} ended at ${n} of ${desc.size} bytes`);
  const got = `sha256:${hash.digest("hex")}`;
  if (got !== desc.digest) {
    await fs.rm(partial, { force: true });
    throw corrupt(desc, `it hashes to ${got}`);
  }
  await fs.rename(partial, done);
  return done;
}

function corrupt(desc: BlobDesc, why: string): WarrenError {
  return new WarrenError(
    "IMAGE_CORRUPT",
    `blob ${desc.digest} from the registry does not match its descriptor: ${why}; it was discarded`,
    { digest: desc.digest },
  );
}
