// The part of adding an image that layout imports and registry pulls share: check the config's
// diff_ids against the manifest, add each missing layer (pinned, so a concurrent prune cannot
// take it), and only then write the image record. A refused image leaves no layer behind.
import { type ImageInfo, type ProgressFn, wrap } from "@warren/protocol";
import { imageConfig } from "./image-config.ts";
import { corrupt, type Descriptor, type OciConfig, type OciManifest } from "./image-oci-layout.ts";
import type { ImageRecord, LayerStore } from "./layer-store.ts";

export function diffIdsOf(config: OciConfig, manifest: OciManifest): string[] {
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (config.rootfs?.type !== "layers" || diffIds.length !== manifest.layers.length) {
    throw corrupt(
      `image config ${manifest.config.digest} lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`,
      manifest.config.digest,
    );
  }
  return diffIds;
}

export interface CommitImage {
  ref: string;
  digest: string;
  manifest: OciManifest;
  config: OciConfig;
  diffIds: string[];
  /** "imported" or "pulled", for the progress line. */
  verb: string;
  /** Context prefix of a layer's error, e.g. "import" or "pull REF:". */
  context: string;
  progress: ProgressFn;
  /** Adds one layer to the store (a no-op when present); returns its unpacked size. */
  addLayer(desc: Descriptor, diffId: string, what: string): Promise<number>;
}

export async function commitImage(store: LayerStore, o: CommitImage): Promise<ImageInfo> {
  const unpin = store.pin(o.diffIds);
  const added: string[] = [];
  try {
    let sizeBytes = 0;
    for (const [i, desc] of o.manifest.layers.entries()) {
      const diffId = o.diffIds[i]!;
      const what = `layer ${i + 1}/${o.manifest.layers.length} ${desc.digest.slice(0, 19)}`;
      try {
        const existed = await store.hasLayer(diffId);
        sizeBytes += await o.addLayer(desc, diffId, what);
        if (!existed) added.push(diffId);
      } catch (err) {
        unpin();
        await store.gcLayers(added).catch(() => {});
        throw wrap(`${o.context} ${what}`, err);
      }
    }
    const rec: ImageRecord = {
      ref: o.ref,
      digest: o.digest,
      layers: o.diffIds,
      config: imageConfig(o.config),
      sizeBytes,
      createdAt: new Date().toISOString(),
    };
    await store.writeRecord(rec);
    o.progress({ phase: "done", message: `${o.verb} ${o.ref} (${o.digest.slice(0, 19)})` });
    const { config: _c, ...info } = rec;
    return info;
  } finally {
    unpin();
  }
}
