// The runner autoscaler's series (controllers/autoscaler/), registered in the control plane's
// registry: each pool's runners now and wanted, its utilisation, and every scaling step taken.
import { Counter, Gauge, type Registry } from "prom-client";

export interface AutoscalerMetrics {
  readonly current: Gauge<"pool">;
  readonly desired: Gauge<"pool">;
  readonly utilization: Gauge<"pool">;
  /** action: create, drain, delete, failed. */
  readonly actions: Counter<"pool" | "action">;
}

export function createAutoscalerMetrics(registry: Registry): AutoscalerMetrics {
  return {
    current: new Gauge({
      name: "warren_autoscaler_runners",
      help: "Runners of the pool that are ready plus hosts still booting, at the last autoscaler pass.",
      labelNames: ["pool"],
      registers: [registry],
    }),
    desired: new Gauge({
      name: "warren_autoscaler_desired_runners",
      help: "Runners the autoscaler wants for the pool (within its min and max), at the last pass.",
      labelNames: ["pool"],
      registers: [registry],
    }),
    utilization: new Gauge({
      name: "warren_autoscaler_utilization_ratio",
      help: "Allocated over capacity of the pool's scaling resource on its ready runners (0–1+).",
      labelNames: ["pool"],
      registers: [registry],
    }),
    actions: new Counter({
      name: "warren_autoscaler_actions_total",
      help: "Autoscaler steps taken per pool: hosts created, runners drained, hosts deleted, provider calls failed.",
      labelNames: ["pool", "action"],
      registers: [registry],
    }),
  };
}
