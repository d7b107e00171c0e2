// The pure half of the runner autoscaler: from one pool's runners, the hosts it asked providers
// for, recent unplaceable creates and its own last decisions, decide what to do. No I/O and no
// clock: `now` is in the snapshot, so every case is a row in test/autoscaler-plan.test.ts.
//
// Rules (the HPA's, without Kubernetes):
// - utilisation = allocated / capacity of the chosen resource over the pool's ready runners
//   (schedule active and connected);
// - desired = ceil(ready × utilisation / target), untouched within the tolerance band;
// - creates the scheduler could not place since the last scale-up add enough runners for
//   their summed need (at least one), whatever the utilisation;
// - desired stays within [min, max]; one step adds at most maxStepUp, removes at most
//   maxStepDown; below min the pool grows without waiting for the cooldown;
// - scale-up waits out its cooldown; scale-down waits until utilisation has stayed below target
//   for the stabilisation window, the down cooldown since any scale, and for no host booting;
// - only runners this autoscaler made, that hold no environment at all (running or stopped:
//   their disks live there), are removed: first drained (no new placement), deleted on the
//   next pass if still empty, put back to work if an environment landed meanwhile.

export type Resource = "memory" | "cpu";

export interface AutoscalerPolicy {
  minRunners: number;
  maxRunners: number;
  /** Target utilisation, 0 < t <= 1 (averageUtilization / 100). */
  target: number;
  resource: Resource;
  /** No change while |utilisation / target − 1| is within it (HPA's default 0.1). */
  tolerance: number;
  maxStepUp: number;
  maxStepDown: number;
  scaleUpCooldownMs: number;
  scaleDownCooldownMs: number;
  scaleDownStabilizationMs: number;
  /** A host whose runner has not connected this long after its create is given up and deleted. */
  bootTimeoutMs: number;
}

export const DEFAULT_POLICY: AutoscalerPolicy = {
  minRunners: 0,
  maxRunners: 10,
  target: 0.5,
  resource: "memory",
  tolerance: 0.1,
  maxStepUp: 4,
  maxStepDown: 1,
  scaleUpCooldownMs: 60_000,
  scaleDownCooldownMs: 300_000,
  scaleDownStabilizationMs: 300_000,
  bootTimeoutMs: 600_000,
};

export interface PoolRunner {
  id: string;
  name: string;
  schedule: "active" | "cordoned" | "draining";
  /** A replica holds its connection now. */
  connected: boolean;
  capacity: { cpus: number; memoryBytes: number };
  allocated: { cpus: number; memoryBytes: number };
  /** Environment rows on it, whatever their state. */
  envCount: number;
}

/** A host this autoscaler asked a provider for, not yet deleted. */
export interface ManagedHost {
  requestId: string;
  /** The runner token minted for it: its runner's id once it connects. */
  runnerId: string;
  state: "creating" | "ready" | "draining" | "deleting";
  createdAt: number;
}

export interface AutoscalerSnapshot {
  now: number;
  runners: PoolRunner[];
  hosts: ManagedHost[];
  /** Creates the scheduler could not place, since the last scale-up (within the demand window). */
  demand: { count: number; cpus: number; memoryBytes: number };
  state: AutoscalerMemory;
}

/** What the autoscaler remembers between passes (autoscaler_state). */
export interface AutoscalerMemory {
  lastUpAt?: number | undefined;
  lastDownAt?: number | undefined;
  /** Since when utilisation has been below target without a break. */
  belowSince?: number | undefined;
}

export type AutoscalerAction =
  | { type: "create"; count: number }
  /** Its runner connected: the host is ready (and its enrolment token becomes its credential). */
  | { type: "adopt"; requestId: string; runnerId: string }
  | { type: "drain"; requestId: string; runnerId: string; runnerName: string }
  /** An environment landed on a runner being drained: it serves again. */
  | { type: "undrain"; requestId: string; runnerId: string }
  | { type: "delete"; requestId: string; runnerId: string; why: string };

export interface AutoscalerPlan {
  actions: AutoscalerAction[];
  /** Ready runners plus hosts still booting. */
  current: number;
  desired: number;
  /** Of the ready runners; undefined when they report no capacity of the resource. */
  utilization: number | undefined;
  decision: string;
  state: AutoscalerMemory;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
const secs = (ms: number) => `${Math.ceil(ms / 1000)}s`;

function housekeeping(s: AutoscalerSnapshot, p: AutoscalerPolicy) {
  const byId = new Map(s.runners.map((r) => [r.id, r]));
  const actions: AutoscalerAction[] = [];
  let pending = 0;
  for (const h of s.hosts) {
    const r = byId.get(h.runnerId);
    const { requestId, runnerId } = h;
    if (h.state === "deleting")
      actions.push({ type: "delete", requestId, runnerId, why: "retrying the delete" });
    else if (h.state === "creating") {
      if (r) actions.push({ type: "adopt", requestId, runnerId });
      else if (s.now - h.createdAt >= p.bootTimeoutMs)
        actions.push({
          type: "delete",
          requestId,
          runnerId,
          why: `its runner did not connect within ${secs(p.bootTimeoutMs)}`,
        });
      else pending++;
    } else if (h.state === "draining") {
      if (!r || r.envCount === 0)
        actions.push({ type: "delete", requestId, runnerId, why: "drained and empty" });
      else actions.push({ type: "undrain", requestId, runnerId });
    }
  }
  return { actions, pending };
}

function utilizationOf(ready: PoolRunner[], resource: Resource): number | undefined {
  const key = resource === "memory" ? "memoryBytes" : "cpus";
  const cap = ready.reduce((n, r) => n + r.capacity[key], 0);
  if (cap <= 0) return undefined;
  return ready.reduce((n, r) => n + r.allocated[key], 0) / cap;
}

/** Runners the pending demand needs, by the ready runners' average capacity; at least one. */
function runnersForDemand(s: AutoscalerSnapshot, ready: PoolRunner[], p: AutoscalerPolicy): number {
  if (s.demand.count === 0) return 0;
  const key = p.resource === "memory" ? "memoryBytes" : "cpus";
  const need = p.resource === "memory" ? s.demand.memoryBytes : s.demand.cpus;
  const avg = ready.length ? ready.reduce((n, r) => n + r.capacity[key], 0) / ready.length : 0;
  // Filled to the target, not to the brim, or the pool would scale again at once.
  return avg > 0 ? Math.max(1, Math.ceil(need / (avg * p.target))) : 1;
}

export function planAutoscaler(s: AutoscalerSnapshot, p: AutoscalerPolicy = DEFAULT_POLICY): AutoscalerPlan {
  const { actions, pending } = housekeeping(s, p);
  const ready = s.runners.filter((r) => r.schedule === "active" && r.connected);
  const current = ready.length + pending;
  const utilization = utilizationOf(ready, p.resource);
  const ratio = utilization === undefined ? 1 : utilization / p.target;
  const inBand = Math.abs(ratio - 1) <= p.tolerance;
  const byUtil = utilization === undefined || inBand ? current : Math.ceil(ready.length * ratio);
  const forDemand = runnersForDemand(s, ready, p);
  const wanted = Math.max(byUtil, forDemand ? current + forDemand : 0);
  const desired = Math.min(p.maxRunners, Math.max(p.minRunners, wanted));
  const below = utilization !== undefined && !inBand && ratio < 1 && forDemand === 0;
  const state: AutoscalerMemory = {
    ...s.state,
    belowSince: below ? (s.state.belowSince ?? s.now) : undefined,
  };
  const why =
    forDemand > 0
      ? `${s.demand.count} create${s.demand.count === 1 ? "" : "s"} could not be placed`
      : utilization === undefined
        ? "no capacity reported"
        : `${p.resource} utilisation ${pct(utilization)} (target ${pct(p.target)})`;
  const capped = wanted > p.maxRunners ? `; capped at max ${p.maxRunners}` : "";
  const out = (decision: string, st = state): AutoscalerPlan => ({
    actions,
    current,
    desired,
    utilization,
    decision,
    state: st,
  });

  if (desired > current) {
    const sinceUp = s.state.lastUpAt === undefined ? Infinity : s.now - s.state.lastUpAt;
    if (current >= p.minRunners && sinceUp < p.scaleUpCooldownMs)
      return out(
        `hold at ${current}: want ${desired} (${why}), scale-up cooldown for ${secs(p.scaleUpCooldownMs - sinceUp)}`,
      );
    const count = Math.min(desired - current, p.maxStepUp);
    actions.push({ type: "create", count });
    const step = count < desired - current ? `; step limit ${p.maxStepUp}` : "";
    return out(
      `scale up ${current} → ${current + count}: ${current < p.minRunners && forDemand === 0 ? `below min ${p.minRunners}` : why}${capped}${step}`,
      {
        ...state,
        lastUpAt: s.now,
      },
    );
  }
  if (desired < current) {
    const belowFor = state.belowSince === undefined ? 0 : s.now - state.belowSince;
    if (belowFor < p.scaleDownStabilizationMs)
      return out(
        `hold at ${current}: want ${desired} (${why}), stabilising for ${secs(p.scaleDownStabilizationMs - belowFor)}`,
      );
    if (pending > 0)
      return out(`hold at ${current}: want ${desired} (${why}), ${pending} host(s) still booting`);
    const lastScale = Math.max(s.state.lastUpAt ?? -Infinity, s.state.lastDownAt ?? -Infinity);
    if (s.now - lastScale < p.scaleDownCooldownMs)
      return out(
        `hold at ${current}: want ${desired} (${why}), scale-down cooldown for ${secs(p.scaleDownCooldownMs - (s.now - lastScale))}`,
      );
    const managed = new Map(s.hosts.filter((h) => h.state === "ready").map((h) => [h.runnerId, h]));
    const empty = ready
      .filter((r) => r.envCount === 0 && managed.has(r.id))
      .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    const n = Math.min(current - desired, p.maxStepDown, empty.length);
    if (n === 0)
      return out(
        `hold at ${current}: want ${desired} (${why}), no empty runner this autoscaler made to remove`,
      );
    const names: string[] = [];
    for (const r of empty.slice(0, n)) {
      const h = managed.get(r.id) as ManagedHost;
      actions.push({ type: "drain", requestId: h.requestId, runnerId: r.id, runnerName: r.name });
      names.push(r.name);
    }
    return out(`scale down ${current} → ${current - n}: ${why}; draining ${names.join(", ")} (empty)`, {
      ...state,
      lastDownAt: s.now,
    });
  }
  return out(`steady at ${current}: ${why}${capped}`);
}
