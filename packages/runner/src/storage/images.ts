// The image store's public surface, for the engine and the runner API: construct one ImageStore
// per runner root, call cleanupStale() at startup, then list/has/get/verify/importOci/ensureBase.
export { BASE_CONFIG, BASE_PACKAGES } from "./image-base.ts";
export { diffIdHex, validateRef } from "./image-files.ts";
export { type ImageRecord, ImageStore } from "./image-store.ts";
