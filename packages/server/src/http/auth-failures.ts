// Failed authentication: limited per client IP and recorded in the audit trail.
//
// - Limit. Every bearer token that fails (unknown, malformed, revoked, expired, its user removed)
//   takes one from the IP's bucket (http/rate-limit.ts's token buckets: a burst, then so many per
//   minute). While the bucket is empty, every request from that IP that presents a token is
//   answered 429 with Retry-After before the token is even looked up, so guessing gets no answer,
//   right or wrong. Callers on the local unix socket (root) are exempt, as from every limit.
// - Audit. Each failure is an "auth.failed" record, filed under the token's organisation when the
//   token is known (revoked, expired, or its user removed), else under the server's first
//   organisation, whose admins run the server. At most a few records per IP per minute and a few
//   dozen in all reach the trail; the rest are counted in one warning per minute in the log, so a
//   flood of bad tokens cannot flood the trail.
import { isWarrenError, WarrenError } from "@warren/protocol";
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from "fastify";
import { type Clock, systemClock } from "../clock.ts";
import type { AuditService } from "../services/audit.ts";
import { AuthenticationFailed } from "../services/identity.ts";
import { BOOTSTRAP_ORG_ID } from "../store/migrations/005_identity.ts";
import { isUnixSocket } from "./principal.ts";
import { DEFAULT_AUTH_FAILURES, type RateLimitOptions, TokenBuckets } from "./rate-limit.ts";

export const AUDIT_AUTH_FAILED = "auth.failed";
/** Audit records of failed authentication per IP per minute, and for all IPs together. */
export const AUDITED_PER_IP_MINUTE = 5;
export const AUDITED_PER_MINUTE = 60;

export interface AuthFailureGuard {
  /** Before authentication: throws RATE_LIMITED (with Retry-After) while this IP is over its limit. */
  check(req: FastifyRequest, reply: FastifyReply): void;
  /** After a failed authentication: counts it against the IP and records it (rate-limited). */
  failed(req: FastifyRequest, err: unknown): void;
}

export function createAuthFailureGuard(o: {
  /** The daemon's limits (rateLimitFromEnv); without them failures are recorded but not limited. */
  rateLimit?: RateLimitOptions | undefined;
  audit?: AuditService | undefined;
  clock?: Clock | undefined;
  logger?: FastifyBaseLogger | undefined;
}): AuthFailureGuard {
  const clock = o.clock ?? systemClock;
  const perMinute = o.rateLimit?.authFailuresPerMinute ?? DEFAULT_AUTH_FAILURES.perMinute;
  const buckets =
    o.rateLimit && perMinute > 0
      ? new TokenBuckets({
          ratePerSecond: perMinute / 60,
          burst: o.rateLimit.authFailureBurst ?? DEFAULT_AUTH_FAILURES.burst,
          clock,
        })
      : undefined;
  let minute = -1;
  let total = 0;
  let suppressed = 0;
  const perIp = new Map<string, number>();
  /** Whether this failure may be written to the trail; counts the ones that may not. */
  const mayRecord = (ip: string, log: FastifyBaseLogger): boolean => {
    const now = Math.floor(clock.now() / 60_000);
    if (now !== minute) {
      if (suppressed > 0) log.warn({ suppressed }, "failed authentications not written to the audit trail");
      minute = now;
      total = 0;
      suppressed = 0;
      perIp.clear();
    }
    const n = (perIp.get(ip) ?? 0) + 1;
    if (perIp.size < 10_000) perIp.set(ip, n);
    if (n > AUDITED_PER_IP_MINUTE || ++total > AUDITED_PER_MINUTE) {
      suppressed++;
      return false;
    }
    return true;
  };

  return {
    check(req, reply) {
      if (!buckets || isUnixSocket(req)) return;
      const wait = buckets.peek(`authfail:${req.ip}`);
      if (wait === 0) return;
      void reply.header("retry-after", String(wait));
      throw new WarrenError(
        "RATE_LIMITED",
        `too many failed authentications from ${req.ip}; retry in ${wait} s with a valid token`,
        { retryAfterSeconds: wait },
      );
    },
    failed(req, err) {
      // Only a refused credential counts: a store that failed says nothing about the caller.
      if (isUnixSocket(req) || !isWarrenError(err, "UNAUTHENTICATED")) return;
      buckets?.take(`authfail:${req.ip}`);
      const log = o.logger ?? req.log;
      if (!o.audit || !mayRecord(req.ip, log)) return;
      const known = err instanceof AuthenticationFailed ? err : undefined;
      o.audit
        .record({
          orgId: known?.orgId ?? BOOTSTRAP_ORG_ID,
          actor: "anonymous",
          action: AUDIT_AUTH_FAILED,
          target: known?.tokenId
            ? `${known.tokenId}: ${known.reason}`
            : (known?.reason ?? "malformed credentials"),
          sourceAddress: req.ip || "unknown",
          result: "denied",
          code: "UNAUTHENTICATED",
        })
        .catch((e: unknown) => log.warn({ err: e }, "could not record a failed authentication"));
    },
  };
}
