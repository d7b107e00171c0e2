// Cache policy of the image store: which images and layers are in use, `image rm`,
// `image prune`, and least-recently-used eviction of unused images once the store holds more
// than its cap (WARREN_IMAGE_CACHE_MAX, default 50 GiB). "In use" means named by an
// environment handle on this runner (stopped environments too: they start from it again) or,
// for layers, mounted right now (an environment's idmapped lower layer).
import fs from "node:fs/promises";
import path from "node:path";
import { type ImageInfo, WarrenError } from "@warren/protocol";
import { readHandle } from "../state/handle.ts";
import type { ImageStore } from "./image-store.ts";

export { cacheMaxBytes, DEFAULT_CACHE_MAX_BYTES, mountedLayers } from "./image-layers-in-use.ts";

/** Environment names on this runner by the image ref they are made from. */
export async function imagesInUse(envsDir: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const id of await fs.readdir(envsDir).catch(() => [] as string[])) {
    const h = await readHandle(path.join(envsDir, id, "handle.json")).catch(() => null);
    if (!h) continue;
    out.set(h.spec.image, [...(out.get(h.spec.image) ?? []), h.spec.name]);
  }
  return out;
}

export async function removeImage(store: ImageStore, ref: string): Promise<string[]> {
  await store.readRecord(ref); // IMAGE_NOT_FOUND first
  const users = (await imagesInUse(store.envsDir)).get(ref);
  if (users?.length) {
    throw new WarrenError(
      "IMAGE_IN_USE",
      `image ${ref} is used by environment${users.length > 1 ? "s" : ""} ${users.join(", ")}; ` +
        "delete them first (`warren rm NAME`)",
      { ref, environments: users },
    );
  }
  return store.remove(ref);
}

export interface EvictionInput {
  images: Pick<ImageInfo, "ref" | "layers" | "createdAt" | "lastUsedAt">[];
  /** Size of every layer in the store, by diffid. */
  layerSizes: Map<string, number>;
  /** Refs that must stay (used by environments, or just pulled). */
  keep: Set<string>;
  capBytes: number;
}

/** Pure: the refs to remove, least recently used first, until the layers fit under the cap. */
export function planEviction(input: EvictionInput): string[] {
  let total = 0;
  for (const s of input.layerSizes.values()) total += s;
  const users = new Map<string, number>();
  for (const img of input.images) for (const l of new Set(img.layers)) users.set(l, (users.get(l) ?? 0) + 1);
  const lastUse = (i: EvictionInput["images"][number]) => Date.parse(i.lastUsedAt ?? i.createdAt) || 0;
  const candidates = input.images
    .filter((i) => !input.keep.has(i.ref))
    .sort((a, b) => lastUse(a) - lastUse(b) || a.ref.localeCompare(b.ref));
  const out: string[] = [];
  for (const img of candidates) {
    if (total <= input.capBytes) break;
    out.push(img.ref);
    // Only layers no remaining image shares give space back.
    for (const l of new Set(img.layers)) {
      const n = (users.get(l) ?? 1) - 1;
      users.set(l, n);
      if (n === 0) total -= input.layerSizes.get(l) ?? 0;
    }
  }
  return out;
}

async function layerSizes(store: ImageStore): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const name of await fs.readdir(store.layersDir).catch(() => [] as string[])) {
    if (!/^[a-f0-9]{64}$/.test(name)) continue;
    const diffId = `sha256:${name}`;
    out.set(diffId, await store.layerSize(diffId));
  }
  return out;
}

/** Removes unused images, least recently used first, while the store is over its cap. */
export async function evictImages(store: ImageStore, keep: string[] = []): Promise<string[]> {
  const sizes = await layerSizes(store);
  const inUse = await imagesInUse(store.envsDir);
  const plan = planEviction({
    images: await store.list(),
    layerSizes: sizes,
    keep: new Set([...inUse.keys(), ...keep]),
    capBytes: store.cacheMaxBytes,
  });
  const done: string[] = [];
  for (const ref of plan) {
    // Checked again at removal: an environment may have been created from it meanwhile.
    await removeImage(store, ref).then(
      () => done.push(ref),
      () => {},
    );
  }
  return done;
}

/** `warren image prune`: evicts past the cap (never `keep`), then deletes every layer no image names. */
export async function pruneImages(
  store: ImageStore,
  keep: string[] = [],
): Promise<{ removed: string[]; freedBytes: number }> {
  const before = await layerSizes(store);
  const images = await evictImages(store, keep);
  const layers = await store.gcLayers();
  const after = await layerSizes(store);
  let freedBytes = 0;
  for (const [l, size] of before) if (!after.has(l)) freedBytes += size;
  return { removed: [...images, ...layers], freedBytes };
}
