// Image use cases. The runner owns the image store; the control plane only relays.

import path from "node:path";
import type { ImageInfo, ProgressFn, RunnerApi } from "@warren/protocol";
import { WarrenError } from "@warren/protocol";

export interface ImageService {
  list(): Promise<ImageInfo[]>;
  import(file: string, ref: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
  ensureBase(mirror: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
}

export function createImageService(o: { runner: RunnerApi }): ImageService {
  return {
    list: () => o.runner.listImages(),
    import(file, ref, progress) {
      // The daemon resolves paths itself, so a relative path would silently mean its own cwd.
      if (!path.isAbsolute(file)) {
        throw new WarrenError("INVALID_ARGUMENT", `image path "${file}" must be absolute`, { field: "path" });
      }
      return o.runner.importImage(file, ref, progress);
    },
    ensureBase: (mirror, progress) => o.runner.ensureBaseImage(mirror ? { mirror } : {}, progress),
  };
}
