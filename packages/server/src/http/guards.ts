// The public API's request guards, installed on the whole app: JSON depth bounds, rate limits,
// and Idempotency-Key handling. One entry point keeps build.ts's part to a single call.
import type { FastifyInstance } from "fastify";
import type { Clock } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { Db } from "../store/db.ts";
import { installBounds } from "./bounds.ts";
import { installIdempotency } from "./idempotency.ts";
import { installRateLimit, type RateLimitOptions } from "./rate-limit.ts";

export interface GuardOptions {
  /** Enables Idempotency-Key (its records are durable). */
  db?: Db | undefined;
  /** Off unless given; the daemon passes rateLimitFromEnv(). */
  rateLimit?: RateLimitOptions | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
}

export function installGuards(app: FastifyInstance, o: GuardOptions): void {
  installBounds(app);
  if (o.rateLimit) installRateLimit(app, { ...o.rateLimit, ...(o.clock ? { clock: o.clock } : {}) });
  if (o.db) {
    installIdempotency(app, {
      db: o.db,
      ...(o.clock ? { clock: o.clock } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
    });
  }
}
