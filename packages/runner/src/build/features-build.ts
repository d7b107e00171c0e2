// Installs fetched Features onto an image in the runner's store: a build context with each
// Feature's files (copied from the cache), its options file and install wrapper, and the
// Dockerfile of features-dockerfile.ts, built by the Dockerfile builder (buildah.ts) under the
// environment's own ids, network and limits. The result is stored under `tag`.
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { type FeatureInstall, type ImageInfo, type ProgressFn, WarrenError } from "@warren/protocol";
import type { EngineContext } from "../engine/context.ts";
import { buildFromDockerfile, type DockerfileBuildRequest } from "./buildah.ts";
import { type CachedFeature, cachedFeature, scratchFile } from "./features-cache.ts";
import {
  BUILTIN_ENV,
  builtinEnvFile,
  compactMetadataLabel,
  type FeatureLayer,
  featureDirName,
  featuresDockerfile,
  INSTALL_WRAPPER,
  installWrapper,
  METADATA_LABEL,
  OPTIONS_ENV,
  optionsEnvFile,
} from "./features-dockerfile.ts";

const run = promisify(execFile);

export interface FeatureBuildRequest {
  envId: string;
  /** The image (in the runner's store) to install the Features on. */
  baseImage: string;
  /** In install order, each already fetched (fetchFeature) so its digest is in the cache. */
  features: FeatureInstall[];
  remoteUser?: string;
  containerUser?: string;
  /** The devcontainer.metadata label to record; default: the base's entries plus one per Feature. */
  metadataLabel?: string;
  /** Ref the result is stored under. */
  tag: string;
}

/** What builds a Dockerfile: buildah.ts buildFromDockerfile (a test may wrap it). */
export type DockerfileBuilder = (
  ctx: EngineContext,
  req: DockerfileBuildRequest,
  progress: ProgressFn,
) => Promise<ImageInfo>;

// Bumped whenever the generated Dockerfile or context changes, so older builds stop matching.
const LAYOUT_VERSION = 2;

/** Everything besides the base image that decides the result, for the build cache key. */
export function featuresKeyMaterial(req: Omit<FeatureBuildRequest, "envId" | "tag" | "baseImage">): string {
  return JSON.stringify({
    layout: LAYOUT_VERSION,
    features: req.features.map((f) => [
      f.id,
      f.digest,
      Object.entries(f.options).sort(([a], [b]) => (a < b ? -1 : 1)),
    ]),
    remoteUser: req.remoteUser ?? null,
    containerUser: req.containerUser ?? null,
    metadataLabel: req.metadataLabel ?? null,
  });
}

export async function buildFeaturesImpl(
  ctx: EngineContext,
  req: FeatureBuildRequest,
  progress: ProgressFn,
  build: DockerfileBuilder = buildFromDockerfile,
): Promise<ImageInfo> {
  const base = await ctx.images.get(req.baseImage);
  const entries: CachedFeature[] = [];
  for (const f of req.features) {
    const entry = await cachedFeature(ctx, f.digest);
    if (!entry) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `Feature ${f.source} (${f.digest.slice(0, 19)}) is not in the runner's Feature cache; fetch it first (fetchFeature), then build`,
        { feature: f.source },
      );
    }
    if (entry.id !== f.id) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `Feature ${f.source}: the build names id ${f.id}, but content ${f.digest.slice(0, 19)} is Feature ${entry.id}`,
        { feature: f.source },
      );
    }
    entries.push(entry);
  }
  const imageUser = base.config.user ?? "";
  const containerUser = req.containerUser ?? (imageUser.split(":")[0] || "root");
  const remoteUser = req.remoteUser ?? containerUser;
  const layers: FeatureLayer[] = req.features.map((f, i) => layerOf(f, entries[i]!, i));
  const dockerfileText = featuresDockerfile({
    base: req.baseImage,
    imageUser,
    containerUser,
    remoteUser,
    features: layers,
  });
  const label = compactMetadataLabel(
    req.metadataLabel ?? defaultMetadataLabel(base.config.labels?.[METADATA_LABEL], req.features, entries),
  );
  const contextHostDir = await makeContext(ctx, entries, layers, containerUser, remoteUser);
  try {
    progress({
      phase: "feature",
      message: `installing ${layers.length} Feature(s) on ${req.baseImage}: ${layers.map((l) => l.id).join(", ")}`,
    });
    return await build(
      ctx,
      { envId: req.envId, contextHostDir, dockerfileText, tag: req.tag, labels: { [METADATA_LABEL]: label } },
      progress,
    );
  } finally {
    await fs.rm(contextHostDir, { recursive: true, force: true });
  }
}

function layerOf(f: FeatureInstall, entry: CachedFeature, index: number): FeatureLayer {
  const m = entry.metadata;
  const str = (k: string) => (typeof m[k] === "string" ? (m[k] as string) : undefined);
  const env = m["containerEnv"];
  if (env !== undefined && (typeof env !== "object" || env === null || Array.isArray(env))) {
    throw new WarrenError("INVALID_ARGUMENT", `Feature ${f.id}: containerEnv must be an object of strings`);
  }
  const layer: FeatureLayer = { dir: featureDirName(index, f.id), id: f.id, options: f.options };
  const name = str("name");
  const version = str("version");
  const docs = str("documentationURL");
  if (name) layer.name = name;
  if (version) layer.version = version;
  if (docs) layer.documentationURL = docs;
  if (env) layer.containerEnv = env as Record<string, string>;
  return layer;
}

async function makeContext(
  ctx: EngineContext,
  entries: CachedFeature[],
  layers: FeatureLayer[],
  containerUser: string,
  remoteUser: string,
): Promise<string> {
  const dir = await scratchFile(ctx, "context");
  await fs.mkdir(dir, { mode: 0o700 });
  try {
    await fs.writeFile(path.join(dir, BUILTIN_ENV), builtinEnvFile(containerUser, remoteUser), {
      flag: "wx",
    });
    for (const [i, layer] of layers.entries()) {
      const dest = path.join(dir, layer.dir);
      // cp -a copies links as links; nothing in the Feature is followed on the host.
      await run("cp", ["-a", "--no-target-directory", "--", entries[i]!.contentDir, dest]);
      for (const [name, text] of [
        [OPTIONS_ENV, optionsEnvFile(layer.options)],
        [INSTALL_WRAPPER, installWrapper(layer)],
      ] as const) {
        // The Feature may ship a file (or a planted symlink) by that name: replace it, never write through it.
        await fs.rm(path.join(dest, name), { force: true, recursive: true });
        await fs.writeFile(path.join(dest, name), text, { flag: "wx", mode: 0o755 });
      }
    }
    return dir;
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}

const CONTRIBUTED = [
  "init",
  "privileged",
  "capAdd",
  "securityOpt",
  "entrypoint",
  "mounts",
  "customizations",
  "onCreateCommand",
  "updateContentCommand",
  "postCreateCommand",
  "postStartCommand",
  "postAttachCommand",
];

/** The base image's metadata entries followed by one per Feature (its id and what it contributes). */
export function defaultMetadataLabel(
  baseLabel: string | undefined,
  features: FeatureInstall[],
  entries: CachedFeature[],
): string {
  let baseEntries: unknown[] = [];
  if (baseLabel) {
    try {
      const parsed = JSON.parse(baseLabel) as unknown;
      baseEntries = Array.isArray(parsed) ? parsed : typeof parsed === "object" && parsed ? [parsed] : [];
    } catch {
      baseEntries = [];
    }
  }
  const mine = features.map((f, i) => {
    const m = entries[i]!.metadata;
    const out: Record<string, unknown> = { id: f.source };
    for (const k of CONTRIBUTED) if (m[k] !== undefined) out[k] = m[k];
    return out;
  });
  return JSON.stringify([...baseEntries, ...mine]);
}
