// The hub's timings from the daemon's options, else the environment (so a `warren server` in an
// end-to-end test can shorten the unreachable grace period without a flag), else the defaults.
import type { DaemonOptions } from "../daemon-options.ts";
import type { RunnerHubOptions } from "./hub.ts";

type Timings = Pick<RunnerHubOptions, "heartbeatMs" | "unreachableGraceMs" | "fleetRefreshMs">;

function fromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 10 || n > 86_400_000)
    throw new Error(`${name}=${raw} is not a whole number of milliseconds between 10 and 86400000`);
  return n;
}

export function fleetTimings(opts: Pick<DaemonOptions, "fleet">): Timings {
  const heartbeatMs = opts.fleet?.heartbeatMs ?? fromEnv("WARREN_RUNNER_HEARTBEAT_MS");
  const unreachableGraceMs = opts.fleet?.unreachableGraceMs ?? fromEnv("WARREN_RUNNER_GRACE_MS");
  const fleetRefreshMs = opts.fleet?.refreshMs ?? fromEnv("WARREN_FLEET_REFRESH_MS");
  return {
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
    ...(unreachableGraceMs !== undefined ? { unreachableGraceMs } : {}),
    ...(fleetRefreshMs !== undefined ? { fleetRefreshMs } : {}),
  };
}
