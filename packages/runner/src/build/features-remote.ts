// Features from the network, through the same client and SSRF guard as image pulls: an OCI
// artifact (a manifest whose single layer is the Feature's tar) or an https tarball. Each is
// saved under the cache's scratch area with a size cap, checked by digest, then unpacked into
// the cache by features-cache.ts. An OCI Feature already cached by its layer digest is not
// downloaded again; a tarball's digest is only known once it has arrived.
import fs from "node:fs/promises";
import path from "node:path";
import {
  type FetchedFeature,
  type ImageRef,
  type ProgressFn,
  type RegistryCredential,
  WarrenError,
} from "@warren/protocol";
import type { EngineContext } from "../engine/context.ts";
import { isLoopback, resolveChecked } from "../storage/registry/address-guard.ts";
import { downloadBlob } from "../storage/registry/blob-download.ts";
import { RegistryClient } from "../storage/registry/client.ts";
import { errorText, type HttpPolicy, request } from "../storage/registry/http.ts";
import { registryPolicy } from "../storage/registry/policy.ts";
import {
  addToCache,
  cachedFeature,
  FEATURE_MAX_BYTES,
  featuresRoot,
  fetched,
  saveCapped,
  scratchFile,
  tooBig,
} from "./features-cache.ts";

export const FEATURE_LAYER_TYPE = "application/vnd.devcontainers.layer.v1+tar";

interface ArtifactManifest {
  mediaType?: string;
  manifests?: unknown;
  layers?: { mediaType?: string; digest?: string; size?: number }[];
}

export async function fetchOciFeature(
  ctx: EngineContext,
  source: string,
  ref: ImageRef,
  credential: RegistryCredential | undefined,
  progress: ProgressFn,
  policy: HttpPolicy = registryPolicy(ctx.cfg),
): Promise<FetchedFeature> {
  const client = new RegistryClient(ref, credential, policy);
  progress({ phase: "feature", message: `resolving Feature ${ref.canonical}` });
  const m = await client.manifest(ref.digest ?? ref.tag ?? "latest");
  let doc: ArtifactManifest;
  try {
    doc = JSON.parse(m.bytes.toString("utf8")) as ArtifactManifest;
  } catch (err) {
    throw new WarrenError(
      "IMAGE_CORRUPT",
      `Feature ${ref.canonical}: the manifest is not JSON: ${(err as Error).message}`,
    );
  }
  if (Array.isArray(doc.manifests)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${ref.canonical} is an image index, not a Feature; a Feature is an OCI artifact with one ${FEATURE_LAYER_TYPE} layer (check the reference: is it an image?)`,
    );
  }
  const layers = Array.isArray(doc.layers) ? doc.layers : [];
  const layer = layers[0];
  if (layers.length !== 1 || !layer || layer.mediaType !== FEATURE_LAYER_TYPE) {
    const types = layers.map((l) => l?.mediaType ?? "?").join(", ") || "none";
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${ref.canonical} is not a devcontainer Feature: its manifest must have exactly one ${FEATURE_LAYER_TYPE} layer (it has: ${types})`,
    );
  }
  const digest = layer.digest;
  const size = layer.size;
  if (typeof digest !== "string" || !/^sha256:[a-f0-9]{64}$/.test(digest) || !Number.isSafeInteger(size)) {
    throw new WarrenError(
      "IMAGE_CORRUPT",
      `Feature ${ref.canonical}: its layer descriptor has no valid digest or size`,
    );
  }
  if ((size as number) > FEATURE_MAX_BYTES) throw tooBig(`Feature ${ref.canonical}`, FEATURE_MAX_BYTES);
  const have = await cachedFeature(ctx, digest);
  if (have) {
    progress({ phase: "feature", message: `Feature ${ref.canonical}: cached (${digest.slice(0, 19)})` });
    return fetched(source, have);
  }
  progress({ phase: "feature", message: `Feature ${ref.canonical}: downloading ${size} bytes` });
  const dir = path.join(featuresRoot(ctx), "downloads");
  // downloadBlob verifies size and digest before it hands the file over.
  const file = await downloadBlob(client, { digest, size: size as number }, dir, () => {});
  try {
    return fetched(source, await addToCache(ctx, file, digest, `Feature ${ref.canonical}`, progress));
  } finally {
    await fs.rm(file, { force: true });
  }
}

export async function fetchTarballFeature(
  ctx: EngineContext,
  source: string,
  url: URL,
  progress: ProgressFn,
  policy: HttpPolicy = registryPolicy(ctx.cfg),
): Promise<FetchedFeature> {
  const what = `Feature ${url.origin}${url.pathname}`;
  if (url.protocol === "http:" && !(await plainHttpAllowed(url, policy))) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${what}: plain http is refused for Feature tarballs (its content runs as root while building); use an https URL`,
    );
  }
  progress({ phase: "feature", message: `${what}: downloading` });
  const res = await request(url, { what, role: "Feature tarball host" }, policy);
  if (res.status !== 200) {
    const text = await errorText(res);
    throw new WarrenError(
      res.status === 404 ? "INVALID_ARGUMENT" : "REGISTRY_UNAVAILABLE",
      `${what}: the server answered ${text}; check the URL`,
      { status: res.status },
    );
  }
  const declared = Number(res.headers["content-length"] ?? 0);
  if (declared > FEATURE_MAX_BYTES) {
    res.body.destroy();
    throw tooBig(what, FEATURE_MAX_BYTES);
  }
  const file = await scratchFile(ctx, "tgz");
  try {
    let digest: string;
    try {
      digest = await saveCapped(res.body, file, FEATURE_MAX_BYTES, what);
    } catch (err) {
      if (err instanceof WarrenError) throw err;
      throw new WarrenError("REGISTRY_UNAVAILABLE", `${what}: the download broke: ${(err as Error).message}`);
    }
    return fetched(source, await addToCache(ctx, file, digest, what, progress));
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** Plain HTTP only to loopback or a host listed as insecure, as for registries. */
async function plainHttpAllowed(url: URL, policy: HttpPolicy): Promise<boolean> {
  if (policy.insecure.has(url.host)) return true;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = url.port ? Number(url.port) : 80;
  const addr = await resolveChecked(host, port, policy.allow, "Feature tarball host");
  return isLoopback(addr.address);
}
