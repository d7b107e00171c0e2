// GET /metrics (control plane) and GET /metrics/runners (per-environment samples from the
// runners, which have no inbound port: the control plane asks them over the runner protocol at
// scrape time). Both need a principal (http/auth.ts); a `metrics:read` token may call only these.
// What each caller sees: metrics/access.ts.
import type { RunnerApi } from "@warren/protocol";
import type { FastifyInstance, FastifyReply } from "fastify";
import { Gauge, Registry } from "prom-client";
import { requestActor } from "../http/auth.ts";
import type { Principal } from "../services/actor.ts";
import type { HostService } from "../services/host.ts";
import type { Db } from "../store/db.ts";
import { type EnvRow, listEnvs } from "../store/queries/envs.ts";
import { metricsView } from "./access.ts";
import type { ControlPlaneMetrics } from "./control-plane.ts";
import { addDnsSeries, type EnvSample, envRegistry } from "./env-series.ts";
import { addIngressSeries } from "./ingress.ts";

export interface MetricsDeps {
  metrics: ControlPlaneMetrics;
  db: Db | undefined;
  runner: RunnerApi;
  host: HostService;
}

/** A runner that does not answer within this is left out of the scrape, not waited for. */
const RUNNER_STATS_TIMEOUT_MS = 5_000;

type Owned = EnvRow & { org_id?: string; owner_id?: string };

export function metricsRoutes(app: FastifyInstance, d: MetricsDeps): void {
  // Outside /api/v1, so not in the OpenAPI document; the summaries are for readers.
  const schema = { tags: ["metrics"] };
  app.get(
    "/metrics",
    {
      schema: {
        ...schema,
        operationId: "metrics",
        summary:
          "Prometheus text: control-plane series (operators), environment counts, proxy and SSH traffic per environment.",
      },
    },
    async (req, reply) => {
      const view = metricsView(requestActor(req) as Principal);
      const all = await allEnvs(d.db);
      const rows = all.filter(view.canSee);
      const own = new Registry();
      const envs = new Gauge({
        name: "warren_environments",
        help: "Environments by organisation and observed state.",
        labelNames: ["org", "state"],
        registers: [own],
      });
      const orgNames = await orgNamesOf(d.db);
      for (const r of rows) envs.inc({ org: orgNames.get(r.org_id ?? "") ?? r.org_id ?? "", state: r.state });
      // Proxy and SSH traffic: counted here, labelled and filtered like the runners' series.
      const ids = new Set(all.map((r) => r.id));
      d.metrics.ingress.retain((id) => ids.has(id));
      addIngressSeries(
        own,
        rows.map((r) => ({
          id: r.id,
          labels: { env_id: r.id, env_name: r.name, org: orgNames.get(r.org_id ?? "") ?? r.org_id ?? "" },
          zero: r.state === "running",
        })),
        d.metrics.ingress.snapshot(),
      );
      const merged = view.operator ? Registry.merge([d.metrics.registry, own]) : own;
      return send(reply, await merged.metrics());
    },
  );

  app.get(
    "/metrics/runners",
    {
      schema: {
        ...schema,
        operationId: "runnerMetrics",
        summary:
          "Prometheus text: per-environment CPU, memory, PSI, disk, network and pids from the runners.",
      },
    },
    async (req, reply) => {
      const view = metricsView(requestActor(req) as Principal);
      const rows = (await visibleEnvs(d.db, view.canSee)).filter(
        (r) => r.state === "running" && r.desired === "running",
      );
      const orgNames = await orgNamesOf(d.db);
      const samples = (
        await Promise.all(
          rows.map(async (r): Promise<EnvSample | null> => {
            const stats = await withTimeout(d.runner.stats(r.id)).catch(() => null);
            if (!stats) return null;
            const org = orgNames.get(r.org_id ?? "") ?? r.org_id ?? "";
            return { env: { env_id: r.id, env_name: r.name, org }, stats };
          }),
        )
      ).filter((s) => s !== null);
      const { registry, rejected } = envRegistry(samples);
      if (view.operator) {
        const dns = await withTimeout(d.host.dnsStats(requestActor(req))).catch(() => null);
        if (dns) addDnsSeries(registry, dns, rejected);
      }
      for (const name of rejected) d.metrics.runnerSamplesRejected.inc({ reason: name });
      if (rejected.length > 0) req.log.warn({ rejected }, "runner sent invalid metric values; dropped");
      return send(reply, await registry.metrics());
    },
  );
}

function send(reply: FastifyReply, text: string): FastifyReply {
  return reply.header("content-type", "text/plain; version=0.0.4; charset=utf-8").send(text);
}

async function allEnvs(db: Db | undefined): Promise<Owned[]> {
  if (!db) return [];
  return (await listEnvs(db)) as Owned[];
}

async function visibleEnvs(db: Db | undefined, canSee: (r: Owned) => boolean): Promise<Owned[]> {
  return (await allEnvs(db)).filter(canSee);
}

async function orgNamesOf(db: Db | undefined): Promise<Map<string, string>> {
  if (!db) return new Map();
  const rows = await db.selectFrom("orgs").select(["id", "name"]).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("runner stats timed out")), RUNNER_STATS_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
