// The daemon's autoscaler wiring (`warren server --autoscaler-config FILE`): the file is read
// and checked before anything starts, so a mistake in it stops the server with the file and key
// named; the loop starts once the TLS listener new runners dial is up.
import type { Registry } from "prom-client";
import type { Clock } from "../clock.ts";
import { createAutoscalerController } from "../controllers/autoscaler/controller.ts";
import type { Logger } from "../logger.ts";
import { createAutoscalerMetrics } from "../metrics/autoscaler.ts";
import type { AuditService } from "../services/audit.ts";
import type { Db } from "../store/db.ts";
import { type AutoscalerConfig, loadAutoscalerConfig } from "./config.ts";

/** The configuration, or undefined without --autoscaler-config. Throws on any problem in it. */
export function autoscalerConfigFrom(o: {
  autoscalerConfig?: string | undefined;
  root: string;
  serverMode: boolean;
}): AutoscalerConfig | undefined {
  if (!o.autoscalerConfig) return undefined;
  if (!o.serverMode) {
    throw new Error(
      "the autoscaler adds runners that dial in: it runs with `warren server`, not the embedded `warren daemon`",
    );
  }
  // The local provider starts this same program's `runner` command unless the file says otherwise.
  const self = process.argv[1] ? [process.execPath, process.argv[1], "runner"] : undefined;
  return loadAutoscalerConfig(o.autoscalerConfig, {
    root: o.root,
    ...(self ? { defaultLocalCommand: self } : {}),
  });
}

export function startAutoscaler(
  config: AutoscalerConfig,
  o: {
    db: Db;
    clock: Clock;
    log: { child(bindings: object): Logger };
    replicaId: string;
    tls: { host: string; port: number; fingerprint: string } | undefined;
    audit: AuditService;
    metrics: { registry: Registry };
  },
): { close(): Promise<void> } {
  const { tls } = o;
  const logger = o.log.child({ component: "autoscaler" });
  // A wildcard listener is reachable on loopback from this host (the local provider's runners).
  const host = !tls ? "" : tls.host === "0.0.0.0" || tls.host === "::" ? "127.0.0.1" : tls.host;
  const ctl = createAutoscalerController({
    db: o.db,
    clock: o.clock,
    logger,
    config,
    replicaId: o.replicaId,
    server: () =>
      tls
        ? {
            url: `https://${host.includes(":") ? `[${host}]` : host}:${tls.port}`,
            fingerprint: tls.fingerprint,
          }
        : undefined,
    audit: o.audit,
    metrics: createAutoscalerMetrics(o.metrics.registry),
  });
  ctl.start();
  logger.info(
    { file: config.file, pools: config.pools.map((p) => `${p.name} (${p.provider.type})`) },
    "autoscaler started",
  );
  return { close: () => ctl.close() };
}
