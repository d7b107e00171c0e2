// The filesystem blob store with its presigned URLs served by the real app (build() with
// blobUrls) on a loopback port: requests arrive as remote ones, so bearer auth must let /blob/
// through and the route's signature check is all that guards it.
import { harness } from "@warren/testing/server-harness";
import { createFsBlobStore, fsBlobStoreDir } from "../src/blobstore/fs-store.ts";
import { BLOB_URL_KEY_FILE } from "../src/blobstore/url-signer.ts";
import { build } from "../src/http/build.ts";
import { createImageService } from "../src/services/images.ts";
import { keyFile, loadOrCreateKey } from "../src/services/registry-secrets.ts";
import type { StoreUnderTest } from "./blobstore-conformance.ts";

export async function fsStoreBehindApp(): Promise<StoreUnderTest & { dir: string; urlBase: string }> {
  const h = await harness();
  const urlKey = () => loadOrCreateKey(keyFile(h.dir, BLOB_URL_KEY_FILE));
  const signClock = { offsetMs: 0 };
  const dir = fsBlobStoreDir(h.dir);
  let urlBase = "";
  const store = createFsBlobStore({
    dir,
    urlKey,
    urlBase: () => urlBase,
    now: () => Date.now() + signClock.offsetMs,
  });
  const app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: false,
    blobUrls: { store, urlKey },
  });
  urlBase = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    store,
    signClock,
    dir,
    urlBase,
    async close() {
      await app.close();
      await h.close();
    },
  };
}
