// What adding an image needs of a store: content-addressed layer directories, scratch space,
// pins that keep a half-added image's layers from garbage collection, and the image record
// written last. Import (image-import.ts), pull (registry/pull.ts), commit (image-commit.ts) and
// the builder (build/) depend on this interface only; ImageStore (image-store.ts) implements it,
// so the code that adds images and the store that keeps them do not import each other.
import type { ImageInfo } from "@warren/protocol";
import type { UnpackSandbox } from "./image-unpack-sandbox.ts";
import type { ImageLayers } from "./types.ts";

/** An image as the store keeps it: its info, the config processes start with, and its origin. */
export interface ImageRecord extends ImageInfo {
  config: ImageLayers["config"];
  /** The built-in base only: what it was built from (image-base.ts BASE_RECIPE). */
  recipe?: string;
}

export interface LayerStore {
  /** The store's own directory (downloads and build state live below it). */
  readonly dir: string;
  /** The unpacked layer's directory; throws on a diffid that is not `sha256:<64 hex>`. */
  layerDir(diffId: string): string;
  hasLayer(diffId: string): Promise<boolean>;
  /** Unpacked size recorded with the layer (0 when unknown). */
  layerSize(diffId: string): Promise<number>;
  /** Moves a fully unpacked tmp dir into place as the layer `diffId`. */
  commitLayer(tmp: string, diffId: string, sizeBytes: number): Promise<string>;
  /** Keeps layers safe from gcLayers until the returned release is called. */
  pin(diffIds: string[]): () => void;
  /** Deletes layers (all, or only `candidates`) that no image names and nothing pins. */
  gcLayers(candidates?: string[]): Promise<string[]>;
  /** A fresh scratch path (not created) on the store's filesystem; releaseTmp deletes it. */
  tmpPath(purpose: string): Promise<string>;
  releaseTmp(p: string): Promise<void>;
  /** How layers are extracted (helper, unpacker id block, size cap). */
  sandbox(): Promise<UnpackSandbox>;
  /** Names the image: written last, so a listed image is complete. */
  writeRecord(rec: ImageRecord): Promise<void>;
}
