// The runner autoscaler loop: every interval, for each pool of the configuration file, take the
// pool's lease (one replica acts for a pool at a time), read the pool's runners, hosts, recent
// unplaceable creates and remembered state, plan (plan.ts), act (act.ts), and store the decision
// (autoscaler_state: `warren fleet ls` shows it; metrics export it). Level-triggered: a pass
// reads everything again, so a crash or a lost lease at any point converges on the next one.

import type { AutoscalerConfig, PoolConfig } from "../../autoscaler/config.ts";
import { createHookProvider } from "../../autoscaler/providers/hook.ts";
import { createLocalProvider } from "../../autoscaler/providers/local.ts";
import type { HostProvider } from "../../autoscaler/providers/types.ts";
import { type Clock, isoNow, type TimerHandle } from "../../clock.ts";
import type { Logger } from "../../logger.ts";
import type { AutoscalerMetrics } from "../../metrics/autoscaler.ts";
import type { AuditService } from "../../services/audit.ts";
import type { Db } from "../../store/db.ts";
import {
  claimPoolLease,
  demandSince,
  liveHosts,
  poolRunners,
  readPoolState,
  writePoolDecision,
} from "../../store/queries/autoscaler.ts";
import { getOrg } from "../../store/queries/identity.ts";
import { actOnPlan } from "./act.ts";
import { type AutoscalerPlan, type AutoscalerPolicy, planAutoscaler } from "./plan.ts";

export interface AutoscalerControllerOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  config: AutoscalerConfig;
  /** This replica's id, the lease holder's name. */
  replicaId: string;
  /** The server's own TLS listener, for runners to dial when the config names no server. */
  server?: () => { url: string; fingerprint: string } | undefined;
  audit?: AuditService;
  metrics?: AutoscalerMetrics;
  /** Providers by pool name, instead of the ones the configuration describes (tests). */
  providers?: Map<string, HostProvider>;
}

export interface AutoscalerController {
  start(): void;
  /** One pass over every pool (exposed for tests); the plans of the pools this replica holds. */
  pass(): Promise<Map<string, AutoscalerPlan>>;
  close(): Promise<void>;
}

export function providerFor(pool: PoolConfig): HostProvider {
  const p = pool.provider;
  if (p.type === "hook") return createHookProvider({ path: p.path, env: p.env, timeoutMs: p.timeoutMs });
  return createLocalProvider({
    stateDir: p.stateDir,
    command: p.command,
    idRange: p.idRange,
    subnetBase: p.subnetBase,
    prefix: p.prefix,
    maxHosts: p.maxHosts,
  });
}

export function policyOf(pool: PoolConfig): AutoscalerPolicy {
  return {
    minRunners: pool.minRunners,
    maxRunners: pool.maxRunners,
    target: pool.averageUtilization / 100,
    resource: pool.resource,
    tolerance: 0.1,
    maxStepUp: pool.maxStepUp,
    maxStepDown: pool.maxStepDown,
    scaleUpCooldownMs: pool.scaleUpCooldownMs,
    scaleDownCooldownMs: pool.scaleDownCooldownMs,
    scaleDownStabilizationMs: pool.scaleDownStabilizationMs,
    bootTimeoutMs: pool.bootTimeoutMs,
  };
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : undefined);
const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString());

export function createAutoscalerController(o: AutoscalerControllerOptions): AutoscalerController {
  const { db, clock, config } = o;
  const providers = new Map(config.pools.map((p) => [p.name, o.providers?.get(p.name) ?? providerFor(p)]));
  let timer: TimerHandle | undefined;
  let running: Promise<unknown> | undefined;
  let closed = false;

  async function passPool(pool: PoolConfig): Promise<AutoscalerPlan | undefined> {
    const org = await getOrg(db, pool.org);
    if (!org) {
      o.logger.warn(
        { pool: pool.name, org: pool.org },
        "autoscaler: the pool's organisation does not exist; skipped",
      );
      return undefined;
    }
    const now = clock.now();
    const lease = { pool: pool.name, orgId: org.id, holder: o.replicaId, now: isoNow(clock) };
    const until = new Date(now + 3 * config.intervalMs).toISOString();
    if (!(await claimPoolLease(db, { ...lease, until }))) return undefined;
    const stored = await readPoolState(db, pool.name);
    const memory = {
      lastUpAt: ms(stored?.last_up_at),
      lastDownAt: ms(stored?.last_down_at),
      belowSince: ms(stored?.below_since),
    };
    // Demand already answered by the last scale-up is not counted again.
    const since = Math.max(now - pool.demandWindowMs, memory.lastUpAt ?? Number.NEGATIVE_INFINITY);
    const hostRows = await liveHosts(db, pool.name);
    const plan = planAutoscaler(
      {
        now,
        runners: await poolRunners(db, org.id),
        hosts: hostRows.map((h) => ({
          requestId: h.request_id,
          runnerId: h.runner_id,
          state: h.state as "creating" | "ready" | "draining" | "deleting",
          createdAt: Date.parse(h.created_at),
        })),
        demand: await demandSince(db, org.id, new Date(since).toISOString()),
        state: memory,
      },
      policyOf(pool),
    );
    await actOnPlan(
      {
        db,
        clock,
        logger: o.logger,
        audit: o.audit,
        metrics: o.metrics,
        provider: providers.get(pool.name) as HostProvider,
        pool,
        orgId: org.id,
        server: config.server ?? o.server?.(),
        hosts: new Map(hostRows.map((h) => [h.request_id, h])),
      },
      plan,
    );
    await writePoolDecision(db, pool.name, o.replicaId, {
      desired: plan.desired,
      current: plan.current,
      utilization: plan.utilization ?? null,
      decision: plan.decision,
      at: isoNow(clock),
      last_up_at: iso(plan.state.lastUpAt),
      last_down_at: iso(plan.state.lastDownAt),
      below_since: iso(plan.state.belowSince),
    });
    o.metrics?.current.set({ pool: pool.name }, plan.current);
    o.metrics?.desired.set({ pool: pool.name }, plan.desired);
    if (plan.utilization !== undefined) o.metrics?.utilization.set({ pool: pool.name }, plan.utilization);
    if (plan.actions.length > 0)
      o.logger.info({ pool: pool.name, decision: plan.decision }, "autoscaler pass");
    return plan;
  }

  async function pass(): Promise<Map<string, AutoscalerPlan>> {
    const plans = new Map<string, AutoscalerPlan>();
    for (const pool of config.pools) {
      try {
        const plan = await passPool(pool);
        if (plan) plans.set(pool.name, plan);
      } catch (err) {
        o.logger.warn({ pool: pool.name, err }, "autoscaler pass failed; retried next interval");
      }
    }
    return plans;
  }

  function tick(): void {
    if (closed) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      running = pass().finally(tick);
    }, config.intervalMs);
  }

  return {
    start: tick,
    pass,
    async close() {
      closed = true;
      if (timer) clock.clearTimeout(timer);
      await running;
    },
  };
}
