// RunnerBuild.fetchFeature: one Feature from wherever its key points (features-source.ts) into
// the runner's cache, returning its id, content digest and devcontainer-feature.json.
import type { FeatureFetchRequest, FetchedFeature, ProgressFn } from "@warren/protocol";
import type { EngineContext } from "../engine/context.ts";
import { type EnvExec, fetchLocalFeature } from "./features-local.ts";
import { fetchOciFeature, fetchTarballFeature } from "./features-remote.ts";
import { classifyFeatureSource, refuseNestedEngine } from "./features-source.ts";

export async function fetchFeatureImpl(
  ctx: EngineContext,
  req: FeatureFetchRequest,
  progress: ProgressFn,
  /** How to run the tar of a local Feature inside the environment; default the Engine's exec. */
  exec?: EnvExec,
): Promise<FetchedFeature> {
  const src = classifyFeatureSource(req.source, req.configDir, req.repoRoot);
  let got: FetchedFeature;
  if (src.kind === "local") {
    got = await fetchLocalFeature(
      ctx,
      exec ?? (await engineExec(ctx)),
      { envId: req.envId, source: req.source, dir: src.dir, repoRoot: req.repoRoot },
      progress,
    );
  } else if (src.kind === "oci") {
    got = await fetchOciFeature(ctx, req.source, src.ref, req.credential, progress);
  } else {
    got = await fetchTarballFeature(ctx, req.source, src.url, progress);
  }
  // A fork of docker-in-docker under another name is refused by the id it declares.
  refuseNestedEngine(got.id);
  return got;
}

/**
 * The Engine's exec is the one way into an environment (user, rlimits, capabilities, the
 * runtime's exec); reuse it rather than copy it. Imported lazily: engine.ts imports this folder.
 */
async function engineExec(ctx: EngineContext): Promise<EnvExec> {
  const { Engine } = await import("../engine/engine.ts");
  const engine = new Engine(ctx);
  return (envId, r, h) => engine.exec(envId, r, h);
}
