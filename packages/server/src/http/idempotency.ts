// Idempotency-Key on POSTs, with Stripe's semantics:
// - the same key and the same request again -> the first response (status and body), replayed;
// - the same key with a different request -> 422 IDEMPOTENCY_MISMATCH;
// - the same key while the first is still running -> 409 IDEMPOTENCY_CONFLICT;
// - keys are kept 24 hours.
// Records live in the database (idempotency_keys) so a retry after a daemon restart, or one that
// lands on another replica, still finds them. The row is inserted before the handler runs, and
// the (principal, key) primary key makes that insert the arbiter between concurrent duplicates.
// 5xx outcomes are not kept: the request may not have happened, so a retry should run it again.
// Streaming responses (image imports) are not replayable and are not kept either.
//
// A claim names the server instance running it (a random id per start) and carries a lease the
// instance extends while the request runs. A crash leaves the claim "in flight" with nobody to
// finish it, so a retry takes it over (and runs the request again) when its holder is gone:
// - on SQLite any other instance's claim is a dead one's: only the daemon holding the store's lock
//   serves it, and a new start is a new instance;
// - on PostgreSQL, shared by replicas, a claim whose lease (2 minutes) ran out: a live replica
//   renews its claims every 30 s.
// An instance only completes or releases a claim it still holds.
//
// Answers that carry a secret are never kept. A route whose 2xx reply holds one (a new token's
// plaintext, a device code) declares the fields with `config: carriesSecrets("token")`; for those
// the record keeps, instead of the reply, the answer a replay gets: 409 SECRET_SHOWN_ONCE ("already
// done; the secret was shown once"), with the reply minus those fields in details.response (a
// token's id and expiry, so the caller can find and revoke it). The database therefore never holds
// a secret for the 24 hours a key lives. (The alternative, the reply encrypted under the server's
// key, would let a replay show the secret again, but a database copy plus the key file would then
// yield every token minted in the last day.)
import { createHash, randomBytes } from "node:crypto";
import { WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type Clock, isoNow, systemClock } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  getIdempotencyKey,
  type IdempotencyRow,
  releaseIdempotencyKey,
  renewIdempotencyClaims,
  storeIsShared,
  sweepIdempotencyKeys,
  takeOverIdempotencyKey,
} from "../store/queries/idempotency.ts";
import { principalKey } from "./principal.ts";
import { expectSettle, runRides, settleWith, takeRides } from "./settle-writes.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Top-level fields of this route's 2xx JSON reply that are secrets, never kept for replays. */
    responseSecrets?: readonly string[];
  }
}

/** Route config for a route whose reply carries secrets in these top-level fields. */
export function carriesSecrets(...fields: string[]): { responseSecrets: readonly string[] } {
  return { responseSecrets: Object.freeze(fields) };
}

/**
 * What a replay of a secret-carrying reply answers instead of the reply (status, body). A reply
 * of such a route that holds none of the fields (a device poll's "pending") is kept as it is.
 */
export function secretShownOnce(
  key: string,
  status: number,
  payload: string,
  fields: readonly string[],
): { status: number; body: string } {
  let redacted: unknown = null;
  try {
    const body = JSON.parse(payload) as unknown;
    if (typeof body === "object" && body !== null && !Array.isArray(body)) {
      if (!fields.some((f) => Object.hasOwn(body, f))) return { status, body: payload };
      redacted = Object.fromEntries(Object.entries(body).filter(([k]) => !fields.includes(k)));
    }
  } catch {
    redacted = null; // not JSON: nothing safe to show, and nothing kept
  }
  const err = new WarrenError(
    "SECRET_SHOWN_ONCE",
    `the request with Idempotency-Key "${key}" already succeeded; its answer held a secret (${fields.join(", ")}), which was shown once and is not kept. If it was lost, revoke what was created and make a new one with a new key`,
    { key, status, response: redacted },
  );
  return { status: err.status, body: JSON.stringify(err.toBody()) };
}

export const IDEMPOTENCY_HEADER = "idempotency-key";
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const SWEEP_EVERY_MS = 60 * 60 * 1000;
/** This process: a random id per start, so a restarted daemon never mistakes a claim for its own. */
export const PROCESS_INSTANCE = `srv_${randomBytes(9).toString("base64url")}`;
/** How long an in-flight claim stays alive without its holder renewing it. */
export const IDEMPOTENCY_LEASE_MS = 2 * 60 * 1000;

export interface IdempotencyOptions {
  db: Db;
  clock?: Clock;
  logger?: Logger;
  /** This server instance; default PROCESS_INSTANCE. Tests give one to play a replica that died. */
  instanceId?: string;
  /** Other processes serve the same store (PostgreSQL replicas); default from the store's dialect. */
  sharedStore?: boolean;
}

/**
 * Whether the in-flight claim `row` belongs to an instance that is gone, so `instance` may take
 * it over. Exported for the table test.
 */
export function claimIsAbandoned(
  row: IdempotencyRow,
  instance: string,
  shared: boolean,
  now: number,
): boolean {
  if (row.state !== "in_flight" || row.claimed_by === instance) return false;
  if (!shared) return true;
  // A row from before claims had leases (or from a replica not yet upgraded): its age is the lease.
  const lease = row.lease_until ?? new Date(Date.parse(row.created_at) + IDEMPOTENCY_LEASE_MS).toISOString();
  return lease < new Date(now).toISOString();
}

interface Claim {
  principal: string;
  key: string;
}
const claims = new WeakMap<FastifyRequest, Claim>();

export function requestHash(req: FastifyRequest): string {
  return createHash("sha256")
    .update(`${req.method} ${req.url}\n`)
    .update(JSON.stringify(req.body ?? null))
    .digest("hex");
}

export function installIdempotency(app: FastifyInstance, o: IdempotencyOptions): void {
  const clock = o.clock ?? systemClock;
  const db = o.db;
  const instance = o.instanceId ?? PROCESS_INSTANCE;
  const shared = o.sharedStore ?? storeIsShared(db);
  const expiredBefore = () => new Date(clock.now() - IDEMPOTENCY_TTL_MS).toISOString();
  const leaseUntil = () => new Date(clock.now() + IDEMPOTENCY_LEASE_MS).toISOString();
  let running = 0; // claims this instance holds now; their lease is renewed while > 0

  // preHandler: after validation, so a malformed request never occupies a key. Callback style so
  // requests without a key (and WebSocket upgrades) pay no extra tick.
  app.addHook("preHandler", (req, reply, done) => {
    const raw = req.headers[IDEMPOTENCY_HEADER];
    if (req.method !== "POST" || raw === undefined) return done();
    check(req, reply, raw).then(
      (replied) => {
        if (!replied) done();
      },
      (err: Error) => done(err),
    );
  });

  /** Claims the key, or answers from its record (true when it replied). */
  async function check(req: FastifyRequest, reply: FastifyReply, raw: string | string[]): Promise<boolean> {
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (key === undefined || key.length < 1 || key.length > 255) {
      throw new WarrenError("INVALID_ARGUMENT", "the Idempotency-Key header must be 1 to 255 characters", {
        header: "Idempotency-Key",
      });
    }
    const principal = principalKey(req);
    const path = req.url.split("?")[0] ?? req.url;
    const claim = { principal, key, method: req.method, path, bodyHash: requestHash(req), instance };
    const hold = () => {
      claims.set(req, { principal, key });
      expectSettle(req);
      running++;
      return false;
    };
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await claimIdempotencyKey(db, { ...claim, now: isoNow(clock), leaseUntil: leaseUntil() })) {
        return hold();
      }
      const row = await getIdempotencyKey(db, principal, key);
      if (!row) continue; // released or swept between the two statements: claim again
      if (row.created_at < expiredBefore()) {
        await releaseIdempotencyKey(db, principal, key);
        continue;
      }
      if (row.method !== claim.method || row.path !== claim.path || row.body_hash !== claim.bodyHash) {
        throw new WarrenError(
          "IDEMPOTENCY_MISMATCH",
          `Idempotency-Key "${key}" was first used with a different request (${row.method} ${row.path}); use a new key for a new request`,
          { key },
        );
      }
      if (row.state === "in_flight" && claimIsAbandoned(row, instance, shared, clock.now())) {
        const input = { ...claim, now: isoNow(clock), leaseUntil: leaseUntil() };
        if (await takeOverIdempotencyKey(db, row, input)) {
          o.logger?.info(
            { key, principal, from: row.claimed_by, instance },
            "idempotency key taken over: the instance running its request is gone",
          );
          return hold();
        }
        continue; // another retry took it first: read again
      }
      if (row.state === "in_flight" || row.status === null) {
        throw new WarrenError(
          "IDEMPOTENCY_CONFLICT",
          `a request with Idempotency-Key "${key}" is still in progress; retry once it has finished`,
          { key },
        );
      }
      void reply
        .status(row.status)
        .header("idempotent-replayed", "true")
        .type("application/json")
        .send(row.response ?? "");
      return true;
    }
    throw new WarrenError("IDEMPOTENCY_CONFLICT", `Idempotency-Key "${key}" is contended; retry`, { key });
  }

  app.addHook("onSend", (req, reply, payload, done) => {
    const claim = claims.get(req);
    if (!claim) return done(null, payload);
    claims.delete(req);
    running--;
    const keep = reply.statusCode < 500 && (typeof payload === "string" || payload === undefined);
    const text = typeof payload === "string" ? payload : "";
    const secrets = req.routeOptions.config?.responseSecrets;
    const stored =
      secrets && secrets.length > 0 && reply.statusCode < 300
        ? secretShownOnce(claim.key, reply.statusCode, text, secrets)
        : { status: reply.statusCode, body: text };
    // The audit record of the request commits with the kept answer (http/settle-writes.ts).
    const rides = takeRides(req);
    const settle = keep
      ? settleWith(db, rides, (q) =>
          completeIdempotencyKey(q, claim.principal, claim.key, stored.status, stored.body, instance),
        )
      : releaseIdempotencyKey(db, claim.principal, claim.key, instance).finally(() => runRides(db, rides));
    settle.then(
      () => done(null, payload),
      (err: Error) => done(err),
    );
  });

  // A claimed request that never reaches onSend (a hijacked stream) releases its key here, so
  // retries are not stuck on "in flight".
  app.addHook("onResponse", (req, _reply, done) => {
    const claim = claims.get(req);
    if (!claim) return done();
    claims.delete(req);
    running--;
    const rides = takeRides(req);
    releaseIdempotencyKey(db, claim.principal, claim.key, instance)
      .finally(() => runRides(db, rides))
      .then(
        () => done(),
        (err: Error) => done(err),
      );
  });

  // Replicas tell a live claim from a dead one by its lease: renew ours while requests run.
  let renewTimer: ReturnType<Clock["setTimeout"]> | undefined;
  const renew = async () => {
    try {
      if (running > 0) await renewIdempotencyClaims(db, instance, leaseUntil());
    } catch (err) {
      o.logger?.warn({ err }, "renewing idempotency claims failed; retried");
    }
    if (!closed) renewTimer = clock.setTimeout(() => void renew(), IDEMPOTENCY_LEASE_MS / 4);
  };

  let timer: ReturnType<Clock["setTimeout"]> | undefined;
  let closed = false;
  const sweep = async () => {
    try {
      const n = await sweepIdempotencyKeys(db, expiredBefore());
      if (n > 0) o.logger?.info({ removed: n }, "expired idempotency keys removed");
    } catch (err) {
      o.logger?.warn({ err }, "sweeping idempotency keys failed");
    }
    if (!closed) timer = clock.setTimeout(() => void sweep(), SWEEP_EVERY_MS);
  };
  app.addHook("onReady", async () => {
    await sweep();
    if (shared) renewTimer = clock.setTimeout(() => void renew(), IDEMPOTENCY_LEASE_MS / 4);
  });
  app.addHook("onClose", async () => {
    closed = true;
    if (timer !== undefined) clock.clearTimeout(timer);
    if (renewTimer !== undefined) clock.clearTimeout(renewTimer);
    timer = undefined;
    renewTimer = undefined;
  });
}
