// A small client of the OCI distribution API (registry HTTP API v2) for one repository: fetch a
// manifest (verified against its digest) and open blobs (from an offset, for resuming).
import { createHash } from "node:crypto";
import type { ImageRef, RegistryCredential } from "@warren/protocol";
import { WarrenError } from "@warren/protocol";
import { Authorizer } from "./auth.ts";
import { errorText, type HttpPolicy, type Response, readBody, registryBase, request } from "./http.ts";

export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string | undefined;
}

export class RegistryClient {
  readonly ref: ImageRef;
  readonly #policy: HttpPolicy;
  readonly #auth: Authorizer;
  #base: URL | undefined;

  constructor(ref: ImageRef, credential: RegistryCredential | undefined, policy: HttpPolicy) {
    this.ref = ref;
    this.#policy = policy;
    this.#auth = new Authorizer(ref.registry, credential, policy);
  }

  /** Fetches a manifest by tag or digest. A digest reference must match the bytes exactly. */
  async manifest(reference: string, expect?: { size?: number }): Promise<FetchedManifest> {
    const what = `manifest ${this.ref.repository}:${reference}`;
    const res = await this.#get(`manifests/${reference}`, { accept: MANIFEST_ACCEPT }, what);
    if (res.status === 404) {
      res.body.resume();
      throw new WarrenError(
        "IMAGE_NOT_FOUND",
        `${this.ref.registry} has no ${this.ref.repository}:${reference} (manifest unknown); check the name and tag`,
        { ref: this.ref.canonical },
      );
    }
    if (res.status !== 200) throw await this.#failed(res, what);
    const bytes = await readBody(res, MAX_MANIFEST_BYTES, what);
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const byDigest = reference.startsWith("sha256:");
    if (byDigest && digest !== reference) {
      throw new WarrenError(
        "IMAGE_CORRUPT",
        `${what}: the registry sent a manifest hashing to ${digest}, not the digest asked for`,
        { digest: reference },
      );
    }
    // By tag there is nothing to check against, except what the registry itself claims.
    const claimed = res.headers["docker-content-digest"];
    if (typeof claimed === "string" && claimed.startsWith("sha256:") && claimed !== digest) {
      throw new WarrenError(
        "IMAGE_CORRUPT",
        `${what}: the manifest hashes to ${digest} but the registry says ${claimed}`,
        { digest: claimed },
      );
    }
    if (expect?.size !== undefined && expect.size !== bytes.length) {
      throw new WarrenError(
        "IMAGE_CORRUPT",
        `${what}: the manifest is ${bytes.length} bytes, its descriptor says ${expect.size}`,
        { digest },
      );
    }
    const type = res.headers["content-type"]?.split(";")[0]?.trim();
    return { bytes, digest, mediaType: type };
  }

  /** Opens a blob from byte `offset`; status 206 means the Range was honoured, 200 the whole blob. */
  async blob(digest: string, offset: number): Promise<Response> {
    const what = `blob ${digest.slice(0, 19)}`;
    const headers: Record<string, string> = {};
    if (offset > 0) headers["range"] = `bytes=${offset}-`;
    const res = await this.#get(`blobs/${digest}`, headers, what);
    if (res.status === 200 || res.status === 206) return res;
    if (res.status === 416 && offset > 0) {
      res.body.resume();
      // Our partial file is not a prefix the registry agrees with; the caller starts over.
      return res;
    }
    throw await this.#failed(res, what);
  }

  async #get(path: string, headers: Record<string, string>, what: string): Promise<Response> {
    this.#base ??= await registryBase(this.ref.registry, this.#policy);
    const url = new URL(`/v2/${this.ref.repository}/${path}`, this.#base);
    const scope = `repository:${this.ref.repository}:pull`;
    const send = () => {
      const h = { ...headers };
      if (this.#auth.header) h["authorization"] = this.#auth.header;
      return request(url, { headers: h, what, authHost: url.host }, this.#policy);
    };
    let res = await send();
    if (res.status === 401) {
      await this.#auth.answer(res, scope);
      res = await send();
      if (res.status === 401) {
        res.body.resume();
        throw new WarrenError(
          "REGISTRY_AUTH_FAILED",
          `registry ${this.ref.registry} denied access to ${this.ref.repository}; ` +
            `log in with \`warren registry login ${this.ref.registry}\` or check the repository name`,
          { host: this.ref.registry },
        );
      }
    }
    return res;
  }

  async #failed(res: Response, what: string): Promise<WarrenError> {
    const text = await errorText(res);
    if (res.status === 403) {
      return new WarrenError(
        "REGISTRY_AUTH_FAILED",
        `${what}: registry ${this.ref.registry} forbids it (${text}); check your login's permissions`,
        { host: this.ref.registry },
      );
    }
    if (res.status === 404) {
      return new WarrenError("IMAGE_CORRUPT", `${what}: the registry does not have it (${text})`);
    }
    return new WarrenError(
      "REGISTRY_UNAVAILABLE",
      `${what}: registry ${this.ref.registry} answered ${text}`,
      {
        status: res.status,
      },
    );
  }
}
