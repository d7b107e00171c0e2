// The build cache's key: everything that decides a build's result, hashed. The same Dockerfile,
// context content, args, target, base image digests and label give the same key, so a second
// `warren up` of the same commit answers from the store without running buildah.
import { createHash } from "node:crypto";

export interface DockerfileKeyInput {
  dockerfileText: string;
  contextDigest: string;
  args: Record<string, string>;
  target?: string;
  /** Each FROM image as written, with the digest of the store image it resolved to. */
  bases: [string, string][];
  labels: Record<string, string>;
  /** BuildImageRequest.cacheScope: builds of different organisations never share a result. */
  scope?: string;
}

const sorted = (o: Record<string, unknown>) =>
  Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function hash(parts: unknown): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
}

export function dockerfileKey(i: DockerfileKeyInput): string {
  return hash([
    "dockerfile/v1",
    i.dockerfileText,
    i.contextDigest,
    sorted(i.args),
    i.target ?? null,
    [...i.bases].sort(),
    sorted(i.labels),
    i.scope ?? null,
  ]);
}

/** Features on a base: the base's digest and the Features' own key material (features-build.ts). */
export function featuresKey(baseDigest: string, material: string, scope?: string): string {
  return hash(["features/v1", baseDigest, material, scope ?? null]);
}

/** The store ref a build with this key is kept under. */
export function buildRef(key: string): string {
  return `warren-build/${key.slice(0, 32)}`;
}
