// What kind of Feature a devcontainer.json key names, as the Dev Container spec reads it: a path
// starting with ./ or ../ is local (relative to the folder holding devcontainer.json), an
// http(s) URL is a tarball, anything else is an OCI reference. Legacy short ids ("node") and
// GitHub release shorthands are refused with the full form to write instead.
import path from "node:path";
import { type ImageRef, parseImageRef, WarrenError } from "@warren/protocol";

export type FeatureSource =
  | { kind: "local" /** Absolute path inside the environment. */; dir: string }
  | { kind: "oci"; ref: ImageRef }
  | { kind: "tarball"; url: URL };

const MAX_SOURCE_CHARS = 2048;

export function classifyFeatureSource(source: string, configDir: string, repoRoot: string): FeatureSource {
  const bad = (why: string) =>
    new WarrenError("INVALID_ARGUMENT", `Feature "${source.slice(0, 200)}": ${why}`, { feature: source });
  if (typeof source !== "string" || source.length === 0 || source.length > MAX_SOURCE_CHARS) {
    throw bad(`a Feature key must be 1 to ${MAX_SOURCE_CHARS} characters`);
  }
  if (/[\0\n\r]/.test(source)) throw bad("a Feature key must not contain control characters");
  refuseNestedEngine(source);
  if (source.startsWith("./") || source.startsWith("../")) {
    return { kind: "local", dir: localDir(source, configDir, repoRoot) };
  }
  if (/^https?:\/\//i.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw bad("not a valid URL; write it as https://HOST/PATH/feature.tgz");
    }
    if (url.username || url.password) {
      throw bad(
        "a tarball URL must not carry a login; Features from private servers come from an OCI registry with `warren registry login`",
      );
    }
    return { kind: "tarball", url };
  }
  const firstSlash = source.indexOf("/");
  if (firstSlash < 0) {
    throw bad(
      "short Feature ids from the retired Dev Container Features set are not supported; write the full OCI " +
        `reference, e.g. "ghcr.io/devcontainers/features/${source.split(":")[0]}:1"`,
    );
  }
  const host = source.slice(0, firstSlash);
  if (!host.includes(".") && !host.includes(":") && host !== "localhost") {
    throw bad(
      "GitHub release shorthands (OWNER/REPO/FEATURE) are deprecated by the spec and not supported; publish " +
        "the Feature to an OCI registry and write REGISTRY/NAMESPACE/FEATURE:VERSION, or use a tarball URL",
    );
  }
  try {
    return { kind: "oci", ref: parseImageRef(source) };
  } catch (err) {
    throw bad(`not an OCI reference: ${(err as Error).message}`);
  }
}

function localDir(source: string, configDir: string, repoRoot: string): string {
  for (const [name, p] of [
    ["configDir", configDir],
    ["repoRoot", repoRoot],
  ] as const) {
    if (!path.posix.isAbsolute(p) || /[\0\n]/.test(p)) {
      throw new WarrenError("INVALID_ARGUMENT", `${name} must be an absolute path inside the environment`);
    }
  }
  const root = path.posix.normalize(repoRoot).replace(/\/+$/, "") || "/";
  const dir = path.posix.normalize(path.posix.join(configDir, source)).replace(/\/+$/, "");
  if (dir !== root && !dir.startsWith(`${root}/`)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `local Feature ${source} resolves to ${dir}, outside the repository ${root}; keep local Features inside the repository (e.g. .devcontainer/${path.posix.basename(dir)})`,
      { feature: source },
    );
  }
  return dir;
}

/** The last path component of a Feature key without its version: the Feature's id by convention. */
export function featureIdOf(source: string): string {
  const noDigest = source.split("@")[0] ?? source;
  const last = noDigest.replace(/\/+$/, "").split("/").pop() ?? noDigest;
  return last.replace(/:[^:]*$/, "").replace(/\.(tgz|tar\.gz|tar)$/i, "");
}

// Features that need a container engine inside the environment. Warren's environments do not
// run one: the reference installs dockerd and runs it privileged (docker-in-docker) or bind-
// mounts the host's Docker socket (docker-outside-of-docker); either would make root in the
// environment root on the host. docs/devcontainer-features.md says what to use instead.
const NESTED_ENGINE_FEATURES = new Set([
  "docker-in-docker",
  "docker-outside-of-docker",
  "docker-from-docker",
  "docker-outside-of-docker-compose",
]);

export function refuseNestedEngine(sourceOrId: string): void {
  const id = featureIdOf(sourceOrId).toLowerCase();
  if (!NESTED_ENGINE_FEATURES.has(id)) return;
  throw new WarrenError(
    "INVALID_ARGUMENT",
    `Feature ${sourceOrId} runs a Docker engine inside the environment (or reaches the host's), which Warren ` +
      "does not allow: it needs privileged mode or the host's Docker socket, and either makes root in the " +
      "environment root on the host. Remove it and instead: build images with devcontainer.json `build.dockerfile` " +
      "(Warren builds it with buildah in the environment's own sandbox); run databases and other services as " +
      "`services` in .warren/automations.yaml; or use a remote engine with DOCKER_HOST pointing at a Docker host " +
      "you run elsewhere. See docs/devcontainer-features.md",
    { feature: sourceOrId, alternative: "build.dockerfile, .warren/automations.yaml services, DOCKER_HOST" },
  );
}
