// The runner's build capability: Dockerfile builds and devcontainer Features, run with buildah
// under the environment's own uid range, network namespace (its egress policy) and cgroup limits.
// Everything it reads from the repository comes out of the environment through the sandbox (a
// tar made inside it); the runner never follows a path into the environment's disk.
import type { ImageInfo } from "./env.ts";
import type { ProgressFn, RegistryCredential } from "./runner.ts";

/** A Feature to fetch: its key as devcontainer.json writes it. */
export interface FeatureFetchRequest {
  /** The environment whose files (local Features) and egress policy the fetch uses. */
  envId: string;
  /** `./features/x` (local, relative to configDir), `registry/ns/id:tag` (OCI) or an https tarball URL. */
  source: string;
  /** Absolute path inside the environment of the folder holding devcontainer.json. */
  configDir: string;
  /** Absolute path inside the environment of the repository root: a local Feature stays inside it. */
  repoRoot: string;
  /** Login for an OCI Feature's registry, when the organisation has one. */
  credential?: RegistryCredential;
}

export interface FetchedFeature {
  source: string;
  /** devcontainer-feature.json's id. */
  id: string;
  /** sha256:... of the Feature's content (tarball or OCI layer; a local Feature's tar). */
  digest: string;
  /** devcontainer-feature.json as parsed (options, dependsOn, installsAfter, containerEnv, ...). */
  metadata: Record<string, unknown>;
}

export interface FeatureInstall {
  source: string;
  id: string;
  digest: string;
  /** Option values after defaults, as the install script gets them (upper-cased names). */
  options: Record<string, string | boolean>;
}

export interface DockerfileBuild {
  /** Absolute path inside the environment of the Dockerfile. */
  dockerfile: string;
  /** Absolute path inside the environment of the build context (must be inside repoRoot). */
  context: string;
  args?: Record<string, string>;
  target?: string;
}

export interface BuildImageRequest {
  envId: string;
  /** Absolute path inside the environment of the repository root. */
  repoRoot: string;
  /** A Dockerfile build; absent: Features go on top of baseImage. */
  dockerfile?: DockerfileBuild;
  /** The image to add Features to when there is no Dockerfile (already in the runner's store). */
  baseImage?: string;
  /** In install order (the control plane orders them by dependsOn/installsAfter). */
  features?: FeatureInstall[];
  /** For Features' _REMOTE_USER / _CONTAINER_USER. */
  remoteUser?: string;
  containerUser?: string;
  /** The merged devcontainer.metadata label to record on the result (JSON). */
  metadataLabel?: string;
  /**
   * Whose build cache this is (the control plane sends the organisation's id): a RUN step need
   * not be deterministic, so one organisation's result is never handed to another's build.
   */
  cacheScope?: string;
}

export interface BuiltImage extends ImageInfo {
  /** True when the cache (same Dockerfile, context digest, args, base and Features) answered. */
  cached: boolean;
}

export interface RunnerBuild {
  /** Fetches one Feature into the runner's cache (idempotent by content) and returns its metadata. */
  fetchFeature(req: FeatureFetchRequest, progress: ProgressFn): Promise<FetchedFeature>;
  /** Builds (or finds in the cache) the environment's image; the result is in the image store. */
  buildImage(req: BuildImageRequest, progress: ProgressFn): Promise<BuiltImage>;
  /** An image's config labels (devcontainer.metadata), read from the store. IMAGE_NOT_FOUND if absent. */
  imageLabels(ref: string): Promise<Record<string, string>>;
}
