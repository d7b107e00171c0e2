// The governor's inputs come from cgroup files and the runner's configuration; a value that makes
// no sense stops the tick with a message naming it, before any write is decided.
import { WarrenError } from "@warren/protocol";
import type { GovernorInput } from "./types.ts";

const nonNegative = (n: number) => Number.isFinite(n) && n >= 0;
const positive = (n: number) => Number.isFinite(n) && n > 0;

export function validateGovernorInput(input: GovernorInput): void {
  const bad = (what: string): never => {
    throw new WarrenError("INVALID_ARGUMENT", `cpu governor: ${what}`);
  };
  const c = input.config;
  if (c.mode !== "v1" && c.mode !== "v2") bad(`cgroup mode must be v1 or v2, not ${String(c.mode)}`);
  if (!positive(c.hostCores)) bad(`host cores must be a positive number, not ${c.hostCores}`);
  if (!nonNegative(c.reserveCores) || c.reserveCores >= c.hostCores)
    bad(
      `the reserve (${c.reserveCores} cores) must be at least 0 and below the host's ${c.hostCores} cores; lower the governor's reserve`,
    );
  if (!positive(c.ewmaTauMs))
    bad(`the EWMA time constant must be a positive number of ms, not ${c.ewmaTauMs}`);
  if (!(c.grantBelowFraction > 0 && c.grantBelowFraction <= 1))
    bad(`the grant threshold must be a fraction in (0, 1], not ${c.grantBelowFraction}`);
  if (!Number.isInteger(c.revertAfterQuietTicks) || c.revertAfterQuietTicks < 1)
    bad(`revert-after must be a whole number of ticks of at least 1, not ${c.revertAfterQuietTicks}`);
  if (!positive(input.elapsedMs))
    bad(`the tick length must be a positive number of ms, not ${input.elapsedMs}`);
  if (!nonNegative(input.hostUsageCores))
    bad(`host usage must be a number of cores ≥ 0, not ${input.hostUsageCores}`);
  const seen = new Set<string>();
  for (const e of input.envs) {
    if (!e.id || seen.has(e.id))
      bad(`environment ids must be non-empty and unique (${JSON.stringify(e.id)})`);
    seen.add(e.id);
    if (!positive(e.cpus)) bad(`environment ${e.id}: cpus must be a positive number, not ${e.cpus}`);
    if (e.burstCpus !== undefined && !positive(e.burstCpus))
      bad(`environment ${e.id}: burst cpus must be a positive number, not ${e.burstCpus}`);
    if (!nonNegative(e.usageCores)) bad(`environment ${e.id}: usage must be ≥ 0 cores, not ${e.usageCores}`);
    if (!Number.isInteger(e.throttledPeriods) || e.throttledPeriods < 0)
      bad(`environment ${e.id}: throttled periods must be a whole number ≥ 0, not ${e.throttledPeriods}`);
  }
}
