// Per-environment series from runners' stats, rendered into a fresh registry per scrape. Labels
// come from the control plane's own rows (id, name, organisation), never from what a runner sent,
// so a runner cannot invent series; its numbers are checked and an invalid one is dropped and
// counted instead of exported.
import type { DnsStats, EnvStats } from "@warren/protocol";
import { Counter, Gauge, Registry } from "prom-client";

export interface EnvLabels {
  env_id: string;
  env_name: string;
  org: string;
}

export interface EnvSample {
  env: EnvLabels;
  stats: EnvStats;
}

type Num = (v: unknown) => v is number;
/** Finite, non-negative and exact as a float: anything else from a runner is junk. */
export const validSample: Num = (v): v is number =>
  typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;

type Kind = "counter" | "gauge";
interface SeriesDef {
  name: string;
  help: string;
  kind: Kind;
  value(s: EnvStats): unknown;
  /** Extra label (PSI's resource). */
  extra?: { label: string; values: readonly string[]; value(s: EnvStats, v: string): unknown };
}

const PSI = ["cpu", "memory", "io"] as const;

export const ENV_SERIES: readonly SeriesDef[] = [
  {
    name: "warren_env_cpu_seconds_total",
    kind: "counter",
    help: "CPU time the environment used since it started.",
    value: (s) => s.cpuSecondsTotal,
  },
  {
    name: "warren_env_cpu_usage_cores",
    kind: "gauge",
    help: "Cores the environment used over the runner's last sample window.",
    value: (s) => s.cpuCores,
  },
  {
    name: "warren_env_memory_working_set_bytes",
    kind: "gauge",
    help: "Memory in use, less page cache the kernel can drop.",
    value: (s) => s.memoryWorkingSetBytes,
  },
  {
    name: "warren_env_memory_max_bytes",
    kind: "gauge",
    help: "Highest memory use the kernel recorded for the environment.",
    value: (s) => s.memoryMaxBytes,
  },
  {
    name: "warren_env_memory_limit_bytes",
    kind: "gauge",
    help: "The environment's memory limit.",
    value: (s) => s.memoryLimitBytes,
  },
  {
    name: "warren_env_oom_kills_total",
    kind: "counter",
    help: "Processes the kernel OOM-killed in the environment.",
    value: (s) => s.oomKills,
  },
  {
    name: "warren_env_pressure_some_ratio",
    kind: "gauge",
    help: "Share of the last 10 s in which some task waited for the resource (PSI some avg10).",
    value: () => undefined,
    extra: {
      label: "resource",
      values: PSI,
      value: (s, r) => {
        const v = s.psi[r as (typeof PSI)[number]];
        return typeof v === "number" ? v / 100 : v;
      },
    },
  },
  {
    name: "warren_env_disk_used_bytes",
    kind: "gauge",
    help: "Bytes used in the environment's own disk.",
    value: (s) => s.diskUsedBytes,
  },
  {
    name: "warren_env_disk_reserved_bytes",
    kind: "gauge",
    help: "Size of the environment's disk (its quota).",
    value: (s) => s.diskQuotaBytes,
  },
  {
    name: "warren_env_network_receive_bytes_total",
    kind: "counter",
    help: "Bytes the environment received.",
    value: (s) => s.networkReceiveBytes,
  },
  {
    name: "warren_env_network_transmit_bytes_total",
    kind: "counter",
    help: "Bytes the environment sent.",
    value: (s) => s.networkTransmitBytes,
  },
  { name: "warren_env_pids", kind: "gauge", help: "Tasks in the environment.", value: (s) => s.pids },
  {
    name: "warren_env_cpu_limit_cores",
    kind: "gauge",
    help: "The environment's CPU cap now, in cores (its class cpus, or its burst while one is granted).",
    value: (s) => s.cpuGovernor?.limitCores,
  },
  {
    name: "warren_env_cpu_burst_granted",
    kind: "gauge",
    help: "1 while the runner's CPU governor grants the environment its burst, else 0.",
    value: (s) => (s.cpuGovernor ? Number(s.cpuGovernor.granted) : undefined),
  },
  {
    name: "warren_env_cpu_burst_grants_total",
    kind: "counter",
    help: "Bursts the runner's CPU governor granted the environment (counts from the runner's start).",
    value: (s) => s.cpuGovernor?.burstGrantsTotal,
  },
  {
    name: "warren_env_cpu_throttled_periods_total",
    kind: "counter",
    help: "CFS periods in which the environment was throttled at its CPU cap.",
    value: (s) => s.cpuGovernor?.throttledPeriodsTotal,
  },
  {
    name: "warren_env_cpu_throttled_seconds_total",
    kind: "counter",
    help: "Time the environment's tasks spent throttled at its CPU cap.",
    value: (s) => s.cpuGovernor?.throttledSecondsTotal,
  },
];

export interface RenderResult {
  registry: Registry;
  /** Values dropped because a runner sent junk, by series name. */
  rejected: string[];
}

/** Registers every series for these samples; absent values (an older runner) are left out. */
export function envRegistry(samples: readonly EnvSample[]): RenderResult {
  const registry = new Registry();
  const rejected: string[] = [];
  for (const def of ENV_SERIES) {
    const labelNames = ["env_id", "env_name", "org", ...(def.extra ? [def.extra.label] : [])];
    const metric =
      def.kind === "counter"
        ? new Counter({ name: def.name, help: def.help, labelNames, registers: [registry] })
        : new Gauge({ name: def.name, help: def.help, labelNames, registers: [registry] });
    const put = (labels: Record<string, string>, v: unknown): void => {
      if (v === undefined || v === null) return;
      if (!validSample(v)) {
        rejected.push(def.name);
        return;
      }
      if (metric instanceof Counter) metric.inc(labels, v);
      else metric.set(labels, v);
    };
    for (const { env, stats } of samples) {
      if (def.extra)
        for (const x of def.extra.values) put({ ...env, [def.extra.label]: x }, def.extra.value(stats, x));
      else put({ ...env }, def.value(stats));
    }
  }
  return { registry, rejected };
}

/** The runner's DNS cache counters: host-wide, so operators only. */
export function addDnsSeries(registry: Registry, dns: DnsStats, rejected: string[]): void {
  const counter = (name: string, help: string, v: number) => {
    if (!validSample(v)) return void rejected.push(name);
    new Counter({ name, help, registers: [registry] }).inc(v);
  };
  counter("warren_dns_cache_hits_total", "DNS answers served from the runner's cache.", dns.hits);
  counter("warren_dns_cache_misses_total", "DNS questions the cache could not answer.", dns.misses);
  counter(
    "warren_dns_cache_negative_hits_total",
    "Cached negative answers served (NXDOMAIN, no data).",
    dns.negativeHits,
  );
  counter("warren_dns_upstream_queries_total", "Questions sent to upstream resolvers.", dns.upstreamQueries);
  counter("warren_dns_upstream_errors_total", "Upstream questions that failed.", dns.upstreamErrors);
  const entries = dns.cacheEntries;
  if (validSample(entries))
    new Gauge({
      name: "warren_dns_cache_entries",
      help: "Entries in the DNS cache.",
      registers: [registry],
    }).set(entries);
  const latency = new Gauge({
    name: "warren_dns_upstream_latency_seconds",
    help: "Upstream resolver latency over the runner's recent window, by quantile (0.5, 0.99).",
    labelNames: ["quantile"],
    registers: [registry],
  });
  for (const [q, ms] of [
    ["0.5", dns.upstreamLatencyMs.p50],
    ["0.99", dns.upstreamLatencyMs.p99],
  ] as const) {
    if (validSample(ms)) latency.set({ quantile: q }, ms / 1000);
    else rejected.push("warren_dns_upstream_latency_seconds");
  }
}
