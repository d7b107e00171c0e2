// Per-caller rate limits: a token bucket per principal (API token) and per client IP, in memory.
// In memory because a limit only needs to be roughly right and must cost nothing per request;
// with many replicas each enforces its own share. Connections over the local unix socket are
// exempt: only root can open it, and a local script looping on `warren ls` should not be refused.
import { WarrenError } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { type Clock, systemClock } from "../clock.ts";
import { cameByRelay } from "../relay/relay-listener.ts";
import { isUnixSocket, LOCAL_PRINCIPAL, principalKey } from "./principal.ts";

export interface RateLimitOptions {
  /** Sustained requests per second per caller; 0 turns limits off. */
  ratePerSecond: number;
  /** Requests a caller may make at once before the rate applies. */
  burst: number;
  /**
   * Failed authentications per client IP per minute, after `authFailureBurst` (http/auth-failures.ts);
   * 0 turns that limit off. Separate from the request rate, and much lower: it bounds guessing.
   */
  authFailuresPerMinute?: number;
  authFailureBurst?: number;
  clock?: Clock;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { ratePerSecond: 50, burst: 100 };
export const DEFAULT_AUTH_FAILURES = { perMinute: 10, burst: 20 } as const;

/**
 * WARREN_RATE_LIMIT (requests/second, 0 = off) and WARREN_RATE_BURST; WARREN_AUTH_FAILURE_LIMIT
 * (failed authentications per IP per minute, 0 = off) and WARREN_AUTH_FAILURE_BURST; else the defaults.
 */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv = process.env): RateLimitOptions {
  const num = (v: string | undefined, fallback: number) => {
    const n = v === undefined || v === "" ? Number.NaN : Number(v);
    return Number.isFinite(n) && n >= 0 ? n : fallback;
  };
  const ratePerSecond = num(env["WARREN_RATE_LIMIT"], DEFAULT_RATE_LIMIT.ratePerSecond);
  const burst = num(env["WARREN_RATE_BURST"], Math.max(DEFAULT_RATE_LIMIT.burst, ratePerSecond * 2));
  const authFailuresPerMinute = num(env["WARREN_AUTH_FAILURE_LIMIT"], DEFAULT_AUTH_FAILURES.perMinute);
  const authFailureBurst = num(env["WARREN_AUTH_FAILURE_BURST"], DEFAULT_AUTH_FAILURES.burst);
  return {
    ratePerSecond,
    burst: Math.max(1, burst),
    authFailuresPerMinute,
    authFailureBurst: Math.max(1, authFailureBurst),
  };
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: Clock;
  constructor(o: RateLimitOptions) {
    this.#rate = o.ratePerSecond;
    this.#burst = o.burst;
    this.#clock = o.clock ?? systemClock;
  }
  /** Takes one token for `key`: 0 if allowed, else the seconds until one is available. */
  take(key: string): number {
    const b = this.#refill(key);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return this.#wait(b);
  }
  /** Like take() without taking: 0 if a token is available, else the seconds until one is. */
  peek(key: string): number {
    const b = this.#buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.#burst, b.tokens + ((this.#clock.now() - b.at) / 1000) * this.#rate);
    return tokens >= 1 ? 0 : this.#wait({ tokens, at: b.at });
  }
  #refill(key: string): Bucket {
    const now = this.#clock.now();
    const b = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    this.#buckets.set(key, b);
    if (this.#buckets.size > 10_000) this.#evictFull(now);
    return b;
  }
  #wait(b: Bucket): number {
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#rate));
  }
  // A bucket that has refilled is indistinguishable from a new one, so forgetting it is free.
  #evictFull(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#rate >= this.#burst) this.#buckets.delete(k);
    }
  }
}

export function installRateLimit(app: FastifyInstance, o: RateLimitOptions): void {
  if (o.ratePerSecond <= 0) return;
  const buckets = new TokenBuckets(o);
  // preParsing: after onRequest (where authentication attaches the principal), before the body
  // is read, so a refused request costs no parsing.
  app.addHook("preParsing", (req, reply, payload, done) => {
    if (isUnixSocket(req)) return done(null, payload);
    const principal = principalKey(req);
    // A relayed request's address is the relaying replica's, which already charged the client's own.
    const waits = cameByRelay(req.raw) ? [] : [buckets.take(`ip:${req.ip}`)];
    // Anonymous callers are already counted by their IP.
    if (req.principal?.kind && principal !== LOCAL_PRINCIPAL) waits.push(buckets.take(`token:${principal}`));
    const retryAfter = Math.max(...waits);
    if (retryAfter > 0) {
      void reply.header("retry-after", String(retryAfter));
      return done(
        new WarrenError("RATE_LIMITED", `too many requests; retry in ${retryAfter} s`, {
          retryAfterSeconds: retryAfter,
        }),
      );
    }
    done(null, payload);
  });
}
