// A runner token binds to the first host that uses it (runners/runner-identity.ts): another host
// presenting it is refused with a close reason that says to mint a new token, the bound host keeps
// using it, and of two hosts racing to bind one new token the store lets exactly one win.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { connectRunner, type RunnerConnection, type RunnerInfo } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { mintRunnerToken, startTlsServer, type TlsServer } from "@warren/testing/tls-server";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { upsertRunner } from "../src/store/queries/runners.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fake host with a fleet name and the host id it keeps in its state root. */
class HostRunner extends FakeRunner {
  readonly runnerName: string;
  readonly hostId: string | undefined;
  constructor(runnerName: string, hostId: string | undefined) {
    super();
    this.runnerName = runnerName;
    this.hostId = hostId;
  }
  override async info(): Promise<RunnerInfo> {
    return {
      ...(await super.info()),
      name: this.runnerName,
      ...(this.hostId ? { hostId: this.hostId } : {}),
    };
  }
}

async function dial(d: TlsServer, runner: FakeRunner, token: string): Promise<RunnerConnection> {
  const c = await connectRunner({ url: d.url, fingerprint: d.fingerprint, token }, runner);
  cleanups.push(() => c.close());
  return c;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const hostIdOf = async (d: TlsServer, id: string) =>
  (await d.store.db.selectFrom("runners").select("host_id").where("id", "=", id).executeTakeFirstOrThrow())
    .host_id;

test("a runner token serves the host that first used it; another host is refused and told to mint one", async () => {
  const d = await startTlsServer(cleanups);
  const t = await mintRunnerToken(d);
  const first = new HostRunner("build-01", "hostaaaa1111");
  const link = await dial(d, first, t.token);
  await link.ready;
  assert.equal(await hostIdOf(d, t.id), "hostaaaa1111", "bound at the first attach");
  link.close();
  await until("the first link is gone", () => d.hub.connected().length === 0);

  // The same token from another host (a leaked token, or one the autoscaler minted for one host).
  for (const other of [new HostRunner("build-02", "hostbbbb2222"), new HostRunner("build-01", undefined)]) {
    await assert.rejects(
      (await dial(d, other, t.token)).ready,
      /this runner token is already bound to host build-01; mint a new one with `warren admin runner-token create`/,
    );
    assert.equal(other.callsOf("sweep").length, 0, "refused before it was swept or sent anything");
  }
  assert.equal(d.hub.connected().length, 0);
  assert.equal(await hostIdOf(d, t.id), "hostaaaa1111", "the binding is unchanged");

  // The bound host comes back with it, and a new token serves the other host.
  await (await dial(d, first, t.token)).ready;
  const second = new HostRunner("build-02", "hostbbbb2222");
  const t2 = await mintRunnerToken(d);
  await (await dial(d, second, t2.token)).ready;
  assert.deepEqual(
    d.hub
      .connected()
      .map((c) => c.name)
      .sort(),
    ["build-01", "build-02"],
  );
});

test("two hosts racing to bind one token: the store's conditional write lets one win", async () => {
  const d = await startTlsServer(cleanups);
  const t = await mintRunnerToken(d);
  const base = await new FakeRunner().info();
  const write = (hostId: string | undefined) =>
    upsertRunner(d.store.db, {
      id: t.id,
      orgId: BOOTSTRAP_ORG_ID,
      info: { ...base, id: t.id, ...(hostId ? { hostId } : {}) },
      name: "race",
      imageRefs: [],
      replica: "rep",
      now: new Date().toISOString(),
    });
  assert.equal(await write("hostaaaa1111"), true, "the first host binds it");
  assert.equal(await write("hostbbbb2222"), false, "a second host's write is refused");
  assert.equal(await write(undefined), false, "so is one without a host id");
  assert.equal(await hostIdOf(d, t.id), "hostaaaa1111");
  assert.equal(await write("hostaaaa1111"), true, "the bound host keeps writing its row");
});
