// The control-plane tables of bench/fleet, with the reference points beside the figures.
import { printTable } from "../lib/stats.ts";

export interface PlacementFigures {
  connected: number;
  replicas: number;
  concurrency: number;
  creates: number;
  envs: number;
  "creates/s": number;
  "create p50 ms": number;
  "create p99 ms": number;
  "placements/s": number;
  "placement p50 ms": number;
  "placement p99 ms": number;
  "request→ack p99 ms": number;
  runnersUsed: number;
  mostOnOneRunner: number;
  fewestOnOneRunner: number;
  overAdmittedRunners: number;
  allocMismatchRunners: number;
  dropped: number;
  unacked: number;
  dbTransactionsPerCreate: number;
  dbRowsWrittenPerCreate: number;
  loadAverage: number[];
}

export interface HeartbeatFigures {
  heartbeatsPerS: number;
  heartbeatMs: number;
  windowS: number;
  idleCpuPctPerReplica: number[];
  cpuPctPerReplica: number[];
  "cpu % of a core per 1,000 runners": number[];
  dbTransactionsPerS: number;
  dbRowsWrittenPerS: number;
  dbTopWriters: string[];
  /** Statements seen running, with the share of samples each was seen in. */
  dbActiveQueries: string[];
}

export function printControlPlane(p: PlacementFigures, h: HeartbeatFigures): void {
  printTable(
    `Placement: ${p.connected} simulated runners, ${p.replicas} replicas on PostgreSQL (durable), ${p.concurrency} creates in flight over TLS`,
    [
      {
        figure: "creates admitted (creates/s)",
        value: `${p.creates} of ${p.envs} (${p["creates/s"]}/s)`,
        reference: "",
      },
      {
        figure: "create API p50 / p99",
        value: `${p["create p50 ms"]} / ${p["create p99 ms"]} ms`,
        reference: "",
      },
      {
        figure: "placements/s (first create → last ack)",
        value: String(p["placements/s"]),
        reference: "target ≥ 1,000; Nomad C2M ≈ 1,500/s",
      },
      {
        figure: "placement p50 / p99 (row → runner ack)",
        value: `${p["placement p50 ms"]} / ${p["placement p99 ms"]} ms`,
        reference: "target p99 ≤ 50 ms",
      },
      { figure: "request → ack p99", value: `${p["request→ack p99 ms"]} ms`, reference: "" },
      {
        figure: "runners used (most / fewest envs on one)",
        value: `${p.runnersUsed} (${p.mostOnOneRunner} / ${p.fewestOnOneRunner})`,
        reference: "",
      },
      {
        figure: "over-admitted runners / alloc ≠ sums",
        value: `${p.overAdmittedRunners} / ${p.allocMismatchRunners}`,
        reference: "must be 0 / 0",
      },
      { figure: "runner links dropped / unacked", value: `${p.dropped} / ${p.unacked}`, reference: "" },
      {
        figure: "db transactions / rows written per create",
        value: `${p.dbTransactionsPerCreate} / ${p.dbRowsWrittenPerCreate}`,
        reference: "",
      },
      {
        figure: "host load average (1 min) before → after",
        value: p.loadAverage.join(" → "),
        reference: "2 cores",
      },
      {
        figure: "fleet size",
        value: String(p.connected),
        reference: "Kubernetes: ≤ 5,000 nodes per cluster",
      },
    ],
  );
  printTable(
    `Heartbeat load: ${h.heartbeatsPerS} heartbeats/s (${h.heartbeatMs / 1000} s interval), ${h.windowS} s window, placements idle`,
    [
      {
        figure: "replica CPU (% of a core), idle → with runners",
        value: h.cpuPctPerReplica.map((c, i) => `${h.idleCpuPctPerReplica[i]} → ${c}`).join("; "),
        reference: "",
      },
      {
        figure: "CPU per 1,000 runners (% of a core)",
        value: h["cpu % of a core per 1,000 runners"].join("; "),
        reference: "",
      },
      {
        figure: "database transactions/s (reads too), rows written/s",
        value: `${h.dbTransactionsPerS}, ${h.dbRowsWrittenPerS}`,
        reference: "no write per heartbeat",
      },
      { figure: "rows written by table", value: h.dbTopWriters.join(", ") || "none", reference: "" },
      ...h.dbActiveQueries.map((q, i) => ({
        figure: i === 0 ? "statements running (share of samples)" : "",
        value: q,
        reference: "",
      })),
    ],
  );
}
