// Which requests are audited actions, and the one hook that records them. Recording at the edge
// (rather than in each service) is what makes "exactly one record per action" hold, failures
// included: a request ends in exactly one onSend, whatever it threw. Reads are not in the table,
// so they are never recorded. exec sessions are WebSocket upgrades with no onSend; exec-ws.ts
// records them through `auditExec`.
//
// The record is written before the response goes out, so a client that sees the answer can
// already read the record; with an Idempotency-Key, in the transaction that keeps the answer
// (http/settle-writes.ts). A failure to write it is logged and does not fail the action.
//
// Streamed operations (image import, a base-image build) commit their 200 before the work runs and
// report the outcome in-band; they are recorded when the work settles (ndjson.ts's outcome), with
// that outcome. A rule with `when` is recorded only for the requests it matches (the base image
// only when a caller picks its mirror: a plain build is routine, a mirror change is not).
import { API_PREFIX, ERROR_CATALOG, type ErrorCode } from "@warren/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { type AuditService, actorOf } from "../services/audit.ts";
import { streamOutcome } from "./ndjson.ts";
import { rideSettle } from "./settle-writes.ts";

type Target = (req: FastifyRequest, reply: Record<string, unknown> | undefined) => string;
interface Rule {
  action: string;
  target: Target;
  /** The 200 is a stream: record the operation's own outcome when it settles. */
  streamed?: boolean;
  /** Only requests this matches are actions. */
  when?: (req: FastifyRequest) => boolean;
  /**
   * A 200 that did nothing: a removal of what was not there answers `{removed: false}` (the API
   * stays idempotent), and the CLI exits 1 on it. The record says what happened: nothing was
   * found to act on, like a 404.
   */
  missed?: (reply: Record<string, unknown> | undefined) => boolean;
}

const removedNothing = (reply: Record<string, unknown> | undefined) => reply?.["removed"] === false;

const param =
  (name: string): Target =>
  (req) =>
    String((req.params as Record<string, unknown> | undefined)?.[name] ?? "");
const bodyName: Target = (req, reply) =>
  String((req.body as { name?: unknown } | undefined)?.name ?? reply?.["name"] ?? "");
const createdId: Target = (_req, reply) => String(reply?.["id"] ?? "");
const member: Target = (req, reply) =>
  `${param("org")(req, reply)}/${param("user")(req, reply) || bodyName(req, reply)}`;

const secretTarget: Target = (req, reply) => `${param("scope")(req, reply)}/${param("name")(req, reply)}`;
const bodyField = (name: string) => (req: FastifyRequest) =>
  String((req.body as Record<string, unknown> | undefined)?.[name] ?? "");
/** The new key's id and fingerprint; the fingerprint alone when the add was refused. */
const sshKeyAdded: Target = (_req, reply) =>
  [reply?.["id"], reply?.["fingerprint"] ?? (reply?.["details"] as { fingerprint?: unknown })?.fingerprint]
    .filter((v) => v !== undefined)
    .join(" ");
/** "env:port=visibility", so the record says what the port was opened (or closed) to. */
const portTarget: Target = (req, reply) =>
  `${param("name")(req, reply)}:${param("port")(req, reply)}=${bodyField("visibility")(req)}`;
/** "env/unit" for a service or task. */
const unitTarget =
  (kind: string): Target =>
  (req, reply) =>
    `${param("name")(req, reply)}/${param(kind)(req, reply)}`;
/** "image class" of a warm pool, from the body (set) or the query (remove). */
const poolTarget: Target = (req) => {
  const b = (req.body ?? {}) as Record<string, unknown>;
  const q = (req.query ?? {}) as Record<string, unknown>;
  return `${String(b["image"] ?? q["image"] ?? "")} ${String(b["className"] ?? q["class"] ?? "default")}`;
};
const importTarget: Target = (req) => `${bodyField("ref")(req)} <- ${bodyField("path")(req)}`;

const E = `${API_PREFIX}/environments`;
/** "METHOD route-url" -> the action recorded and how to name its target. */
export const AUDITED: Readonly<Record<string, Rule>> = {
  [`POST ${E}`]: { action: "environment.create", target: bodyName },
  [`POST ${E}/:name/start`]: { action: "environment.start", target: param("name") },
  [`POST ${E}/:name/stop`]: { action: "environment.stop", target: param("name") },
  [`DELETE ${E}/:name`]: { action: "environment.delete", target: param("name") },
  [`PATCH ${E}/:name`]: { action: "environment.resize", target: param("name") },
  [`POST ${API_PREFIX}/tokens`]: { action: "token.create", target: createdId },
  [`POST ${API_PREFIX}/admin/runner-tokens`]: { action: "token.create", target: createdId },
  [`DELETE ${API_PREFIX}/tokens/:id`]: { action: "token.revoke", target: param("id") },
  [`POST ${API_PREFIX}/orgs/:org/members`]: { action: "membership.set", target: member },
  [`DELETE ${API_PREFIX}/orgs/:org/members/:user`]: { action: "membership.remove", target: member },
  [`POST ${API_PREFIX}/classes`]: { action: "class.create", target: bodyName },
  [`DELETE ${API_PREFIX}/classes/:name`]: { action: "class.delete", target: param("name") },
  [`PUT ${API_PREFIX}/orgs/:org/quotas`]: { action: "quota.set", target: param("org") },
  // Secret writes: the target names the secret, never its value.
  [`PUT ${API_PREFIX}/secrets/:scope/:name`]: { action: "secret.set", target: secretTarget },
  [`DELETE ${API_PREFIX}/secrets/:scope/:name`]: {
    action: "secret.remove",
    target: secretTarget,
    missed: removedNothing,
  },
  [`POST ${API_PREFIX}/admin/rotate-key`]: { action: "secret.rotate-key", target: () => "keys" },
  // Registry logins: every pull from the host uses the stored one.
  [`PUT ${API_PREFIX}/registries/:host`]: { action: "registry.login", target: param("host") },
  [`DELETE ${API_PREFIX}/registries/:host`]: {
    action: "registry.logout",
    target: param("host"),
    missed: removedNothing,
  },
  // Port visibility: who may reach an environment's port through the port proxy.
  [`PUT ${E}/:name/ports/:port`]: { action: "port.set", target: portTarget },
  // Automations: a task runs, and a service starts or stops, as the environment's user.
  [`POST ${E}/:name/tasks/:task/run`]: { action: "task.run", target: unitTarget("task") },
  [`POST ${E}/:name/services/:service/start`]: { action: "service.start", target: unitTarget("service") },
  [`POST ${E}/:name/services/:service/stop`]: { action: "service.stop", target: unitTarget("service") },
  [`POST ${E}/:name/services/:service/restart`]: { action: "service.restart", target: unitTarget("service") },
  // SSH keys: each one opens environments through the SSH gateway.
  [`POST ${API_PREFIX}/ssh-keys`]: { action: "ssh-key.add", target: sshKeyAdded },
  [`DELETE ${API_PREFIX}/ssh-keys/:id`]: { action: "ssh-key.remove", target: param("id") },
  // A user's git identity and dotfiles: the dotfiles' install script runs in each new environment.
  [`PUT ${API_PREFIX}/user/git`]: { action: "user.git-set", target: bodyField("dotfiles") },
  // Images: what every environment of the organisation starts from.
  [`POST ${API_PREFIX}/images/import`]: { action: "image.import", target: importTarget, streamed: true },
  [`DELETE ${API_PREFIX}/images/:ref`]: { action: "image.remove", target: param("ref") },
  [`POST ${API_PREFIX}/images/prune`]: { action: "image.prune", target: () => "images" },
  // The fleet: which runners take new environments, and a drain stops environments on one.
  [`POST ${API_PREFIX}/fleet/runners/:name/cordon`]: { action: "fleet.cordon", target: param("name") },
  [`POST ${API_PREFIX}/fleet/runners/:name/uncordon`]: { action: "fleet.uncordon", target: param("name") },
  [`POST ${API_PREFIX}/fleet/runners/:name/drain`]: { action: "fleet.drain", target: param("name") },
  // Warm pools: ready environments kept on the organisation's runners for its creates.
  [`POST ${API_PREFIX}/pools`]: { action: "pool.set", target: poolTarget },
  [`DELETE ${API_PREFIX}/pools`]: { action: "pool.remove", target: poolTarget, missed: removedNothing },
  [`POST ${API_PREFIX}/images/base`]: {
    action: "image.base-mirror",
    target: bodyField("mirror"),
    streamed: true,
    when: (req) => bodyField("mirror")(req) !== "",
  },
};

/** 401/403/404 are refusals (another org's ids are 404 by design); other failures are errors. */
export function resultOf(status: number): "ok" | "denied" | "error" {
  if (status < 400) return "ok";
  return status === 401 || status === 403 || status === 404 ? "denied" : "error";
}

export function sourceOf(req: FastifyRequest): string {
  return req.ip || "local-socket";
}

export function installAudit(app: FastifyInstance, audit: AuditService | undefined): void {
  if (!audit) return;
  app.addHook("onSend", async (req, reply, payload) => {
    const rule = AUDITED[`${req.method} ${req.routeOptions.url ?? ""}`];
    // No principal: the caller never authenticated, so there is no organisation to file it under.
    // An Idempotency-Key replay repeats an answer, not the action.
    if (!rule || !req.principal || reply.getHeader("idempotent-replayed") !== undefined) return payload;
    if (rule.when && !rule.when(req)) return payload;
    const principal = req.principal;
    const outcome = rule.streamed && reply.statusCode < 300 ? streamOutcome(req) : undefined;
    if (outcome) {
      void outcome
        .then(async (o) => {
          const result = o.ok ? "ok" : resultOf(ERROR_CATALOG[o.code as ErrorCode]?.status ?? 500);
          await audit.record({
            orgId: principal.orgId,
            actor: actorOf(principal),
            action: rule.action,
            target: rule.target(req, undefined),
            sourceAddress: sourceOf(req),
            result,
            code: o.ok ? undefined : o.code,
          });
        })
        .catch((err: unknown) =>
          req.log.error({ err, action: rule.action }, "could not write the audit record"),
        );
      return payload;
    }
    let body: Record<string, unknown> | undefined;
    if (typeof payload === "string" && payload.startsWith("{")) {
      try {
        body = JSON.parse(payload) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
    }
    const missed = reply.statusCode < 300 && rule.missed?.(body) === true;
    const result = missed ? resultOf(ERROR_CATALOG.NOT_FOUND.status) : resultOf(reply.statusCode);
    const code = missed ? "NOT_FOUND" : String(body?.["code"] ?? reply.statusCode);
    const entry = {
      orgId: req.principal.orgId,
      actor: actorOf(req.principal),
      action: rule.action,
      target: rule.target(req, reply.statusCode < 300 ? body : undefined),
      sourceAddress: sourceOf(req),
      result,
      code: result === "ok" ? undefined : code,
    };
    const failed = (err: unknown) =>
      req.log.error({ err, action: rule.action }, "could not write the audit record");
    // With an Idempotency-Key, committed with the kept answer: one synced commit, not two.
    if (rideSettle(req, { write: (q) => audit.record(entry, q), failed })) return payload;
    try {
      await audit.record(entry);
    } catch (err) {
      failed(err);
    }
    return payload;
  });
}

/** Records an exec session being opened (or refused); called once per session by exec-ws.ts. */
export async function auditExec(
  audit: AuditService | undefined,
  req: FastifyRequest,
  target: string,
  outcome: { status: number; code?: string },
): Promise<void> {
  if (!audit || !req.principal) return;
  const result = resultOf(outcome.status);
  try {
    await audit.record({
      orgId: req.principal.orgId,
      actor: actorOf(req.principal),
      action: "exec.open",
      target,
      sourceAddress: sourceOf(req),
      result,
      code: outcome.code,
    });
  } catch (err) {
    req.log.error({ err }, "could not write the audit record for exec");
  }
}
