// Packing quality, pure: the same synthetic working day (trace.ts) placed by Warren's scheduler
// (server/src/scheduler: live usage from 15-second heartbeats, class overcommit ratios, the
// free-memory floor) and by a requests-only scheduler as Kubernetes' default is configured
// (NodeResourcesFit: the sum of requests must fit the node; LeastAllocated scoring). Whenever a
// scheduler cannot place an arrival, a new host is added (a cluster autoscaler's scale-up), so the
// hosts each one needs is what it opened. Then every tick of the day is replayed on each host:
//  - an OOM event: the hosts' working sets exceed physical memory (the kernel must kill);
//  - a throttle event: CPU demand exceeds the cores (someone's compile runs slower).
// Events count episodes (a host entering the state) and the share of host-time spent in it.
//
//   node bench/fleet/packing.ts [--envs 1000] [--hours 9] [--seed 7]
import { parseArgs } from "node:util";
import { type PlacementRequest, placeEnvironment, type RunnerSnapshot } from "@warren/server";
import { printTable } from "../lib/stats.ts";
import { makeTrace, TICK_S, type Trace, type TraceEnv, type TraceOptions } from "./trace.ts";

const GiB = 1024 ** 3;

/** Every simulated host: a common 16-core, 64 GiB machine. */
export const HOST = { cpus: 16, memoryBytes: 64 * GiB, diskBytes: 2048 * GiB, slots: 64, overheadBytes: GiB };

interface Host {
  id: string;
  envs: TraceEnv[];
  /** What the scheduler reserved: the sum of requests (or of limits, for Warren). */
  reserved: { cpus: number; memoryBytes: number; diskBytes: number };
  /** The last heartbeat: CPU EWMA and working set. */
  cpuEwma: number;
  workingSet: number;
}

export interface Scheduler {
  name: string;
  /** Index of the host to place on, or -1 when none fits. */
  place(env: TraceEnv, hosts: Host[]): number;
  /** What one placement reserves on its host. */
  reserve(env: TraceEnv): { cpus: number; memoryBytes: number; diskBytes: number };
}

/** Warren's own placement (the production code), with one class overcommit for every class. */
export function warrenScheduler(overcommit: { cpu: number; memory: number }): Scheduler {
  const snapshot = (h: Host): RunnerSnapshot => ({
    id: h.id,
    name: h.id,
    orgIds: "shared",
    labels: {},
    runtimes: ["crun"],
    cordoned: false,
    connected: true,
    capacity: {
      cpus: HOST.cpus,
      memoryBytes: HOST.memoryBytes,
      diskBytes: HOST.diskBytes,
      slots: HOST.slots,
    },
    allocated: { ...h.reserved, slots: h.envs.length },
    usage: { cpuEwmaCores: h.cpuEwma, memoryWorkingSetBytes: h.workingSet },
    images: ["base"],
    ownerEnvCounts: {},
  });
  return {
    name: `Warren, live usage (cpu ${overcommit.cpu}:1, memory ${overcommit.memory}:1)`,
    reserve: (e) => ({ cpus: e.cls.cpus, memoryBytes: e.cls.memoryBytes, diskBytes: e.cls.diskBytes }),
    place(env, hosts) {
      const req: PlacementRequest = {
        envId: env.id,
        orgId: "org",
        ownerId: env.owner,
        image: "base",
        runtime: "crun",
        resources: { cpus: env.cls.cpus, memoryBytes: env.cls.memoryBytes, diskBytes: env.cls.diskBytes },
        requiredLabels: {},
        // Disk at 1:1, as this bench has always packed it.
        overcommit: { disk: 1, ...overcommit },
      };
      const d = placeEnvironment(req, hosts.map(snapshot));
      return d.kind === "placed" ? hosts.findIndex((h) => h.id === d.runnerId) : -1;
    },
  };
}

/**
 * Kubernetes' default: a pod fits when the node's requests plus its own stay within allocatable
 * (generously the whole machine here), and LeastAllocated picks the emptiest node. `share` is the
 * request as a share of the limit: 1 is Guaranteed QoS (requests = limits); below 1 is Burstable,
 * denser, and blind to what the node really uses.
 */
export function requestsOnlyScheduler(share: { cpu: number; memory: number }): Scheduler {
  const reserve = (e: TraceEnv) => ({
    cpus: e.cls.cpus * share.cpu,
    memoryBytes: e.cls.memoryBytes * share.memory,
    diskBytes: e.cls.diskBytes,
  });
  const what =
    share.cpu === 1 && share.memory === 1
      ? "requests = limits"
      : `requests = limits / ${round2(1 / share.cpu)} cpu, / ${round2(1 / share.memory)} memory`;
  return {
    name: `requests only, LeastAllocated (${what})`,
    reserve,
    place(env, hosts) {
      const need = reserve(env);
      let best = -1;
      let bestScore = -1;
      hosts.forEach((h, i) => {
        const cpu = h.reserved.cpus + need.cpus;
        const mem = h.reserved.memoryBytes + need.memoryBytes;
        if (cpu > HOST.cpus + 1e-9 || mem > HOST.memoryBytes || h.envs.length + 1 > HOST.slots) return;
        const score = ((HOST.cpus - cpu) / HOST.cpus + (HOST.memoryBytes - mem) / HOST.memoryBytes) / 2;
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      });
      return best;
    },
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export interface PackingResult {
  scheduler: string;
  hosts: number;
  "envs/host": number;
  "mem used %": number;
  "cpu used %": number;
  "OOM episodes": number;
  "OOM host-time %": number;
  "throttle episodes": number;
  "throttle host-time %": number;
}

const EWMA_ALPHA = 1 - Math.exp(-TICK_S / 60);

/** Places the trace's arrivals tick by tick with heartbeats between, then counts the events. */
export function simulate(trace: Trace, s: Scheduler): PackingResult {
  const hosts: Host[] = [];
  const arrivals = new Map<number, TraceEnv[]>();
  for (const e of trace.envs) arrivals.set(e.arrival, [...(arrivals.get(e.arrival) ?? []), e]);
  const oomNow = new Set<number>();
  const throttledNow = new Set<number>();
  let oomEpisodes = 0;
  let oomTicks = 0;
  let throttleEpisodes = 0;
  let throttleTicks = 0;
  let hostTicks = 0;
  let memUsed = 0;
  let cpuUsed = 0;
  for (let t = 0; t < trace.ticks; t++) {
    // The heartbeat, then what happened on each host during this tick.
    hosts.forEach((h, i) => {
      let cpu = 0;
      let memory = HOST.overheadBytes;
      for (const e of h.envs) {
        cpu += e.cpu[t]!;
        memory += e.memory[t]!;
      }
      h.cpuEwma += EWMA_ALPHA * (cpu - h.cpuEwma);
      h.workingSet = Math.min(memory, HOST.memoryBytes);
      hostTicks++;
      memUsed += h.workingSet / HOST.memoryBytes;
      cpuUsed += Math.min(cpu, HOST.cpus) / HOST.cpus;
      const oom = memory > HOST.memoryBytes;
      if (oom && !oomNow.has(i)) oomEpisodes++;
      if (oom) {
        oomTicks++;
        oomNow.add(i);
      } else oomNow.delete(i);
      const throttled = cpu > HOST.cpus;
      if (throttled && !throttledNow.has(i)) throttleEpisodes++;
      if (throttled) {
        throttleTicks++;
        throttledNow.add(i);
      } else throttledNow.delete(i);
    });
    for (const env of arrivals.get(t) ?? []) {
      let at = s.place(env, hosts);
      if (at < 0) {
        hosts.push({
          id: `h${String(hosts.length).padStart(4, "0")}`,
          envs: [],
          reserved: { cpus: 0, memoryBytes: 0, diskBytes: 0 },
          cpuEwma: 0,
          workingSet: HOST.overheadBytes,
        });
        at = s.place(env, hosts);
        if (at < 0) throw new Error(`${s.name}: ${env.id} (${env.cls.name}) fits no empty host`);
      }
      const h = hosts[at]!;
      const r = s.reserve(env);
      h.envs.push(env);
      h.reserved.cpus += r.cpus;
      h.reserved.memoryBytes += r.memoryBytes;
      h.reserved.diskBytes += r.diskBytes;
    }
  }
  const pct = (x: number) => Math.round(x * 1000) / 10;
  return {
    scheduler: s.name,
    hosts: hosts.length,
    "envs/host": Math.round((trace.envs.length / Math.max(1, hosts.length)) * 10) / 10,
    "mem used %": pct(memUsed / Math.max(1, hostTicks)),
    "cpu used %": pct(cpuUsed / Math.max(1, hostTicks)),
    "OOM episodes": oomEpisodes,
    "OOM host-time %": pct(oomTicks / Math.max(1, hostTicks)),
    "throttle episodes": throttleEpisodes,
    "throttle host-time %": pct(throttleTicks / Math.max(1, hostTicks)),
  };
}

export const PACKING_SCHEDULERS: Scheduler[] = [
  requestsOnlyScheduler({ cpu: 1, memory: 1 }),
  // The same density as Warren's most generous class ratios, without seeing usage.
  requestsOnlyScheduler({ cpu: 1 / 4, memory: 1 / 1.5 }),
  warrenScheduler({ cpu: 4, memory: 1 }),
  warrenScheduler({ cpu: 4, memory: 1.5 }),
];

export function runPacking(o: TraceOptions) {
  const trace = makeTrace(o);
  const rows = PACKING_SCHEDULERS.map((s) => simulate(trace, s));
  const baseline = rows[0]!.hosts;
  return {
    trace: {
      envs: o.envs,
      hours: o.hours,
      seed: o.seed,
      burstEveryMin: o.burstEveryMin ?? 30,
      idleMemory: o.idleMemory ?? [0.2, 0.35],
      tickSeconds: TICK_S,
      bursts: trace.bursts,
      burstSharePct: Math.round(trace.burstShare * 1000) / 10,
      host: HOST,
    },
    rows: rows.map((r) => ({
      ...r,
      "hosts vs requests=limits": `${Math.round((1 - r.hosts / baseline) * 100)}% fewer`,
    })),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      envs: { type: "string", default: "1000" },
      hours: { type: "string", default: "9" },
      seed: { type: "string", default: "7" },
      "burst-every": { type: "string", default: "30" },
      "idle-memory": { type: "string", default: "0.2,0.35" },
    },
  });
  const out = runPacking({
    envs: Number(values.envs),
    hours: Number(values.hours),
    seed: Number(values.seed),
    burstEveryMin: Number(values["burst-every"]),
    idleMemory: values["idle-memory"].split(",").map(Number) as [number, number],
  });
  printTable(
    `Packing: ${out.trace.envs} environments, ${out.trace.hours} h, ${out.trace.bursts} compile bursts (${out.trace.burstSharePct}% of env-time), hosts of 16 cores / 64 GiB`,
    out.rows,
  );
}
