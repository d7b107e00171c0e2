// `warren image import PATH [REF]`: an OCI image layout directory, or a tarball of one, becomes
// an image in the store. Every blob is checked against its descriptor and every layer against
// the config's diff_ids; layers already in the store are shared, not unpacked again.
import fs from "node:fs/promises";
import path from "node:path";
import { type ImageInfo, type ProgressFn, WarrenError } from "@warren/protocol";
import { run } from "../host/run.ts";
import { commitImage, diffIdsOf } from "./image-commit.ts";
import { validateRef } from "./image-files.ts";
import { type Compression, sniffCompression, unpackLayer } from "./image-layer-unpack.ts";
import {
  corrupt,
  type Descriptor,
  IMPORTABLE,
  type OciConfig,
  pickManifest,
  readJsonBlob,
  readLayoutIndex,
  statBlob,
  verifyBlob,
} from "./image-oci-layout.ts";
import type { LayerStore } from "./layer-store.ts";

export const LAYER_TYPES = new Set([
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.oci.image.layer.v1.tar+zstd",
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
]);

export async function importOciImage(
  store: LayerStore,
  srcPath: string,
  ref: string | undefined,
  progress: ProgressFn,
): Promise<ImageInfo> {
  if (ref !== undefined) validateRef(ref);
  const st = await fs.stat(srcPath).catch(() => null);
  if (!st) {
    throw new WarrenError("INVALID_ARGUMENT", `${srcPath} does not exist. ${IMPORTABLE}`, {
      path: srcPath,
    });
  }
  let unpacked: string | null = null;
  try {
    let dir = srcPath;
    if (!st.isDirectory()) {
      unpacked = await store.tmpPath("layout");
      progress({ phase: "read", message: `unpacking ${srcPath}` });
      await fs.mkdir(unpacked);
      // GNU tar detects gzip/zstd itself; ownership of blob files does not matter.
      // tar's own message would name the store's scratch directory: it says nothing the user
      // can act on beyond "not an archive".
      await run("tar", ["-xf", srcPath, "-C", unpacked, "--no-same-owner", "--no-same-permissions"]).catch(
        () => {
          throw new WarrenError(
            "INVALID_ARGUMENT",
            `${srcPath} is not an image: it is neither a directory nor a tar archive. ${IMPORTABLE}`,
            { path: srcPath },
          );
        },
      );
      dir = await layoutIn(unpacked);
    }
    return await importLayout(store, dir, ref, progress).catch((err) => {
      throw unpacked ? asUserPath(err, dir, srcPath) : err;
    });
  } finally {
    if (unpacked) await store.releaseTmp(unpacked);
  }
}

/** The layout in an unpacked archive: its top, or the one directory a `tar -c DIR` put there. */
async function layoutIn(unpacked: string): Promise<string> {
  const entries = await fs.readdir(unpacked, { withFileTypes: true });
  const only =
    entries.length === 1 && entries[0]!.isDirectory() ? path.join(unpacked, entries[0]!.name) : null;
  if (!only || entries.some((e) => e.name === "oci-layout")) return unpacked;
  const marker = await fs.stat(path.join(only, "oci-layout")).catch(() => null);
  return marker ? only : unpacked;
}

/** An error about an unpacked archive, naming the archive instead of the store's scratch dir. */
function asUserPath(err: unknown, dir: string, srcPath: string): unknown {
  if (!(err instanceof WarrenError)) return err;
  const fix = (v: unknown) => (typeof v === "string" ? v.replaceAll(dir, srcPath) : v);
  const details = err.details
    ? Object.fromEntries(Object.entries(err.details).map(([k, v]) => [k, fix(v)]))
    : undefined;
  return new WarrenError(err.code, fix(err.message) as string, details);
}

async function importLayout(
  store: LayerStore,
  dir: string,
  ref: string | undefined,
  progress: ProgressFn,
): Promise<ImageInfo> {
  const index = await readLayoutIndex(dir);
  const { manifestDesc, manifest, refName } = await pickManifest(dir, index, ref);
  const config = await readJsonBlob<OciConfig>(dir, manifest.config);
  const diffIds = diffIdsOf(config, manifest);
  const finalRef = chooseRef(ref, refName, manifestDesc.digest);
  return commitImage(store, {
    ref: finalRef,
    digest: manifestDesc.digest,
    manifest,
    config,
    diffIds,
    verb: "imported",
    context: "import",
    progress,
    addLayer: (desc, diffId, what) => importLayer(store, dir, desc, diffId, what, progress),
  });
}

async function importLayer(
  store: LayerStore,
  dir: string,
  desc: Descriptor,
  diffId: string,
  what: string,
  progress: ProgressFn,
): Promise<number> {
  if (desc.mediaType && !LAYER_TYPES.has(desc.mediaType)) {
    throw corrupt(`${desc.digest} has unsupported layer mediaType ${desc.mediaType}`, desc.digest);
  }
  store.layerDir(diffId); // validates the diffid before it names a directory
  const total = desc.size;
  if (await store.hasLayer(diffId)) {
    await verifyBlob(dir, desc);
    progress({ phase: "layer", message: `${what} already present`, current: total, total });
    return store.layerSize(diffId);
  }
  const file = await statBlob(dir, desc);
  const fh = await fs.open(file);
  const tmp = await store.tmpPath("layer");
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    const compression: Compression = sniffCompression(head);
    let last = 0;
    progress({ phase: "layer", message: `${what} unpacking`, current: 0, total });
    const res = await unpackLayer({
      what,
      source: fh.createReadStream({ start: 0, autoClose: false }),
      compression,
      dest: tmp,
      expectBlob: { digest: desc.digest, size: desc.size },
      expectDiffId: diffId,
      sandbox: await store.sandbox(),
      onBytes: (n) => {
        // About 50 events per layer is enough for a progress bar.
        if (n - last < total / 50 && n < total) return;
        last = n;
        progress({ phase: "layer", message: `${what} unpacking`, current: n, total });
      },
    });
    await store.commitLayer(tmp, diffId, res.sizeBytes);
    progress({ phase: "layer", message: `${what} unpacked`, current: total, total });
    return res.sizeBytes;
  } finally {
    await fh.close();
    await store.releaseTmp(tmp);
  }
}

function chooseRef(ref: string | undefined, refName: string | undefined, digest: string): string {
  if (ref !== undefined) return ref;
  if (refName !== undefined) {
    try {
      return validateRef(refName);
    } catch {
      // An annotation that cannot be a ref falls back to the digest name.
    }
  }
  return `imported/${digest.slice(7, 19)}`;
}
