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
import { createHash } from "node:crypto";
import { WarrenError } from "@warren/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type Clock, isoNow, systemClock } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  getIdempotencyKey,
  releaseIdempotencyKey,
  sweepIdempotencyKeys,
} from "../store/queries/idempotency.ts";
import { principalKey } from "./principal.ts";

export const IDEMPOTENCY_HEADER = "idempotency-key";
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const SWEEP_EVERY_MS = 60 * 60 * 1000;

export interface IdempotencyOptions {
  db: Db;
  clock?: Clock;
  logger?: Logger;
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
  const expiredBefore = () => new Date(clock.now() - IDEMPOTENCY_TTL_MS).toISOString();

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
    const claim = { principal, key, method: req.method, path, bodyHash: requestHash(req) };
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await claimIdempotencyKey(db, { ...claim, now: isoNow(clock) })) {
        claims.set(req, { principal, key });
        return false;
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
    const keep = reply.statusCode < 500 && (typeof payload === "string" || payload === undefined);
    const text = typeof payload === "string" ? payload : "";
    const settle = keep
      ? completeIdempotencyKey(db, claim.principal, claim.key, reply.statusCode, text)
      : releaseIdempotencyKey(db, claim.principal, claim.key);
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
    releaseIdempotencyKey(db, claim.principal, claim.key).then(
      () => done(),
      (err: Error) => done(err),
    );
  });

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
  });
  app.addHook("onClose", async () => {
    closed = true;
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
  });
}
