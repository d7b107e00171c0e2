// The CPU governor's knobs: from the runner's configuration first, then the environment, then
// the defaults. A bad value stops the runner at start with the knob's name and what it accepts,
// rather than governing with a guess.
import { GOVERNOR_DEFAULTS } from "./types.ts";

export interface GovernorSettings {
  /** WARREN_GOVERNOR=off leaves every environment at its class cpus with the runtime's share. */
  enabled: boolean;
  /** WARREN_GOVERNOR_TICK_MS, default 10 000. */
  tickMs: number;
  /** WARREN_GOVERNOR_RESERVE_CORES: cores kept for the host; default max(0.25, 5 % of the cores). */
  reserveCores: number;
  /**
   * WARREN_GOVERNOR_BURST_FACTOR: an environment's burst is this × its cpus (default 2) when its
   * class sets none (`warren class create --cpu-burst`); at most the budget either way.
   */
  burstFactor: number;
}

export const defaultReserveCores = (hostCores: number) =>
  Math.max(0.25, Math.round(hostCores * 0.05 * 100) / 100);

function knob(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  ok: (n: number) => boolean,
  accepts: string,
): number {
  const v = env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || !ok(n)) throw new Error(`${name} must be ${accepts}, got ${JSON.stringify(v)}`);
  return n;
}

export function governorSettings(
  hostCores: number,
  overrides: Partial<GovernorSettings> = {},
  env: NodeJS.ProcessEnv = process.env,
): GovernorSettings {
  const onOff = (env["WARREN_GOVERNOR"] ?? "on").toLowerCase();
  if (!["on", "off", "1", "0", "true", "false"].includes(onOff)) {
    throw new Error(`WARREN_GOVERNOR must be on or off, got ${JSON.stringify(env["WARREN_GOVERNOR"])}`);
  }
  const s: GovernorSettings = {
    enabled: !["off", "0", "false"].includes(onOff),
    tickMs: knob(
      env,
      "WARREN_GOVERNOR_TICK_MS",
      GOVERNOR_DEFAULTS.tickMs,
      (n) => Number.isInteger(n) && n >= 100,
      "a whole number of milliseconds of at least 100",
    ),
    reserveCores: knob(
      env,
      "WARREN_GOVERNOR_RESERVE_CORES",
      defaultReserveCores(hostCores),
      (n) => n >= 0 && n < hostCores,
      `a number of cores from 0 to below the host's ${hostCores}`,
    ),
    burstFactor: knob(
      env,
      "WARREN_GOVERNOR_BURST_FACTOR",
      GOVERNOR_DEFAULTS.burstFactor,
      (n) => n >= 1 && n <= 64,
      "a number from 1 (no burst) to 64",
    ),
    ...overrides,
  };
  if (!(s.reserveCores >= 0 && s.reserveCores < hostCores)) {
    throw new Error(
      `the governor's reserve must be from 0 to below the host's ${hostCores} cores, not ${s.reserveCores}`,
    );
  }
  return s;
}
