// Where the environment's image comes from: an image reference, a Dockerfile build (paths made
// relative to the repository root, never outside it), or nothing (Warren's base image).
import { WarrenError } from "@warren/protocol";
import { configFolder } from "./discover.ts";
import type { DevcontainerConfig } from "./types.ts";

export type ImageSource =
  | { kind: "image"; image: string }
  | { kind: "dockerfile"; dockerfile: string; context: string; args: Record<string, string>; target?: string }
  | { kind: "none" };

/** Joins a repository-relative folder and a relative path; throws when the result leaves the repository. */
export function repoPath(folder: string, rel: string, what: string): string {
  if (rel.startsWith("/")) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${what} ${rel} is an absolute path; give it relative to devcontainer.json`,
      { path: rel },
    );
  }
  const out: string[] = [];
  for (const part of `${folder}/${rel}`.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) {
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `${what} ${rel} escapes the repository; keep it inside the repository`,
          {
            path: rel,
          },
        );
      }
      out.pop();
    } else out.push(part);
  }
  return out.length ? out.join("/") : ".";
}

/** The image source of a configuration found at `configFile` (repository-relative). */
export function imageSource(config: DevcontainerConfig, configFile: string): ImageSource {
  const folder = configFolder(configFile);
  const dockerfile = config.build?.dockerfile ?? config.dockerFile;
  if (dockerfile !== undefined) {
    const context = config.build?.context ?? config.context ?? ".";
    const src: ImageSource = {
      kind: "dockerfile",
      dockerfile: repoPath(folder, dockerfile, "build.dockerfile"),
      context: repoPath(folder, context, "build context"),
      args: { ...(config.build?.args ?? {}) },
    };
    if (config.build?.target) src.target = config.build.target;
    return src;
  }
  if (config.image !== undefined) return { kind: "image", image: config.image };
  return { kind: "none" };
}
