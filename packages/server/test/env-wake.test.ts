// services/env-wake.ts against the real services, store and controller with the fake runner:
// a stopped environment is started and waited for; the wait is bounded (60 s by default, on an
// injected clock here); what the caller may not see is ENV_NOT_FOUND and nothing starts; what
// they may see but not start gets start's own refusal.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import type { EnvObserved, RunnerEnvSpec } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { type Harness, harness, ROOT } from "@warren/testing/server-harness";
import { type Clock, systemClock } from "../src/clock.ts";
import type { Actor } from "../src/services/actor.ts";
import { createEnvWaker, WAKE_TIMEOUT_MS } from "../src/services/env-wake.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { getEnvByName } from "../src/store/queries/envs.ts";
import { FakeClock, flush } from "./fake-clock.ts";

let h: Harness | undefined;
const release: (() => void)[] = [];
afterEach(async () => {
  for (const r of release.splice(0)) r();
  await h?.close();
  h = undefined;
});

const waker = (hh: Harness, clock: Clock = systemClock) =>
  createEnvWaker({ envs: hh.envs, settle: { db: hh.store.db, changes: hh.changes, clock, pollMs: 50 } });

const row = async (hh: Harness, name: string) => (await getEnvByName(hh.store.db, name, BOOTSTRAP_ORG_ID))!;

test("a stopped environment is started, durably first, and the wake resolves once it runs", async () => {
  h = await harness();
  const { env } = await h.envs.create(ROOT, { name: "dev" });
  await h.envs.stop(ROOT, "dev", 0);
  let waited: string | undefined;
  const got = await waker(h).wake(ROOT, "dev", { onWait: (e) => (waited = e.state) });
  assert.deepEqual(got, { id: env.id, name: "dev", orgId: BOOTSTRAP_ORG_ID });
  assert.equal(waited, "stopped", "the caller was told it had to wait");
  const r = await row(h, "dev");
  assert.deepEqual([r.desired, r.state], ["running", "running"]);
  assert.equal(h.runner.callsOf("ensureRunning").length, 2, "created, then started once more");

  // Running already: nothing is asked of the runner, and nobody is told to wait.
  let told = false;
  await waker(h).wake(ROOT, env.id, { onWait: () => (told = true) });
  assert.equal(told, false);
  assert.equal(h.runner.callsOf("ensureRunning").length, 2);
});

/** A runner whose starts hang until the test lets them go. */
class SlowRunner extends FakeRunner {
  hold = false;
  override async ensureRunning(spec: RunnerEnvSpec): Promise<EnvObserved> {
    if (this.hold) await new Promise<void>((r) => release.push(r));
    return super.ensureRunning(spec);
  }
}

test("a start that does not finish within the bound (60 s by default) is a TIMEOUT that says what to do", async () => {
  const runner = new SlowRunner();
  h = await harness({ runner });
  await h.envs.create(ROOT, { name: "slow" });
  await h.envs.stop(ROOT, "slow", 0);
  runner.hold = true;
  const clock = new FakeClock(Date.now());
  const woken = waker(h, clock).wake(ROOT, "slow");
  let outcome: unknown;
  woken.then(
    () => (outcome = "resolved"),
    (err: unknown) => (outcome = err),
  );
  // Just short of the bound it still waits; past it, it gives up.
  for (let t = 0; t < WAKE_TIMEOUT_MS - 1000; t += 1000) await clock.advance(1000);
  await flush();
  assert.equal(outcome, undefined, "gave up before the bound");
  for (let t = 0; t < 2000 && outcome === undefined; t += 500) await clock.advance(500);
  await flush();
  // Widened again: the assertion above narrowed the variable itself to undefined.
  const err = outcome as unknown;
  assert.ok(err instanceof Error, `expected a TIMEOUT, got ${String(err)}`);
  assert.equal((err as { code?: string }).code, "TIMEOUT");
  assert.match(err.message, /^environment slow did not become ready within 60 s; see `warren logs slow`/);
  // The intent stays: it keeps starting in the background.
  assert.equal((await row(h, "slow")).desired, "running");
});

test("a smaller bound per call is honoured", async () => {
  const runner = new SlowRunner();
  h = await harness({ runner });
  await h.envs.create(ROOT, { name: "slow" });
  await h.envs.stop(ROOT, "slow", 0);
  runner.hold = true;
  const t0 = Date.now();
  await assert.rejects(waker(h).wake(ROOT, "slow", { timeoutMs: 1000 }), /did not become ready within 1 s/);
  assert.ok(Date.now() - t0 < 5000);
});

test("one the caller may not see is ENV_NOT_FOUND, like an unknown one, and is not started", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "dev" });
  await h.envs.stop(ROOT, "dev", 0);
  const stranger: Actor = { kind: "user", userId: "usr_x", orgId: "org_other", role: "owner", via: "token" };
  // Same organisation, but a member who does not own it.
  const peer: Actor = {
    kind: "user",
    userId: "usr_peer",
    orgId: BOOTSTRAP_ORG_ID,
    role: "member",
    via: "token",
  };
  const runnerActor: Actor = { kind: "runner", orgId: BOOTSTRAP_ORG_ID, tokenId: "tok_r" };
  const w = waker(h);
  const unknown = await w.wake(stranger, "nope").catch((e: Error) => e);
  for (const who of [stranger, peer, runnerActor]) {
    const err = await w.wake(who, "dev").catch((e: Error) => e);
    assert.equal((err as { code?: string }).code, "ENV_NOT_FOUND", who.kind);
    assert.equal((err as Error).message.replace("dev", "X"), (unknown as Error).message.replace("nope", "X"));
  }
  const r = await row(h, "dev");
  assert.deepEqual([r.desired, r.state], ["stopped", "stopped"], "nothing was started for them");
});

test("one the caller may see but not start gets start's own refusal, and stays stopped", async () => {
  h = await harness();
  await h.envs.create(ROOT, { name: "a" });
  await h.envs.create(ROOT, { name: "b" });
  await h.envs.stop(ROOT, "b", 0);
  await h.store.db
    .insertInto("org_quotas")
    .values({
      org_id: BOOTSTRAP_ORG_ID,
      cpus: null,
      memory_bytes: null,
      disk_bytes: null,
      user_max_running: 1,
      updated_at: new Date().toISOString(),
    })
    .execute();
  await assert.rejects(waker(h).wake(ROOT, "b"), (err: { code?: string }) => err.code === "QUOTA_EXCEEDED");
  assert.equal((await row(h, "b")).desired, "stopped");
});
