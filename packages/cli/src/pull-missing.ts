// `warren up --image HOST/REPO:TAG`: when the image is not among the caller's organisation's
// images (the server lists only those, server/src/services/images.ts) and the reference names a
// registry host, pull it first (with progress), as `docker run` does. Another organisation's copy
// on the runner does not count: the server would pull it again with this organisation's login. Names without a host
// ("myorg/tools:1.0") are local imports and are never turned into a Docker Hub request.
import { type ApiClient, namesRegistry, parseImageRef } from "@warren/protocol";
import { progressDisplay } from "./progress.ts";

/** Returns the ref to create the environment with: as given, or the pulled image's canonical ref. */
export async function pullIfMissing(client: ApiClient, image: string): Promise<string> {
  if (!namesRegistry(image)) return image;
  const canonical = parseImageRef(image).canonical;
  const have = new Set((await client.listImages()).map((i) => i.ref));
  if (have.has(image)) return image;
  if (have.has(canonical)) return canonical;
  process.stderr.write(`warren: pulling ${canonical}\n`);
  const progress = progressDisplay(process.stderr);
  try {
    return (await client.pullImage(image, progress.update)).ref;
  } finally {
    progress.finish();
  }
}
