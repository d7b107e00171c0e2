// A built image (buildah's push to an OCI layout) into Warren's store through the LayerStore:
// the layers buildah added are unpacked by the sandboxed unpacker like any imported layer; a
// layer that is an exported base (base-layout.ts) is recorded as the store layers it stands for,
// which are already there, so a built image shares its base's layers instead of copying them.
import fs from "node:fs/promises";
import type { ImageInfo, ProgressFn } from "@warren/protocol";
import { commitImage, diffIdsOf } from "../storage/image-commit.ts";
import { sniffCompression, unpackLayer } from "../storage/image-layer-unpack.ts";
import {
  corrupt,
  type Descriptor,
  type OciConfig,
  pickManifest,
  readJsonBlob,
  readLayoutIndex,
  statBlob,
} from "../storage/image-oci-layout.ts";
import type { LayerStore } from "../storage/layer-store.ts";
import type { BaseLayout } from "./base-layout.ts";

export async function commitBuilt(
  store: LayerStore,
  layoutDir: string,
  ref: string,
  bases: BaseLayout[],
  progress: ProgressFn,
): Promise<ImageInfo> {
  const index = await readLayoutIndex(layoutDir);
  const { manifestDesc, manifest } = await pickManifest(layoutDir, index, "built");
  const config = await readJsonBlob<OciConfig>(layoutDir, manifest.config);
  const builtIds = diffIdsOf(config, manifest);
  const baseOf = new Map(bases.map((b) => [b.diffId, b.storeLayers]));
  // One manifest entry per store layer: a base's exported layer expands into its originals.
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  const original = new Set<string>();
  for (const [i, desc] of manifest.layers.entries()) {
    const id = builtIds[i] as string;
    const expanded = baseOf.get(id);
    if (expanded) {
      for (const l of expanded) {
        layers.push(desc);
        diffIds.push(l);
        original.add(l);
      }
    } else {
      layers.push(desc);
      diffIds.push(id);
    }
  }
  const rootfs = { type: "layers", diff_ids: diffIds };
  return commitImage(store, {
    ref,
    digest: manifestDesc.digest,
    manifest: { ...manifest, layers },
    config: { ...config, rootfs },
    diffIds,
    verb: "built",
    context: `build ${ref}:`,
    progress,
    addLayer: async (desc, diffId, what) => {
      if (original.has(diffId)) {
        if (!(await store.hasLayer(diffId)))
          throw corrupt(`${what}: base layer ${diffId} left the store during the build`);
        return store.layerSize(diffId);
      }
      if (await store.hasLayer(diffId)) return store.layerSize(diffId);
      return unpackBuilt(store, layoutDir, desc, diffId, what);
    },
  });
}

async function unpackBuilt(
  store: LayerStore,
  dir: string,
  desc: Descriptor,
  diffId: string,
  what: string,
): Promise<number> {
  const file = await statBlob(dir, desc);
  const fh = await fs.open(file);
  const tmp = await store.tmpPath("layer");
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
      sandbox: await store.sandbox(),
    });
    await store.commitLayer(tmp, diffId, res.sizeBytes);
    return res.sizeBytes;
  } finally {
    await fh.close();
    await store.releaseTmp(tmp);
  }
}
