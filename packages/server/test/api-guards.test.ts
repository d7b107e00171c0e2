// Idempotency-Key, JSON depth and body size bounds, and rate limits, in process via inject().
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { countRows, type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import type { Clock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { IDEMPOTENCY_TTL_MS } from "../src/http/idempotency.ts";
import { rateLimitFromEnv } from "../src/http/rate-limit.ts";
import { createImageService } from "../src/services/images.ts";
import { FakeClock } from "./fake-clock.ts";

let h: Harness | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await h?.close();
  app = undefined;
  h = undefined;
});

async function setup(o: { clock?: Clock; rateLimit?: { ratePerSecond: number; burst: number } } = {}) {
  h = await harness();
  app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: false,
    db: h.store.db,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
  });
  await app.ready();
  return { h, app };
}

const post = (a: FastifyInstance, key: string, payload: unknown, url = "/api/v1/environments?wait=0") =>
  a.inject({ method: "POST", url, payload: payload as object, headers: { "idempotency-key": key } });

test("the same key and body replays the first response; a different body is 422", async () => {
  const { h, app } = await setup();
  const first = await post(app, "k1", { name: "dev" });
  assert.equal(first.statusCode, 201);
  const again = await post(app, "k1", { name: "dev" });
  assert.equal(again.statusCode, 201, "the first status, not the 200 a plain retry would get");
  assert.equal(again.headers["idempotent-replayed"], "true");
  assert.deepEqual(again.json(), first.json());
  assert.equal(await countRows(h, "environments"), 1);

  const other = await post(app, "k1", { name: "other" });
  assert.equal(other.statusCode, 422);
  assert.equal(other.json().code, "IDEMPOTENCY_MISMATCH");
  const otherPath = await post(app, "k1", {}, "/api/v1/environments/dev/stop");
  assert.equal(otherPath.json().code, "IDEMPOTENCY_MISMATCH");
  assert.equal(await countRows(h, "environments"), 1);
});

test("errors are replayed too, and keys are per key", async () => {
  const { app } = await setup();
  const bad = await post(app, "k2", { name: "dev", className: "nope" });
  assert.equal(bad.statusCode, 404);
  const replay = await post(app, "k2", { name: "dev", className: "nope" });
  assert.equal(replay.statusCode, 404);
  assert.equal(replay.headers["idempotent-replayed"], "true");
  const fresh = await post(app, "k3", { name: "dev" });
  assert.equal(fresh.statusCode, 201);
});

test("a concurrent duplicate gets 409 while the first is in flight", async () => {
  const { h, app } = await setup();
  // Hold the first request inside the runner until the duplicate has been answered.
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const hasImage = h.runner.hasImage.bind(h.runner);
  h.runner.hasImage = async (ref: string) => {
    await gate;
    return hasImage(ref);
  };
  const first = post(app, "k4", { name: "dev" });
  await new Promise((r) => setTimeout(r, 50));
  const dup = await post(app, "k4", { name: "dev" });
  assert.equal(dup.statusCode, 409);
  assert.equal(dup.json().code, "IDEMPOTENCY_CONFLICT");
  release();
  assert.equal((await first).statusCode, 201);
  const after = await post(app, "k4", { name: "dev" });
  assert.equal(after.statusCode, 201);
  assert.equal(after.headers["idempotent-replayed"], "true");
});

test("keys expire after 24 hours", async () => {
  const clock = new FakeClock(Date.now());
  const { h, app } = await setup({ clock });
  assert.equal((await post(app, "k5", { name: "dev" })).statusCode, 201);
  await clock.advance(IDEMPOTENCY_TTL_MS + 1000);
  const later = await post(app, "k5", { name: "other" });
  assert.equal(later.statusCode, 201, "an expired key is free for a new request");
  assert.equal(await countRows(h, "environments"), 2);
  const n = await h.store.db
    .selectFrom("idempotency_keys")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  assert.equal(Number(n.n), 1);
});

test("JSON nested past the depth limit is 400; bodies over 1 MiB are 413", async () => {
  const { app } = await setup();
  let deep: unknown = "x";
  for (let i = 0; i < 40; i++) deep = { a: deep };
  const res = await app.inject({
    method: "POST",
    url: "/api/v1/environments",
    payload: { name: "dev", deep },
  });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().code, "INVALID_ARGUMENT");
  assert.match(res.json().message, /deeper than 32/);
  const big = await app.inject({
    method: "POST",
    url: "/api/v1/environments",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ name: "x".repeat(1024 * 1024 + 10) }),
  });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().code, "PAYLOAD_TOO_LARGE");
});

test("rate limits answer 429 with Retry-After and refill with time", async () => {
  const clock = new FakeClock(Date.now());
  const { app } = await setup({ clock, rateLimit: { ratePerSecond: 2, burst: 3 } });
  const get = () => app.inject({ method: "GET", url: "/api/v1/health" });
  for (let i = 0; i < 3; i++) assert.equal((await get()).statusCode, 200);
  const limited = await get();
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().code, "RATE_LIMITED");
  assert.equal(limited.headers["retry-after"], "1");
  await clock.advance(500);
  assert.equal((await get()).statusCode, 200, "half a second refills one token at 2/s");
  assert.equal((await get()).statusCode, 429);
  // Another client IP has its own bucket.
  const other = await app.inject({ method: "GET", url: "/api/v1/health", remoteAddress: "10.0.0.9" });
  assert.equal(other.statusCode, 200);
});

test("rate limits come from WARREN_RATE_LIMIT, WARREN_RATE_BURST and WARREN_AUTH_FAILURE_*", () => {
  assert.deepEqual(rateLimitFromEnv({ WARREN_RATE_LIMIT: "5", WARREN_RATE_BURST: "7" }), {
    ratePerSecond: 5,
    burst: 7,
    authFailuresPerMinute: 10,
    authFailureBurst: 20,
  });
  const strict = rateLimitFromEnv({ WARREN_AUTH_FAILURE_LIMIT: "3", WARREN_AUTH_FAILURE_BURST: "4" });
  assert.equal(strict.authFailuresPerMinute, 3);
  assert.equal(strict.authFailureBurst, 4);
  assert.equal(rateLimitFromEnv({ WARREN_RATE_LIMIT: "0" }).ratePerSecond, 0);
  assert.equal(rateLimitFromEnv({}).ratePerSecond, 50);
});
