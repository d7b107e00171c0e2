// `warren image pull REF`: resolve the reference to one linux/amd64 image manifest, fetch and
// verify its config, then for each layer not already in the store download it (resumably,
// verified by digest and size), unpack it with the same unpacker as `image import` (which checks
// the digest again and the diffid), and commit it. The ref record is written last, so an image
// is listed only when all of it is there.
import fs from "node:fs/promises";
import path from "node:path";
import {
  type ImageInfo,
  type ProgressFn,
  parseImageRef,
  type RegistryCredential,
  WarrenError,
} from "@warren/protocol";
import { commitImage, diffIdsOf } from "../image-commit.ts";
import { validateRef } from "../image-files.ts";
import { LAYER_TYPES } from "../image-import.ts";
import { sniffCompression, unpackLayer } from "../image-layer-unpack.ts";
import { corrupt, type Descriptor, type OciConfig } from "../image-oci-layout.ts";
import type { LayerStore } from "../layer-store.ts";
import { type BlobDesc, downloadBlob, TransferError } from "./blob-download.ts";
import { RegistryClient } from "./client.ts";
import type { HttpPolicy } from "./http.ts";
import { resolveManifest } from "./resolve.ts";

export interface PullOptions {
  policy: HttpPolicy;
  credential?: RegistryCredential;
  /** Attempts per blob after a broken transfer (each resumes); default 3. */
  retries?: number;
  retryDelayMs?: number;
}

const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
const STALE_DOWNLOAD_MS = 7 * 24 * 3600 * 1000;

export function downloadsDir(store: LayerStore): string {
  return path.join(store.dir, "downloads");
}

export async function pullFromRegistry(
  store: LayerStore,
  refText: string,
  progress: ProgressFn,
  opts: PullOptions,
): Promise<ImageInfo> {
  const ref = parseImageRef(refText.trim());
  validateRef(ref.canonical);
  const dir = downloadsDir(store);
  await sweepStale(dir);
  const client = new RegistryClient(ref, opts.credential, opts.policy);
  progress({ phase: "resolve", message: `resolving ${ref.canonical}` });
  const { digest, manifest } = await resolveManifest(client);
  const fetch = (desc: BlobDesc, onBytes: (n: number) => void) =>
    withRetries(() => downloadBlob(client, desc, dir, onBytes), opts);

  if (manifest.config.size > MAX_CONFIG_BYTES) throw corrupt(`config ${manifest.config.digest} is too large`);
  const cfgFile = await fetch(manifest.config, () => {});
  let config: OciConfig;
  try {
    config = JSON.parse(await fs.readFile(cfgFile, "utf8")) as OciConfig;
  } catch (err) {
    throw corrupt(`config ${manifest.config.digest} is not valid JSON: ${(err as Error).message}`);
  } finally {
    await fs.rm(cfgFile, { force: true });
  }
  const diffIds = diffIdsOf(config, manifest);
  for (const d of diffIds) store.layerDir(d); // validates each before it names a directory
  return commitImage(store, {
    ref: ref.canonical,
    digest,
    manifest,
    config,
    diffIds,
    verb: "pulled",
    context: `pull ${ref.canonical}:`,
    progress,
    addLayer: (desc, diffId, what) => pullLayer(store, desc, diffId, what, progress, fetch),
  });
}

async function pullLayer(
  store: LayerStore,
  desc: Descriptor,
  diffId: string,
  what: string,
  progress: ProgressFn,
  fetch: (desc: BlobDesc, onBytes: (n: number) => void) => Promise<string>,
): Promise<number> {
  if (desc.mediaType && !LAYER_TYPES.has(desc.mediaType)) {
    throw corrupt(`${desc.digest} has unsupported layer mediaType ${desc.mediaType}`, desc.digest);
  }
  const total = desc.size;
  if (await store.hasLayer(diffId)) {
    progress({ phase: "layer", message: `${what} already present`, current: total, total });
    return store.layerSize(diffId);
  }
  let last = -1;
  const file = await fetch(desc, (n) => {
    // About 50 events per layer is enough for a progress bar.
    if (n - last < total / 50 && n < total) return;
    last = n;
    progress({ phase: "layer", message: `${what} downloading`, current: n, total });
  });
  progress({ phase: "layer", message: `${what} unpacking`, current: total, total });
  const tmp = await store.tmpPath("layer");
  const fh = await fs.open(file);
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    const res = await unpackLayer({
      what,
      source: fh.createReadStream({ start: 0, autoClose: false }),
      compression: sniffCompression(head),
      dest: tmp,
      expectBlob: { digest: desc.digest, size: desc.size },
      expectDiffId: diffId,
    });
    await store.commitLayer(tmp, diffId, res.sizeBytes);
    progress({ phase: "layer", message: `${what} unpacked`, current: total, total });
    await fs.rm(file, { force: true });
    return res.sizeBytes;
  } catch (err) {
    // A blob that fails verification must be fetched again; any other failure keeps it.
    if (err instanceof WarrenError && err.code === "IMAGE_CORRUPT") await fs.rm(file, { force: true });
    throw err;
  } finally {
    await fh.close();
    await store.releaseTmp(tmp);
  }
}

async function withRetries<T>(work: () => Promise<T>, opts: PullOptions): Promise<T> {
  const retries = opts.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      const transient =
        err instanceof TransferError || (err instanceof WarrenError && err.code === "REGISTRY_UNAVAILABLE");
      if (!transient || attempt >= retries) {
        if (err instanceof TransferError) {
          throw new WarrenError(
            "REGISTRY_UNAVAILABLE",
            `${err.message}; run the pull again to resume where it stopped`,
          );
        }
        throw err;
      }
      await new Promise((r) => setTimeout(r, (opts.retryDelayMs ?? 500) * 2 ** attempt));
    }
  }
}

/** Partial downloads nobody resumed for a week are given up. */
async function sweepStale(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const cutoff = Date.now() - STALE_DOWNLOAD_MS;
  for (const name of names) {
    const p = path.join(dir, name);
    const st = await fs.stat(p).catch(() => null);
    if (st && st.mtimeMs < cutoff) await fs.rm(p, { force: true });
  }
}
