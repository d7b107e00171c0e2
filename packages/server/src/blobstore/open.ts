// Which blob store a control plane uses, from its environment, and the store opened from that:
// the filesystem store under ROOT/blobs by default, or S3 when WARREN_BLOBSTORE=s3. The daemon
// passes `blobUrls` to build() so the filesystem store's presigned URLs are served.
import { WarrenError } from "@warren/protocol";
import { keyFile, loadOrCreateKey } from "../services/registry-secrets.ts";
import { createFsBlobStore, fsBlobStoreDir } from "./fs-store.ts";
import type { BlobUrlRouteOptions } from "./http-routes.ts";
import { storedS3Credentials } from "./s3-credentials.ts";
import { createS3BlobStore } from "./s3-store.ts";
import type { BlobStore } from "./types.ts";
import { BLOB_URL_KEY_FILE } from "./url-signer.ts";

export type BlobStoreConfig =
  | { kind: "fs" }
  | {
      kind: "s3";
      endpoint?: string | undefined;
      region: string;
      bucket: string;
      prefix: string;
      forcePathStyle: boolean;
    };

/**
 * WARREN_BLOBSTORE=fs (default) or s3; for s3: WARREN_BLOBSTORE_S3_BUCKET (required),
 * _REGION (default us-east-1), _ENDPOINT (default AWS), _PREFIX (default "warren/"),
 * _PATH_STYLE=1 (most S3-compatible servers need it). Credentials never come from here.
 */
export function blobStoreConfigFromEnv(env: NodeJS.ProcessEnv): BlobStoreConfig {
  const kind = env["WARREN_BLOBSTORE"] ?? "fs";
  if (kind === "fs") return { kind };
  if (kind !== "s3") throw new WarrenError("INVALID_ARGUMENT", `WARREN_BLOBSTORE=${kind}: use fs or s3`);
  const bucket = env["WARREN_BLOBSTORE_S3_BUCKET"];
  if (!bucket)
    throw new WarrenError("INVALID_ARGUMENT", "WARREN_BLOBSTORE=s3 needs WARREN_BLOBSTORE_S3_BUCKET");
  const endpoint = env["WARREN_BLOBSTORE_S3_ENDPOINT"];
  if (endpoint !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(endpoint);
    } catch {}
    if (!u || (u.protocol !== "https:" && u.protocol !== "http:") || u.username || u.password)
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `WARREN_BLOBSTORE_S3_ENDPOINT=${endpoint}: give an http(s) URL without credentials, e.g. https://s3.example.com`,
      );
  }
  const pathStyle = env["WARREN_BLOBSTORE_S3_PATH_STYLE"] ?? "0";
  if (pathStyle !== "0" && pathStyle !== "1")
    throw new WarrenError("INVALID_ARGUMENT", `WARREN_BLOBSTORE_S3_PATH_STYLE=${pathStyle}: use 1 or 0`);
  const prefix = env["WARREN_BLOBSTORE_S3_PREFIX"] ?? "warren/";
  if (prefix !== "" && !prefix.endsWith("/"))
    throw new WarrenError("INVALID_ARGUMENT", `WARREN_BLOBSTORE_S3_PREFIX=${prefix}: end it with "/"`);
  return {
    kind,
    endpoint,
    region: env["WARREN_BLOBSTORE_S3_REGION"] ?? "us-east-1",
    bucket,
    prefix,
    forcePathStyle: pathStyle === "1",
  };
}

/**
 * The store for a control plane rooted at `root`. `urlBase` is the control plane's URL as
 * runners reach it, for the filesystem store's presigned URLs.
 */
export function openBlobStore(
  root: string,
  cfg: BlobStoreConfig,
  o: { urlBase?: string | (() => string) | undefined } = {},
): { store: BlobStore; blobUrls?: BlobUrlRouteOptions } {
  if (cfg.kind === "s3") {
    const { kind: _kind, ...s3 } = cfg;
    return { store: createS3BlobStore({ ...s3, credentials: storedS3Credentials(root) }) };
  }
  const urlKey = () => loadOrCreateKey(keyFile(root, BLOB_URL_KEY_FILE));
  const store = createFsBlobStore({ dir: fsBlobStoreDir(root), urlKey, urlBase: o.urlBase });
  return { store, blobUrls: { store, urlKey } };
}
