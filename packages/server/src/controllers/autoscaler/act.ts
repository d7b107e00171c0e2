// The effectful half of the autoscaler: carries out one pool's plan (plan.ts). Every step is
// durable before its effect and guarded where a race could hurt:
// - create: the host row and its token exist before the provider is asked, so a crash
//   mid-create leaves a row the next pass times out and deletes, never an unknown host;
// - drain: one conditional update that cordons the runner only while no environment row
//   names it; delete re-checks that just before calling the provider;
// - a provider failure is recorded on the host row, in the audit trail and the metrics, and
//   the next pass tries again (deletes) or asks for a new host (creates).
import { randomBytes } from "node:crypto";
import { AUDIT_FLEET_AUTOSCALE } from "@warren/protocol";
import type { PoolConfig } from "../../autoscaler/config.ts";
import type { HostProvider } from "../../autoscaler/providers/types.ts";
import { type Clock, isoNow } from "../../clock.ts";
import type { Logger } from "../../logger.ts";
import type { AutoscalerMetrics } from "../../metrics/autoscaler.ts";
import type { AuditService } from "../../services/audit.ts";
import { orgTokenMaxDays } from "../../services/tokens.ts";
import type { Db } from "../../store/db.ts";
import {
  drainIfEmpty,
  envCountOn,
  extendHostToken,
  forgetRunner,
  insertHost,
  mintHostToken,
  revokeHostToken,
  setHostState,
  undrain,
} from "../../store/queries/autoscaler.ts";
import type { AutoscalerSchema } from "../../store/schema-autoscaler.ts";
import type { AutoscalerAction, AutoscalerPlan } from "./plan.ts";

export interface ActContext {
  db: Db;
  clock: Clock;
  logger: Logger;
  audit?: AuditService | undefined;
  metrics?: AutoscalerMetrics | undefined;
  provider: HostProvider;
  pool: PoolConfig;
  orgId: string;
  /** Where new hosts' runners dial in; undefined when the server has no TLS listener. */
  server: { url: string; fingerprint: string } | undefined;
  /** The pool's live host rows by request id (read by the pass). */
  hosts: Map<string, AutoscalerSchema["autoscaler_hosts"]>;
}

const DAY_MS = 86_400_000;

async function record(c: ActContext, target: string, ok: boolean, code?: string): Promise<void> {
  await c.audit
    ?.record({
      orgId: c.orgId,
      actor: "autoscaler",
      action: AUDIT_FLEET_AUTOSCALE,
      target: `${c.pool.name}: ${target}`,
      sourceAddress: "",
      result: ok ? "ok" : "error",
      ...(code ? { code } : {}),
    })
    .catch((err: unknown) => c.logger.warn({ err }, "autoscaler: audit record failed"));
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 1000);

async function createHost(c: ActContext): Promise<void> {
  const now = isoNow(c.clock);
  // Also the runner's name: the pool's name cut so the whole stays a DNS label.
  const requestId = `${c.pool.name.slice(0, 50)}-${randomBytes(4).toString("hex")}`;
  if (!c.server) {
    throw new Error(
      "no address for new runners to dial: give the server a TLS listener (--listen) or set server.url and server.fingerprint in the autoscaler config",
    );
  }
  const expiresAt = new Date(c.clock.now() + c.pool.tokenTtlMs).toISOString();
  const token = await mintHostToken(c.db, {
    orgId: c.orgId,
    name: `autoscaler ${requestId}`,
    now,
    expiresAt,
  });
  await insertHost(c.db, {
    request_id: requestId,
    pool: c.pool.name,
    org_id: c.orgId,
    runner_id: token.id,
    runner_name: requestId,
    provider_id: null,
    state: "creating",
    error: null,
    created_at: now,
    updated_at: now,
  });
  try {
    const { id } = await c.provider.create({
      requestId,
      pool: c.pool.name,
      name: requestId,
      labels: c.pool.labels,
      server: c.server,
      token: token.token,
      tokenExpiresAt: expiresAt,
    });
    await setHostState(c.db, requestId, "creating", isoNow(c.clock), { provider_id: id });
    c.metrics?.actions.inc({ pool: c.pool.name, action: "create" });
    c.logger.info(
      { pool: c.pool.name, requestId, hostId: id, provider: c.provider.kind },
      "autoscaler: host requested",
    );
  } catch (err) {
    // Nothing usable may outlive a failed create: the token dies with it.
    await revokeHostToken(c.db, token.id, isoNow(c.clock));
    await setHostState(c.db, requestId, "failed", isoNow(c.clock), { error: message(err) });
    throw err;
  }
}

async function deleteHost(c: ActContext, a: Extract<AutoscalerAction, { type: "delete" }>): Promise<void> {
  const row = c.hosts.get(a.requestId);
  const now = () => isoNow(c.clock);
  // The last word on emptiness: an environment that landed since the plan read keeps its host.
  if ((await envCountOn(c.db, a.runnerId)) > 0) {
    await undrain(c.db, a.runnerId);
    await setHostState(c.db, a.requestId, "ready", now());
    await record(c, `kept ${row?.runner_name ?? a.runnerId}: an environment landed on it`, true);
    return;
  }
  await setHostState(c.db, a.requestId, "deleting", now());
  try {
    if (row?.provider_id) await c.provider.delete(row.provider_id);
  } catch (err) {
    await setHostState(c.db, a.requestId, "deleting", now(), { error: message(err) });
    throw err;
  }
  await revokeHostToken(c.db, a.runnerId, now());
  await forgetRunner(c.db, a.runnerId);
  await setHostState(c.db, a.requestId, "deleted", now(), { error: null });
  c.metrics?.actions.inc({ pool: c.pool.name, action: "delete" });
  await record(c, `deleted host ${row?.runner_name ?? a.runnerId}: ${a.why}`, true);
}

async function one(c: ActContext, a: AutoscalerAction): Promise<void> {
  switch (a.type) {
    case "create":
      for (let i = 0; i < a.count; i++) await createHost(c);
      return;
    case "adopt": {
      // The enrolment window was short; a joined host keeps its token as a runner token lives.
      const days = await orgTokenMaxDays(c.db, c.orgId);
      await extendHostToken(c.db, a.runnerId, new Date(c.clock.now() + days * DAY_MS).toISOString());
      await setHostState(c.db, a.requestId, "ready", isoNow(c.clock));
      return;
    }
    case "drain":
      if (await drainIfEmpty(c.db, a.runnerId)) {
        await setHostState(c.db, a.requestId, "draining", isoNow(c.clock));
        c.metrics?.actions.inc({ pool: c.pool.name, action: "drain" });
      }
      return;
    case "undrain":
      await undrain(c.db, a.runnerId);
      await setHostState(c.db, a.requestId, "ready", isoNow(c.clock));
      await record(c, `put ${a.runnerId} back to work: an environment landed on it while draining`, true);
      return;
    case "delete":
      await deleteHost(c, a);
      return;
  }
}

/** Carries out the plan's actions in order; one failure does not stop the others. */
export async function actOnPlan(c: ActContext, plan: AutoscalerPlan): Promise<void> {
  if (plan.actions.some((a) => a.type === "create" || a.type === "drain"))
    await record(c, plan.decision, true);
  for (const a of plan.actions) {
    try {
      await one(c, a);
    } catch (err) {
      c.metrics?.actions.inc({ pool: c.pool.name, action: "failed" });
      c.logger.warn(
        { pool: c.pool.name, action: a.type, err },
        "autoscaler: action failed; retried next pass",
      );
      await record(c, `${a.type} failed: ${message(err)}`, false, "PROVIDER_FAILED");
    }
  }
}
