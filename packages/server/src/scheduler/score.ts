// Score: among runners that can take a request, prefer the one that packs real usage tightest,
// keeps an owner's environments apart, and already holds the image. Higher is better.
import type { PlacementRequest, RunnerSnapshot } from "./types.ts";

/**
 * Live packing is worth up to 100 points (the mean of live CPU and memory utilisation, 0..1).
 * It is the main term: packing by what environments really use, not by their requests, is what
 * lets a fleet run on fewer hosts, while the filter's ratios and floor keep it safe.
 */
export const LIVE_PACKING_WEIGHT = 100;
/**
 * Each environment the owner already has on a runner costs 40 points: one host failing should
 * not take all of a person's environments, and this outweighs a runner being 40 points busier.
 */
export const OWNER_SPREAD_PENALTY = 40;
/**
 * A cached image is worth 25 points: it saves a pull (seconds to minutes) once, which matters
 * less than packing or spread but decides between runners that are otherwise close.
 */
export const IMAGE_CACHED_BONUS = 25;

export interface ScoredRunner {
  runner: RunnerSnapshot;
  total: number;
  /** Live utilisation before placement, 0..1. */
  cpuUse: number;
  memoryUse: number;
  ownerEnvs: number;
  imageCached: boolean;
}

const fraction = (used: number, capacity: number) =>
  capacity > 0 ? Math.min(1, Math.max(0, used / capacity)) : 0;

export function scoreRunner(req: PlacementRequest, runner: RunnerSnapshot): ScoredRunner {
  const cpuUse = fraction(runner.usage.cpuEwmaCores, runner.capacity.cpus);
  const memoryUse = fraction(runner.usage.memoryWorkingSetBytes, runner.capacity.memoryBytes);
  const owned = runner.ownerEnvCounts[req.ownerId] ?? 0;
  const ownerEnvs = Number.isFinite(owned) && owned > 0 ? owned : 0;
  const imageCached = runner.images.includes(req.image);
  const total =
    LIVE_PACKING_WEIGHT * ((cpuUse + memoryUse) / 2) -
    OWNER_SPREAD_PENALTY * ownerEnvs +
    (imageCached ? IMAGE_CACHED_BONUS : 0);
  return { runner, total, cpuUse, memoryUse, ownerEnvs, imageCached };
}

/** Best first; equal scores fall back to name, then id, so every replica picks the same runner. */
export function rankRunners(req: PlacementRequest, runners: RunnerSnapshot[]): ScoredRunner[] {
  const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return runners
    .map((r) => scoreRunner(req, r))
    .sort(
      (a, b) => b.total - a.total || byText(a.runner.name, b.runner.name) || byText(a.runner.id, b.runner.id),
    );
}
