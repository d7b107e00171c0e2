// Image use cases. The runner owns the image store; the control plane only relays.

import path from "node:path";
import type { ImageInfo, ProgressFn, RunnerApi } from "@warren/protocol";
import { parseImageRef, WarrenError } from "@warren/protocol";
import type { RegistryLoginService } from "./registry-logins.ts";

export interface ImageService {
  list(): Promise<ImageInfo[]>;
  import(file: string, ref: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
  ensureBase(mirror: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
  /** Pulls from a registry, with the stored login for the ref's registry host, if any. */
  pull(ref: string, progress: ProgressFn): Promise<ImageInfo>;
  /** Refused (IMAGE_IN_USE) while an environment on the runner is made from it. */
  remove(ref: string): Promise<{ removed: string[] }>;
  prune(): Promise<{ removed: string[]; freedBytes: number }>;
}

export function createImageService(o: {
  runner: RunnerApi;
  logins?: Pick<RegistryLoginService, "credentialFor">;
}): ImageService {
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
    remove: async (ref) => ({ removed: await o.runner.removeImage(ref) }),
    prune: () => o.runner.pruneImages(),
    pull(ref, progress) {
      // Parsed synchronously, so a malformed ref is a plain 400 before any stream starts.
      const { registry } = parseImageRef(ref.trim());
      return (async () => {
        const credential = await o.logins?.credentialFor(registry);
        return o.runner.pullImage(ref.trim(), progress, credential ? { credential } : {});
      })();
    },
  };
}
