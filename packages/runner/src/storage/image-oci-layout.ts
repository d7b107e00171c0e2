// Reading an OCI image layout directory: oci-layout, index.json, and blobs that are checked
// against their descriptors before anything trusts them. Picks one image manifest out of the
// index by ref-name annotation and, through nested indexes / manifest lists, by platform.
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { WarrenError } from "@warren/protocol";

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface OciIndex {
  mediaType?: string;
  manifests: Descriptor[];
}

export interface OciManifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface OciConfig {
  config?: {
    Env?: string[];
    Cmd?: string[];
    Entrypoint?: string[];
    WorkingDir?: string;
    User?: string;
    /** Untrusted: any JSON may be here (image-config.ts keeps string values only). */
    Labels?: unknown;
  };
  rootfs?: { type?: string; diff_ids?: string[] };
}

export const REF_NAME = "org.opencontainers.image.ref.name";
const INDEX_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);
const MANIFEST_TYPES = new Set([
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
]);
const MAX_JSON_BYTES = 8 * 1024 * 1024;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function corrupt(message: string, digest?: string): WarrenError {
  return new WarrenError("IMAGE_CORRUPT", message, digest ? { digest } : undefined);
}

/** What `image import` takes, for the message when it is given something else. */
export const IMPORTABLE =
  "Warren imports an OCI image layout, a directory holding an oci-layout file, index.json and " +
  "blobs/sha256/ (`skopeo copy docker://IMAGE oci:DIR:TAG` or `buildah push IMAGE oci:DIR` writes " +
  "one), or a tar archive of such a directory (`skopeo copy docker://IMAGE oci-archive:FILE.tar`, " +
  "`podman save --format oci-archive -o FILE.tar IMAGE`)";

/** Checks the layout marker; returns the parsed index.json. */
export async function readLayoutIndex(dir: string): Promise<OciIndex> {
  const marker = await fs.readFile(path.join(dir, "oci-layout"), "utf8").catch(() => null);
  if (marker === null) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${dir} is not an image: it has no oci-layout file. ${IMPORTABLE}`,
      { path: dir },
    );
  }
  const version = parseJson<{ imageLayoutVersion?: string }>(marker, "oci-layout").imageLayoutVersion;
  if (version !== "1.0.0") throw corrupt(`${dir}/oci-layout has unsupported imageLayoutVersion ${version}`);
  const text = await fs.readFile(path.join(dir, "index.json"), "utf8").catch(() => null);
  if (text === null) throw corrupt(`${dir} has no index.json; the layout is incomplete`);
  const index = parseJson<OciIndex>(text, "index.json");
  if (!Array.isArray(index.manifests)) throw corrupt(`${dir}/index.json has no manifests list`);
  return index;
}

export function blobPath(dir: string, desc: Descriptor): string {
  if (typeof desc.digest !== "string" || !DIGEST_RE.test(desc.digest)) {
    throw corrupt(
      `unsupported or malformed digest ${JSON.stringify(desc.digest)} (only sha256 is supported)`,
    );
  }
  if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw corrupt(`descriptor of ${desc.digest} has an invalid size`, desc.digest);
  }
  return path.join(dir, "blobs", "sha256", desc.digest.slice(7));
}

/** Fails fast when a blob is missing or has the wrong length, before reading it. */
export async function statBlob(dir: string, desc: Descriptor): Promise<string> {
  const p = blobPath(dir, desc);
  const st = await fs.stat(p).catch(() => null);
  if (!st?.isFile()) throw corrupt(`blob ${desc.digest} is missing from the layout ${dir}`, desc.digest);
  if (st.size !== desc.size) {
    throw corrupt(
      `blob ${desc.digest} is ${st.size} bytes but its descriptor says ${desc.size}`,
      desc.digest,
    );
  }
  return p;
}

export async function readJsonBlob<T>(dir: string, desc: Descriptor): Promise<T> {
  if (desc.size > MAX_JSON_BYTES) throw corrupt(`blob ${desc.digest} is too large for JSON`, desc.digest);
  const data = await fs.readFile(await statBlob(dir, desc));
  const got = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  if (got !== desc.digest)
    throw corrupt(`blob ${desc.digest} does not match its digest (it hashes to ${got})`, desc.digest);
  return parseJson<T>(data.toString("utf8"), `blob ${desc.digest}`);
}

/** Hashes a blob we do not need to read (its layer is already unpacked). */
export async function verifyBlob(dir: string, desc: Descriptor): Promise<void> {
  const p = await statBlob(dir, desc);
  const hash = createHash("sha256");
  const fh = await fs.open(p);
  try {
    for await (const chunk of fh.createReadStream()) hash.update(chunk as Buffer);
  } finally {
    await fh.close();
  }
  const got = `sha256:${hash.digest("hex")}`;
  if (got !== desc.digest)
    throw corrupt(`blob ${desc.digest} does not match its digest (it hashes to ${got})`, desc.digest);
}

export interface Picked {
  /** Descriptor of the image manifest (not of an index). */
  manifestDesc: Descriptor;
  manifest: OciManifest;
  /** The ref-name annotation of the chosen top-level entry, if any. */
  refName: string | undefined;
}

export function hostPlatform(): { os: string; architecture: string } {
  const arch: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
  };
  return { os: "linux", architecture: arch[process.arch] ?? process.arch };
}

/** Chooses the manifest to import from index.json. */
export async function pickManifest(dir: string, index: OciIndex, ref: string | undefined): Promise<Picked> {
  let candidates = index.manifests;
  const named = (d: Descriptor) => d.annotations?.[REF_NAME];
  if (ref !== undefined) {
    // "myimg:1.0" matches an entry annotated "1.0", as skopeo's oci:DIR:TAG writes it.
    const exact = candidates.filter((d) => {
      const n = named(d);
      return n !== undefined && (n === ref || ref.endsWith(`:${n}`));
    });
    if (exact.length > 0) candidates = exact;
  }
  const names = [...new Set(candidates.map(named).filter((n) => n !== undefined))];
  if (names.length > 1) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `the layout holds several images (${names.join(", ")}); pass the one to import as the ref`,
      { names },
    );
  }
  const top = candidates.length > 1 ? byPlatform(candidates) : candidates[0];
  if (!top) throw corrupt(`${dir}/index.json lists no manifests`);
  return { ...(await resolveToManifest(dir, top, 0)), refName: named(top) };
}

async function resolveToManifest(
  dir: string,
  desc: Descriptor,
  depth: number,
): Promise<Omit<Picked, "refName">> {
  if (depth > 4) throw corrupt(`image indexes are nested too deeply at ${desc.digest}`, desc.digest);
  const doc = await readJsonBlob<OciIndex & OciManifest>(dir, desc);
  const type = doc.mediaType ?? desc.mediaType;
  if ((type && INDEX_TYPES.has(type)) || Array.isArray(doc.manifests)) {
    return resolveToManifest(dir, byPlatform(doc.manifests ?? []), depth + 1);
  }
  if ((type && !MANIFEST_TYPES.has(type)) || !doc.config || !Array.isArray(doc.layers)) {
    throw corrupt(`${desc.digest} is not an image manifest (mediaType ${type ?? "missing"})`, desc.digest);
  }
  return { manifestDesc: desc, manifest: doc };
}

function byPlatform(list: Descriptor[]): Descriptor {
  const { pick, want, have } = pickPlatform(list);
  if (!pick) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `no image for ${want} in the layout (it has ${have}); ` +
        `export it with \`skopeo copy --override-arch ${hostPlatform().architecture}\``,
    );
  }
  return pick;
}

/**
 * The host's entry of an image index (a plain variant, or v8 on arm64, before others), with what
 * the caller needs to say why nothing fits. Shared by layout imports and registry pulls.
 */
export function pickPlatform(list: Descriptor[]): {
  pick: Descriptor | undefined;
  want: string;
  have: string;
} {
  const want = hostPlatform();
  const fits = list.filter(
    (d) => d.platform?.os === want.os && d.platform?.architecture === want.architecture,
  );
  const pick = fits.find((d) => !d.platform?.variant || d.platform.variant === "v8") ?? fits[0];
  const have = list.map((d) => `${d.platform?.os ?? "?"}/${d.platform?.architecture ?? "?"}`).join(", ");
  return { pick, want: `${want.os}/${want.architecture}`, have: have || "nothing" };
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw corrupt(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}
