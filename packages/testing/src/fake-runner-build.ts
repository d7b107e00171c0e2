// The fake runner's build capability (protocol runner-build.ts): no buildah, but the contract the
// real builder keeps (runner/src/build/), checked by the RunnerBuild conformance suite: the same
// request checks, ENV_NOT_RUNNING without a running environment, IMAGE_NOT_FOUND for an unknown
// base, a content-keyed cache (the same request answers `cached: true` with the same image), and
// the built image in the store with its labels.
import { createHash } from "node:crypto";
import {
  type BuildImageRequest,
  type BuiltImage,
  checkBuildRequest,
  checkInsideRepo,
  type FeatureFetchRequest,
  type FetchedFeature,
  type ImageInfo,
  type ProgressFn,
  WarrenError,
} from "@warren/protocol";

export interface FakeBuildHost {
  readonly images: Map<string, ImageInfo>;
  isRunning(envId: string): boolean;
  addImage(ref: string): ImageInfo;
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

export class FakeBuild {
  /** Labels of images in the fake store, by ref (built images carry devcontainer.metadata). */
  readonly labels = new Map<string, Record<string, string>>();
  /** Feature metadata a test makes fetchable, by source (`./features/x`, an OCI ref, a URL). */
  readonly features = new Map<string, Record<string, unknown>>();
  /** How many builds actually "ran" (cache misses). */
  builds = 0;
  readonly #host: FakeBuildHost;

  constructor(host: FakeBuildHost) {
    this.#host = host;
  }

  #running(envId: string): void {
    if (!this.#host.isRunning(envId)) {
      throw new WarrenError(
        "ENV_NOT_RUNNING",
        "the environment is not running; a build reads its files and uses its network: start it first",
      );
    }
  }

  async fetchFeature(req: FeatureFetchRequest, progress: ProgressFn): Promise<FetchedFeature> {
    this.#running(req.envId);
    if (req.source.startsWith("./") || req.source.startsWith("../")) {
      checkInsideRepo(req.repoRoot, `${req.configDir}/${req.source}`, "Feature");
    }
    const metadata = this.features.get(req.source);
    if (!metadata) {
      throw new WarrenError("NOT_FOUND", `Feature ${req.source} was not found (fake runner)`, {
        source: req.source,
      });
    }
    progress({ phase: "feature", message: `fetched ${req.source}` });
    const id = typeof metadata.id === "string" ? metadata.id : req.source;
    return { source: req.source, id, digest: `sha256:${sha(JSON.stringify(metadata))}`, metadata };
  }

  async buildImage(req: BuildImageRequest, progress: ProgressFn): Promise<BuiltImage> {
    const clean = checkBuildRequest(req);
    this.#running(req.envId);
    let base = "";
    if (!clean.dockerfile && clean.baseImage) {
      // Nothing to add: the base itself is the answer, as the real builder gives it.
      if (!clean.features?.length && this.#host.images.has(clean.baseImage)) {
        return { ...this.#host.images.get(clean.baseImage)!, cached: true };
      }
      const have = this.#host.images.get(clean.baseImage);
      if (!have) {
        throw new WarrenError("IMAGE_NOT_FOUND", `base image ${clean.baseImage} is not in the image store`, {
          ref: clean.baseImage,
        });
      }
      base = have.digest;
    }
    const { envId: _env, ...keyed } = clean;
    const key = sha(JSON.stringify({ keyed, base }));
    const ref = `warren-build/${key.slice(0, 32)}`;
    const have = this.#host.images.get(ref);
    if (have) return { ...have, cached: true };
    this.builds++;
    progress({ phase: "build", message: `STEP 1/1: building ${ref}` });
    const info = this.#host.addImage(ref);
    info.digest = `sha256:${key}`;
    this.labels.set(ref, clean.metadataLabel ? { "devcontainer.metadata": clean.metadataLabel } : {});
    return { ...info, cached: false };
  }

  async imageLabels(ref: string): Promise<Record<string, string>> {
    if (!this.#host.images.has(ref)) {
      throw new WarrenError("IMAGE_NOT_FOUND", `image ${ref} is not in the image store`, { ref });
    }
    return { ...(this.labels.get(ref) ?? {}) };
  }
}
