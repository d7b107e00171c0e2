// The runner's build capability (protocol runner-build.ts) as the Engine calls it: Dockerfile
// builds with buildah under the environment's own ids, network and limits (buildah.ts), Features
// on top (features-*.ts), a content-keyed cache in the image store (cache-key.ts), and images'
// labels from the store.
import fs from "node:fs/promises";
import path from "node:path";
import {
  type BuildImageRequest,
  type BuiltImage,
  checkBuildRequest,
  type FeatureFetchRequest,
  type FetchedFeature,
  type ImageInfo,
  type ProgressFn,
  parseImageRef,
  WarrenError,
} from "@warren/protocol";
import type { EngineContext } from "../engine/context.ts";
import { observeEnv } from "../engine/observe.ts";
import { registryPolicy } from "../storage/registry/policy.ts";
import { pullFromRegistry } from "../storage/registry/pull.ts";
import { buildFromDockerfile } from "./buildah.ts";
import { buildRef, dockerfileKey, featuresKey } from "./cache-key.ts";
import { contextFromEnv, dockerfileFromEnv, type EnvExec } from "./context.ts";
import { scanDockerfile } from "./dockerfile-scan.ts";
import { buildFeaturesImpl, featuresKeyMaterial } from "./features-build.ts";
import { fetchFeatureImpl } from "./features-fetch.ts";

const METADATA_LABEL = "devcontainer.metadata";

export function fetchFeature(
  ctx: EngineContext,
  req: FeatureFetchRequest,
  progress: ProgressFn,
): Promise<FetchedFeature> {
  return fetchFeatureImpl(ctx, req, progress);
}

/** The Engine's exec, the one way into an environment; imported lazily (engine.ts imports this). */
async function engineExec(ctx: EngineContext): Promise<EnvExec> {
  const { Engine } = await import("../engine/engine.ts");
  const engine = new Engine(ctx);
  return (envId, r, h) => engine.exec(envId, r, h);
}

async function requireRunning(ctx: EngineContext, envId: string): Promise<void> {
  const o = await observeEnv(ctx, envId);
  if (o.state !== "running") {
    throw new WarrenError(
      "ENV_NOT_RUNNING",
      "the environment is not running; a build reads its files and uses its network: start it first",
    );
  }
}

/** The store image a FROM names (as written, or canonical), pulled by Warren's client if absent. */
async function baseDigest(ctx: EngineContext, image: string, progress: ProgressFn): Promise<string> {
  for (const ref of [image, parseImageRef(image).canonical]) {
    if (await ctx.images.has(ref).catch(() => false)) return (await ctx.images.info(ref)).digest;
  }
  progress({ phase: "build", message: `pulling ${image} (FROM)` });
  const pulled = await pullFromRegistry(ctx.images, image, progress, { policy: registryPolicy(ctx.cfg) });
  return pulled.digest;
}

async function cachedImage(ctx: EngineContext, ref: string): Promise<ImageInfo | null> {
  if (!(await ctx.images.has(ref))) return null;
  await ctx.images.touch(ref).catch(() => undefined);
  return ctx.images.info(ref);
}

async function dockerfileImage(
  ctx: EngineContext,
  req: BuildImageRequest,
  labels: Record<string, string>,
  progress: ProgressFn,
): Promise<BuiltImage> {
  const d = req.dockerfile!;
  const exec = await engineExec(ctx);
  const work = await ctx.images.tmpPath("build-context");
  await fs.mkdir(work, { mode: 0o700 });
  try {
    progress({ phase: "build", message: `reading build context ${d.context} inside the environment` });
    const contextHostDir = path.join(work, "context");
    const contextDigest = await contextFromEnv(ctx.images, exec, {
      envId: req.envId,
      context: d.context,
      repoRoot: req.repoRoot,
      dest: contextHostDir,
    });
    const dockerfileText = await dockerfileFromEnv(ctx.images, exec, {
      envId: req.envId,
      dockerfile: d.dockerfile,
      repoRoot: req.repoRoot,
    });
    const args = d.args ?? {};
    const bases: [string, string][] = [];
    for (const f of scanDockerfile(dockerfileText, args).froms) {
      if (!f.local) bases.push([f.image, await baseDigest(ctx, f.image, progress)]);
    }
    const ref = buildRef(
      dockerfileKey({
        dockerfileText,
        contextDigest,
        args,
        ...(d.target ? { target: d.target } : {}),
        bases,
        labels,
        ...(req.cacheScope !== undefined ? { scope: req.cacheScope } : {}),
      }),
    );
    const hit = await cachedImage(ctx, ref);
    if (hit) {
      progress({ phase: "build", message: `${ref}: cached (same Dockerfile, context, args and bases)` });
      return { ...hit, cached: true };
    }
    const info = await buildFromDockerfile(
      ctx,
      {
        envId: req.envId,
        contextHostDir,
        dockerfileText,
        args,
        ...(d.target ? { target: d.target } : {}),
        tag: ref,
        labels,
      },
      progress,
    );
    return { ...info, cached: false };
  } finally {
    await ctx.images.releaseTmp(work);
  }
}

export async function buildImage(
  ctx: EngineContext,
  raw: BuildImageRequest,
  progress: ProgressFn,
): Promise<BuiltImage> {
  const req = checkBuildRequest(raw);
  await requireRunning(ctx, req.envId);
  const features = req.features ?? [];
  // The label goes on the last image built: the Features' build writes it itself.
  const labels: Record<string, string> =
    req.metadataLabel !== undefined && features.length === 0 ? { [METADATA_LABEL]: req.metadataLabel } : {};
  let image: BuiltImage;
  if (req.dockerfile) image = await dockerfileImage(ctx, req, labels, progress);
  else image = { ...(await ctx.images.info(req.baseImage!)), cached: true };
  if (features.length === 0) return image;

  const material = featuresKeyMaterial({
    features,
    ...(req.remoteUser ? { remoteUser: req.remoteUser } : {}),
    ...(req.containerUser ? { containerUser: req.containerUser } : {}),
    ...(req.metadataLabel !== undefined ? { metadataLabel: req.metadataLabel } : {}),
  });
  const ref = buildRef(featuresKey(image.digest, material, req.cacheScope));
  const hit = await cachedImage(ctx, ref);
  if (hit) {
    progress({ phase: "feature", message: `${ref}: cached (same base and Features)` });
    return { ...hit, cached: true };
  }
  const info = await buildFeaturesImpl(
    ctx,
    {
      envId: req.envId,
      baseImage: image.ref,
      features,
      ...(req.remoteUser ? { remoteUser: req.remoteUser } : {}),
      ...(req.containerUser ? { containerUser: req.containerUser } : {}),
      ...(req.metadataLabel !== undefined ? { metadataLabel: req.metadataLabel } : {}),
      tag: ref,
    },
    progress,
    buildFromDockerfile,
  );
  return { ...info, cached: false };
}

/** An image's config labels (devcontainer.metadata among them). IMAGE_NOT_FOUND if absent. */
export async function imageLabels(ctx: EngineContext, ref: string): Promise<Record<string, string>> {
  const rec = await ctx.images.readRecord(ref);
  return { ...(rec.config.labels ?? {}) };
}
