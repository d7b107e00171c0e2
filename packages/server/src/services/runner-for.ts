// Which runner serves an organisation's calls that are not about one environment (its images,
// the host facts that admission reads, DNS counters). Calls about an environment route by the
// environment's own organisation (runners/hub.ts) and need no choice here. Embedded mode has one
// runner for everybody; `warren server` routes through the hub (RunnerHub.forOrg). `undefined`
// is the system acting for no organisation in particular.
import type { RunnerApi } from "@warren/protocol";

/** `C` narrows it to the runner capability a service uses (protocol runner.ts). */
export type RunnerFor<C = RunnerApi> = (orgId: string | undefined) => C;

export const oneRunner =
  <C = RunnerApi>(runner: C): RunnerFor<C> =>
  () =>
    runner;

/**
 * Reaches one runner by id (the one a placement chose) for calls not about one environment: its
 * image presence and pulls. `warren server`: RunnerHub.forRunner; embedded: the one runner.
 */
export type RunnerById<C = RunnerApi> = (runnerId: string) => C;
