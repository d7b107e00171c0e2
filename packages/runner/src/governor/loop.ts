// The thin, effectful half of the CPU governor: every tick it reads each running environment's
// CPU counters and the host's, turns the deltas into one sample per environment, runs the pure
// plan (plan.ts), and writes back only the values that changed. Between ticks it keeps the
// plan's state and, for `warren inspect` and /metrics, each environment's last decision.
//
// An environment seen for the first time (or restarted: its counters went backwards) has no
// delta yet: it joins the plan at its base values, counted as using its whole cap. One whose
// group vanished is gone: it is forgotten, not reported.
import type { CgroupDriver } from "../cgroups/types.ts";
import { applyCpuWrites, type CpuGroupReading, readCpuGroup } from "./cgroup-cpu.ts";
import { burstCores, planGovernor } from "./plan.ts";
import type { GovernorSettings } from "./settings.ts";
import {
  type CpuWrite,
  type EnvCpuSample,
  type EnvGovernorState,
  GOVERNOR_DEFAULTS,
  type GovernorConfig,
  type GovernorCounters,
} from "./types.ts";

/** A running (or maybe running) environment the governor should look at. */
export interface GovernedEnv {
  id: string;
  /** Its class's (or last resize's) cpus. */
  cpus: number;
  /** Its class's burst in cores (the spec's cpuBurst); absent: settings.burstFactor × cpus. */
  burstCpus?: number;
  cgroupPath: string;
}

/** What the governor last decided for one environment. */
export interface GovernorEnvMemory {
  granted: boolean;
  baseCores: number;
  burstCores: number;
  burstGrantsTotal: number;
  explanation?: string;
}

export interface CpuGovernorOptions {
  cgroups: Pick<CgroupDriver, "mode" | "paths">;
  settings: GovernorSettings;
  hostCores: number;
  listEnvs: () => Promise<GovernedEnv[]>;
  /** The host's cumulative busy CPU time in seconds (host-cpu.ts reads /proc/stat). */
  hostBusySeconds: () => number;
  now?: () => number;
  /** A tick's or one environment's failure; the loop carries on. */
  onError?: (err: unknown, envId?: string) => void;
}

interface Tracked {
  usageNs: number;
  nrThrottled: number;
  at: number;
  /** Absent until its first plan. */
  memory?: GovernorEnvMemory;
}

export class CpuGovernor {
  readonly #o: Required<Omit<CpuGovernorOptions, "onError">> & Pick<CpuGovernorOptions, "onError">;
  readonly config: GovernorConfig;
  readonly totals: GovernorCounters & { ticks: number } = {
    ticks: 0,
    grants: 0,
    revokes: 0,
    reverts: 0,
    throttledPeriods: 0,
  };
  #state: Record<string, EnvGovernorState> = {};
  readonly #tracked = new Map<string, Tracked>();
  #host: { busy: number; at: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #running: Promise<void> | undefined;

  constructor(o: CpuGovernorOptions) {
    this.#o = { now: () => performance.now(), ...o };
    this.config = {
      mode: o.cgroups.mode,
      hostCores: o.hostCores,
      reserveCores: o.settings.reserveCores,
      ewmaTauMs: GOVERNOR_DEFAULTS.ewmaTauMs,
      grantBelowFraction: GOVERNOR_DEFAULTS.grantBelowFraction,
      revertAfterQuietTicks: GOVERNOR_DEFAULTS.revertAfterQuietTicks,
    };
  }

  get budgetCores(): number {
    return this.config.hostCores - this.config.reserveCores;
  }

  /** The governor's last decision for an environment, or undefined before its first tick. */
  memory(id: string): GovernorEnvMemory | undefined {
    return this.#tracked.get(id)?.memory;
  }

  #report(err: unknown, envId?: string): void {
    this.#o.onError?.(err, envId);
  }

  /** The host's usage in cores since the last tick, and that tick's length; null on the first. */
  #hostSince(at: number): { cores: number; elapsedMs: number } | null {
    let busy: number;
    try {
      busy = this.#o.hostBusySeconds();
    } catch (err) {
      this.#report(err);
      return null;
    }
    const prev = this.#host;
    this.#host = { busy, at };
    if (!prev || at <= prev.at || busy < prev.busy) return null;
    const elapsedMs = at - prev.at;
    // Rounding of the two readings can put it a little past the host's cores.
    return { cores: Math.min(this.config.hostCores, (busy - prev.busy) / (elapsedMs / 1000)), elapsedMs };
  }

  /** The burst the environment asks for: its class's own, else the runner's factor × its cpus. */
  #wantedBurst(env: GovernedEnv): number {
    return env.burstCpus ?? this.#o.settings.burstFactor * env.cpus;
  }

  #burstOf(env: GovernedEnv): number {
    return burstCores({ cpus: env.cpus, burstCpus: this.#wantedBurst(env) }, this.budgetCores);
  }

  async #apply(env: GovernedEnv, writes: CpuWrite[]): Promise<boolean> {
    if (writes.length === 0) return true;
    try {
      return await applyCpuWrites(this.#o.cgroups, env.cgroupPath, writes);
    } catch (err) {
      // The next tick reads the files again and writes what still differs.
      this.#report(err, env.id);
      return true;
    }
  }

  /** One pass: read, plan, write. Never throws; failures go to onError. */
  async tick(): Promise<void> {
    const at = this.#o.now();
    let envs: GovernedEnv[];
    try {
      envs = await this.#o.listEnvs();
    } catch (err) {
      this.#report(err);
      return;
    }
    const readings = await Promise.all(
      envs.map((e) =>
        readCpuGroup(this.#o.cgroups, e.cgroupPath).catch((err: unknown) => {
          this.#report(err, e.id);
          return null;
        }),
      ),
    );
    const host = this.#hostSince(at);
    const byId = new Map<string, { env: GovernedEnv; r: CpuGroupReading }>();
    const samples: EnvCpuSample[] = [];
    const fresh = new Set<string>();
    envs.forEach((env, i) => {
      const r = readings[i];
      if (!r) return;
      if (!(Number.isFinite(env.cpus) && env.cpus > 0)) {
        // One bad handle must not stop the plan for every other environment.
        this.#report(new Error(`cpus must be a positive number, not ${env.cpus}`), env.id);
        return;
      }
      if (env.burstCpus !== undefined && !(Number.isFinite(env.burstCpus) && env.burstCpus > 0)) {
        this.#report(new Error(`cpu burst must be a positive number of cores, not ${env.burstCpus}`), env.id);
        return;
      }
      byId.set(env.id, { env, r });
      const prev = this.#tracked.get(env.id);
      const restarted = prev && (r.usageNs < prev.usageNs || r.nrThrottled < prev.nrThrottled);
      const delta = prev && !restarted && at > prev.at;
      // Without a delta its use is unknown: count it at its whole cap, so a burst granted beside it
      // still fits when it turns out busy.
      if (!delta) fresh.add(env.id);
      samples.push({
        id: env.id,
        cpus: env.cpus,
        burstCpus: this.#wantedBurst(env),
        current: r.current,
        usageCores: delta ? (r.usageNs - prev.usageNs) / ((at - prev.at) * 1e6) : env.cpus,
        throttledPeriods: delta ? r.nrThrottled - prev.nrThrottled : 0,
      });
    });
    for (const id of this.#tracked.keys()) if (!byId.has(id)) this.#tracked.delete(id);

    if (host && samples.length > 0) {
      try {
        const plan = planGovernor({
          config: this.config,
          elapsedMs: host.elapsedMs,
          hostUsageCores: host.cores,
          envs: samples,
          state: Object.fromEntries(Object.entries(this.#state).filter(([id]) => !fresh.has(id))),
        });
        for (const d of plan.envs) {
          const { env, r } = byId.get(d.id)!;
          const before = this.#tracked.get(d.id)?.memory;
          const grantedNow = d.granted && !before?.granted;
          if (grantedNow) this.totals.grants++;
          if (d.reason.kind === "revoked") this.totals.revokes++;
          if (d.reason.kind === "reverted") this.totals.reverts++;
          const writes = plan.writes.filter((w) => w.envId === d.id);
          if (!(await this.#apply(env, writes))) continue; // vanished while we wrote: gone
          const memory: GovernorEnvMemory = {
            granted: d.granted,
            baseCores: env.cpus,
            burstCores: this.#burstOf(env),
            burstGrantsTotal: (before?.burstGrantsTotal ?? 0) + (grantedNow ? 1 : 0),
            explanation: d.explanation,
          };
          this.#tracked.set(d.id, { usageNs: r.usageNs, nrThrottled: r.nrThrottled, at, memory });
        }
        this.totals.throttledPeriods += plan.counters.throttledPeriods;
        // A first sample's EWMA was its cap, a guess: its first measured tick sets it instead.
        for (const id of fresh) delete plan.state[id];
        this.#state = plan.state;
      } catch (err) {
        this.#report(err);
      }
    }
    // The first tick, a failed host reading or plan: at least the baseline for the next tick.
    for (const [id, { r }] of byId) {
      if (this.#tracked.get(id)?.at !== at) {
        const memory = this.#tracked.get(id)?.memory;
        this.#tracked.set(id, {
          usageNs: r.usageNs,
          nrThrottled: r.nrThrottled,
          at,
          ...(memory ? { memory } : {}),
        });
      }
    }
    this.totals.ticks++;
  }

  /** Ticks now and then every settings.tickMs until stop(); the timer never keeps the process alive. */
  start(): this {
    if (!this.#stopped) return this;
    this.#stopped = false;
    const run = () => {
      this.#running = this.tick().finally(() => {
        this.#running = undefined;
        if (!this.#stopped) this.#timer = setTimeout(run, this.#o.settings.tickMs).unref();
      });
    };
    run();
    return this;
  }

  /** Stops ticking and waits for a tick in progress, so nothing writes after this resolves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
