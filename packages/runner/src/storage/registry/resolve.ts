// From a reference to one image manifest: fetch what the tag or digest names, and when that is an
// image index (or Docker manifest list) pick the host's platform (linux/amd64 here) and fetch
// that child by its digest, which the client verifies.
import { WarrenError } from "@warren/protocol";
import {
  corrupt,
  type Descriptor,
  type OciIndex,
  type OciManifest,
  pickPlatform,
} from "../image-oci-layout.ts";
import type { FetchedManifest, RegistryClient } from "./client.ts";

const INDEX_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);
const MANIFEST_TYPES = new Set([
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
]);

export interface ResolvedManifest {
  /** Digest of the image manifest (the platform's, when the reference named an index). */
  digest: string;
  manifest: OciManifest;
}

export async function resolveManifest(client: RegistryClient): Promise<ResolvedManifest> {
  const ref = client.ref;
  let fetched = await client.manifest(ref.digest ?? ref.tag ?? "latest");
  for (let depth = 0; ; depth++) {
    const doc = parse(fetched);
    const type = doc.mediaType ?? fetched.mediaType;
    if ((type && INDEX_TYPES.has(type)) || (!type && Array.isArray(doc.manifests))) {
      if (depth >= 2) throw corrupt(`${ref.canonical}: image indexes nest too deeply`, fetched.digest);
      const pick = byPlatform(doc.manifests ?? [], ref.canonical);
      fetched = await client.manifest(pick.digest, { size: pick.size });
      continue;
    }
    if (type && !MANIFEST_TYPES.has(type)) {
      throw new WarrenError(
        "IMAGE_CORRUPT",
        `${ref.canonical}: unsupported manifest type ${type} (Docker schema 1 and artifacts cannot be pulled)`,
        { digest: fetched.digest },
      );
    }
    if (!doc.config || !Array.isArray(doc.layers)) {
      throw corrupt(`${ref.canonical}: manifest ${fetched.digest} has no config or layers`, fetched.digest);
    }
    return { digest: fetched.digest, manifest: { mediaType: type, config: doc.config, layers: doc.layers } };
  }
}

function parse(m: FetchedManifest): Partial<OciIndex & OciManifest> {
  try {
    const doc = JSON.parse(m.bytes.toString("utf8")) as Partial<OciIndex & OciManifest>;
    if (typeof doc !== "object" || doc === null) throw new Error("not an object");
    return doc;
  } catch (err) {
    throw corrupt(`manifest ${m.digest} is not valid JSON: ${(err as Error).message}`, m.digest);
  }
}

function byPlatform(list: Descriptor[], ref: string): Descriptor {
  const { pick, want, have } = pickPlatform(list);
  if (!pick) {
    throw new WarrenError("IMAGE_NOT_FOUND", `${ref} has no image for ${want} (it has ${have})`, { ref });
  }
  return pick;
}
