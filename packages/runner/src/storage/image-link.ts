// Makes an image of another store available in this one without copying: each layer becomes a
// symlink to the other store's layer directory. Used to share one built base across roots
// (tests give every run its own root but build the Debian base once).
import fs from "node:fs/promises";
import { wrap } from "@warren/protocol";
import { writeFileAtomic } from "./image-files.ts";
import type { ImageRecord, LayerStore } from "./layer-store.ts";

/** The other store: where the image's record and layers are read from. */
export interface LinkSource {
  readRecord(ref: string): Promise<ImageRecord>;
  layerDir(diffId: string): string;
  layerSize(diffId: string): Promise<number>;
}

export async function linkImage(store: LayerStore, other: LinkSource, ref: string): Promise<void> {
  const rec = await other.readRecord(ref);
  for (const diffId of rec.layers) {
    if (await store.hasLayer(diffId)) continue;
    // A dangling link (its cache was wiped) is replaced, not kept.
    await fs.rm(store.layerDir(diffId), { force: true });
    const src = await fs.realpath(other.layerDir(diffId));
    await fs.symlink(src, store.layerDir(diffId)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw wrap(`link layer ${diffId}`, err);
    });
    await writeFileAtomic(
      `${store.layerDir(diffId)}.json`,
      JSON.stringify({ diffId, sizeBytes: await other.layerSize(diffId) }),
    );
  }
  await store.writeRecord(rec);
}
