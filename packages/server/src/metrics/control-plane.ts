// The control plane's own series, one prom-client registry per app (never the global default, so
// two apps in one test process do not share counters). Host-wide: only the operator reads them
// (metrics/access.ts). Names follow Prometheus conventions: base units, `_total` on counters.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { createIngressMetrics, type IngressMetrics } from "./ingress.ts";

export interface ControlPlaneMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route">;
  readonly queueDepth: Gauge<"queue">;
  readonly reconcileDuration: Histogram<"queue" | "result">;
  readonly storeDuration: Histogram<"operation">;
  readonly runnerSamplesRejected: Counter<"reason">;
  /** Port proxy and SSH gateway traffic per environment, rendered per caller at scrape time. */
  readonly ingress: IngressMetrics;
  /** Tells the runner-connections gauge how to count (the daemon's hub; none: 0). */
  countRunnersWith(count: () => number): void;
}

// Request and query latencies on one machine: sub-millisecond to tens of seconds (a wait=1 call).
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createControlPlaneMetrics(o: { processMetrics?: boolean } = {}): ControlPlaneMetrics {
  const registry = new Registry();
  if (o.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "warren_process_" });
  let countRunners = (): number => 0;
  new Gauge({
    name: "warren_runner_connections",
    help: "Runners connected to this control plane replica (embedded mode: 0, its runner is in-process).",
    registers: [registry],
    collect() {
      this.set(countRunners());
    },
  });
  return {
    registry,
    httpRequests: new Counter({
      name: "warren_http_requests_total",
      help: "HTTP requests served, by route pattern (never the raw URL), method and status code.",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "warren_http_request_duration_seconds",
      help: "Time to serve an HTTP request, by route pattern and method.",
      labelNames: ["method", "route"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "warren_reconcile_queue_depth",
      help: "Keys waiting in a reconcile queue (not counting running ones or ones backing off).",
      labelNames: ["queue"],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: "warren_reconcile_duration_seconds",
      help: "Time one reconcile pass of a key took, by queue and result (ok or error).",
      labelNames: ["queue", "result"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    storeDuration: new Histogram({
      name: "warren_store_query_duration_seconds",
      help: "Time one store query took, by SQL operation (select, insert, update, delete, other).",
      labelNames: ["operation"],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    runnerSamplesRejected: new Counter({
      name: "warren_runner_samples_rejected_total",
      help: "Runner stats values dropped because they were not finite, non-negative numbers.",
      labelNames: ["reason"],
      registers: [registry],
    }),
    ingress: createIngressMetrics(),
    countRunnersWith(count) {
      countRunners = count;
    },
  };
}

/** The label for a route: fastify's pattern (`/api/v1/environments/:name`), or "unmatched". */
export function routeLabel(pattern: string | undefined): string {
  // Unknown URLs would otherwise put every scanner's probe path into a label.
  return pattern && pattern.length <= 200 ? pattern : "unmatched";
}

/** The first SQL keyword, for the store latency label (bounded: five values). */
export function sqlOperation(sql: string): "select" | "insert" | "update" | "delete" | "other" {
  const m = /^\s*(?:with\b[\s\S]*?\)\s*)?(select|insert|update|delete)\b/i.exec(sql);
  return (m?.[1]?.toLowerCase() as "select" | "insert" | "update" | "delete" | undefined) ?? "other";
}

/** The reconcile queue's observer for one named queue (controllers/queue.ts). */
export function queueObserver(m: ControlPlaneMetrics, queue: string) {
  return {
    depth: (n: number) => m.queueDepth.set({ queue }, n),
    ran: (seconds: number, ok: boolean) =>
      m.reconcileDuration.observe({ queue, result: ok ? "ok" : "error" }, seconds),
  };
}

/** The store's query hook (store/db.ts onQuery). */
export function storeTimer(m: ControlPlaneMetrics): (sql: string, seconds: number) => void {
  return (sql, seconds) => m.storeDuration.observe({ operation: sqlOperation(sql) }, seconds);
}
