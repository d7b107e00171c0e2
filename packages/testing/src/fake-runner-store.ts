// The fake runner's store rules, as the real runner keeps them: removing an image (unknown and
// in-use ones are refused) and saving a disk template (the environment must be stopped).
import { type EnvObserved, type RunnerEnvSpec, type SavedTemplate, WarrenError } from "@warren/protocol";

type FakeEnv = { spec: RunnerEnvSpec; state: EnvObserved["state"] };

export function removeFakeImage(
  images: Map<string, unknown>,
  envs: Map<string, FakeEnv>,
  ref: string,
): string[] {
  if (!images.has(ref)) {
    throw new WarrenError("IMAGE_NOT_FOUND", `image ${ref} is not in the image store`, { ref });
  }
  const users = [...envs].filter(([, e]) => e.spec.image === ref).map(([id]) => id);
  if (users.length > 0) {
    throw new WarrenError(
      "IMAGE_IN_USE",
      `image ${ref} is used by environments ${users.join(", ")}; delete them first (\`warren rm NAME\`)`,
      { ref, environments: users },
    );
  }
  images.delete(ref);
  return [ref];
}

export function saveFakeTemplate(
  templates: Map<string, { image: string; envId: string }>,
  env: FakeEnv | undefined,
  envId: string,
  key: string,
): SavedTemplate {
  if (!env) throw new WarrenError("ENV_NOT_FOUND", `environment ${envId} is not on this runner`);
  if (env.state === "running")
    throw new WarrenError("ENV_RUNNING", `stop ${env.spec.name} before saving its disk`);
  templates.set(key, { image: env.spec.image, envId });
  return { key, image: env.spec.image, diskBytes: env.spec.resources.diskBytes, usedBytes: 1 };
}
