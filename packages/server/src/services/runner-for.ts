// Which runner serves an organisation's calls that are not about one environment (its images,
// the host facts that admission reads, DNS counters). Calls about an environment route by the
// environment's own organisation (runners/hub.ts) and need no choice here. Embedded mode has one
// runner for everybody; `warren server` routes through the hub (RunnerHub.forOrg). `undefined`
// is the system acting for no organisation in particular.
import type { RunnerApi } from "@warren/protocol";

export type RunnerFor = (orgId: string | undefined) => RunnerApi;

export const oneRunner =
  (runner: RunnerApi): RunnerFor =>
  () =>
    runner;
