// What the image store needs of its cache policy (image-cache.ts) without importing it: the cap
// on its size, and which layers are mounted right now (so garbage collection keeps them).
import { parseSize } from "@warren/protocol";
import { readMounts } from "./mountinfo.ts";

export const DEFAULT_CACHE_MAX_BYTES = 50 * 1024 ** 3;
const LAYER_ROOT_RE = /\/layers\/sha256\/([a-f0-9]{64})$/;

export function cacheMaxBytes(): number {
  const v = process.env["WARREN_IMAGE_CACHE_MAX"];
  return v ? parseSize(v, "WARREN_IMAGE_CACHE_MAX") : DEFAULT_CACHE_MAX_BYTES;
}

/** Hex digests of layer directories that are mounted somewhere (by any root on this host). */
export function mountedLayers(mountinfoText?: string): Set<string> {
  const out = new Set<string>();
  for (const m of readMounts(mountinfoText)) {
    const hit = LAYER_ROOT_RE.exec(m.root);
    if (hit) out.add(hit[1]!);
  }
  return out;
}
