// Every service method takes an explicit actor (services/actor.ts), and scoping fails closed
// (services/scope.ts): a call without one is refused with NoActorError and changes nothing; a
// runner sees nothing through the services; only the system sees every organisation.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { DEFAULT_IMAGE, isWarrenError } from "@warren/protocol";
import { type Harness, harness, ROOT } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { silentLogger } from "../src/logger.ts";
import { type Actor, NoActorError, type RunnerActor, requireActor, system } from "../src/services/actor.ts";
import { createAuditService } from "../src/services/audit.ts";
import { createHostService } from "../src/services/host.ts";
import { type Caller, createIdentityService } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createQuotaService } from "../src/services/quotas.ts";
import { createRegistryLoginService } from "../src/services/registry-logins.ts";
import { secretBox } from "../src/services/registry-secrets.ts";
import { oneRunner } from "../src/services/runner-for.ts";
import { createSecretService } from "../src/services/secrets.ts";
import { createEnvWatchService } from "../src/services/watch.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function world() {
  h = await harness();
  const db = h.store.db;
  const clock = systemClock;
  const registries = createRegistryLoginService({ db, clock, secrets: secretBox(h.dir) });
  const svc = {
    envs: h.envs,
    classes: h.classes,
    registries,
    images: createImageService({ runner: h.runner, logins: registries, db, clock }),
    secrets: createSecretService({ db, clock, root: h.dir }),
    quotas: createQuotaService({ db, clock }),
    audit: createAuditService({ db, clock }),
    identity: createIdentityService({ db, clock }),
    host: createHostService({ runnerFor: oneRunner(h.runner) }),
    watch: createEnvWatchService({ db, changes: h.changes, clock, logger: silentLogger }),
  };
  return { h, db, svc };
}

/** Every service method, called as `a` with harmless arguments. */
function calls(s: Awaited<ReturnType<typeof world>>["svc"], a: Actor): [string, () => Promise<unknown>][] {
  const noop = () => {};
  return [
    ["envs.list", () => s.envs.list(a)],
    ["envs.page", () => s.envs.page(a, {})],
    ["envs.get", () => s.envs.get(a, "dev")],
    ["envs.find", () => s.envs.find(a, "dev")],
    ["envs.create", () => s.envs.create(a, { name: "intruder" }, { wait: false })],
    ["envs.start", () => s.envs.start(a, "dev")],
    ["envs.stop", () => s.envs.stop(a, "dev", 0)],
    ["envs.delete", () => s.envs.delete(a, "dev", true)],
    ["envs.setResources", () => s.envs.setResources(a, "dev", { cpus: 1 })],
    ["envs.stats", () => s.envs.stats(a, "dev")],
    ["envs.statsAll", () => s.envs.statsAll(a)],
    ["envs.logs", () => s.envs.logs(a, "dev", { follow: false }, noop)],
    [
      "envs.exec",
      () => s.envs.exec(a, "dev", { cmd: ["true"], tty: false }, { stdout: noop, stderr: noop, exit: noop }),
    ],
    ["classes.list", () => s.classes.list(a)],
    ["classes.create", () => s.classes.create(a, { name: "intruder", cpus: 1, memory: "1g", disk: "1g" })],
    ["classes.delete", () => s.classes.delete(a, "small")],
    ["images.list", () => s.images.list(a)],
    ["images.pull", () => s.images.pull(a, "reg.example/x:1", noop)],
    ["images.import", () => s.images.import(a, "/tmp/x.tar", "x:1", noop)],
    ["images.ensureBase", () => s.images.ensureBase(a, undefined, noop)],
    ["images.remove", () => s.images.remove(a, DEFAULT_IMAGE)],
    ["images.prune", () => s.images.prune(a)],
    ["images.ensureForEnv", () => s.images.ensureForEnv(a, DEFAULT_IMAGE)],
    ["registries.list", () => s.registries.list(a)],
    ["registries.login", () => s.registries.login(a, "reg.example", "u", "p")],
    ["registries.logout", () => s.registries.logout(a, "reg.example")],
    ["registries.credentialFor", () => s.registries.credentialFor(a, "reg.example")],
    ["secrets.set", () => s.secrets.set(a, "org", "X", { value: "intruder", kind: "env" })],
    ["secrets.list", () => s.secrets.list(a)],
    ["secrets.remove", () => s.secrets.remove(a, "org", "ORG_SECRET")],
    ["secrets.forEnv", () => s.secrets.forEnv(a, BOOTSTRAP_ORG_ID, "usr_x")],
    ["secrets.knownValues", () => s.secrets.knownValues(a, { orgId: BOOTSTRAP_ORG_ID, ownerId: "usr_x" })],
    ["secrets.rotateKey", () => s.secrets.rotateKey(a)],
    ["quotas.get", () => s.quotas.get(a, BOOTSTRAP_ORG_ID)],
    ["quotas.set", () => s.quotas.set(a, BOOTSTRAP_ORG_ID, { cpus: 1 })],
    ["audit.list", () => s.audit.list(a, {})],
    ["audit.sweep", () => s.audit.sweep(a)],
    ["identity.whoami", () => s.identity.whoami(a as Caller)],
    ["identity.createToken", () => s.identity.createToken(a as Caller, { name: "intruder" })],
    ["identity.createRunnerToken", () => s.identity.createRunnerToken(a as Caller, { name: "intruder" })],
    ["identity.listTokens", () => s.identity.listTokens(a as Caller)],
    ["identity.revokeToken", () => s.identity.revokeToken(a as Caller, "tok_x")],
    ["identity.listMembers", () => s.identity.listMembers(a as Caller, BOOTSTRAP_ORG_ID)],
    [
      "identity.addMember",
      () => s.identity.addMember(a as Caller, BOOTSTRAP_ORG_ID, { name: "x", role: "owner" }),
    ],
    ["identity.removeMember", () => s.identity.removeMember(a as Caller, BOOTSTRAP_ORG_ID, "x")],
    ["host.info", () => s.host.info(a)],
    ["host.dnsStats", () => s.host.dnsStats(a)],
    ["watch.snapshot", () => s.watch.snapshot(a)],
    ["watch.changesAfter", () => s.watch.changesAfter(a, 0)],
  ];
}

/** Every row a refused call could have written. */
async function everything(db: Harness["store"]["db"]): Promise<string> {
  const tables = [
    "environments",
    "classes",
    "secrets",
    "registry_credentials",
    "api_tokens",
    "memberships",
    "org_quotas",
    "users",
    "audit_records",
  ] as const;
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = await db.selectFrom(t).selectAll().execute();
  return JSON.stringify(out);
}

test("every service method refuses a call without an actor, and nothing changes", async () => {
  const { db, svc } = await world();
  await svc.envs.create(ROOT, { name: "dev" });
  await svc.secrets.set(ROOT, "org", "ORG_SECRET", { value: "org-secret-1", kind: "env" });
  const before = await everything(db);
  const runnerCalls = h!.runner.calls.length;
  for (const missing of [undefined, null, {}, { kind: "user" }, { kind: "system", job: "" }]) {
    for (const [name, call] of calls(svc, missing as unknown as Actor)) {
      await assert.rejects(
        // Some refuse synchronously (image pulls check their input before any stream starts).
        async () => call(),
        (err: unknown) => {
          assert.ok(err instanceof NoActorError, `${name} with ${JSON.stringify(missing)}: ${String(err)}`);
          assert.ok(isWarrenError(err, "UNAUTHENTICATED"));
          return true;
        },
      );
    }
  }
  assert.equal(await everything(db), before, "a refused call wrote nothing");
  assert.equal(h!.runner.calls.length, runnerCalls, "and reached no runner");
});

test("a runner sees nothing and changes nothing through the services", async () => {
  const { db, svc } = await world();
  await svc.envs.create(ROOT, { name: "dev" });
  const runner: RunnerActor = { kind: "runner", orgId: BOOTSTRAP_ORG_ID, tokenId: "tok_runner" };
  assert.deepEqual(await svc.envs.list(runner), []);
  assert.deepEqual((await svc.envs.page(runner, {})).items, []);
  assert.deepEqual(await svc.envs.statsAll(runner), []);
  await assert.rejects(svc.envs.get(runner, "dev"), (e) => isWarrenError(e, "ENV_NOT_FOUND"));
  await assert.rejects(
    svc.envs.exec(
      runner,
      "dev",
      { cmd: ["id"], tty: false },
      {
        stdout: () => {},
        stderr: () => {},
        exit: () => {},
      },
    ),
    (e) => isWarrenError(e, "ENV_NOT_FOUND"),
  );
  const before = await everything(db);
  for (const write of [
    () => svc.envs.create(runner, { name: "from-runner" }, { wait: false }),
    () => svc.envs.delete(runner, "dev", true),
    () => svc.classes.create(runner, { name: "rclass", cpus: 1, memory: "1g", disk: "1g" }),
    () => svc.secrets.set(runner, "user", "R", { value: "runner-1", kind: "env" }),
    () => svc.secrets.knownValues(runner, { orgId: BOOTSTRAP_ORG_ID, ownerId: "usr_x" }),
    () => svc.registries.login(runner, "reg.example", "u", "p"),
    () => svc.quotas.set(runner, BOOTSTRAP_ORG_ID, { cpus: 1 }),
    () => svc.identity.createToken(runner as unknown as Caller, { name: "r" }),
  ]) {
    await assert.rejects(write(), (e) => isWarrenError(e, "FORBIDDEN") || isWarrenError(e, "ENV_NOT_FOUND"));
  }
  assert.equal(await everything(db), before);
});

test("only the system sees every organisation; a user sees only their own", async () => {
  const { db, svc } = await world();
  await db.insertInto("orgs").values({ id: "org_b", name: "b", created_at: "t" }).execute();
  const bAdmin: Caller = { kind: "user", userId: "usr_b", orgId: "org_b", role: "admin", via: "token" };
  await svc.envs.create(ROOT, { name: "root-env" });
  await svc.envs.create(bAdmin, { name: "b-env" });
  const names = async (a: Actor) => (await svc.envs.list(a)).map((e) => e.name).sort();
  assert.deepEqual(await names(ROOT), ["root-env"]);
  assert.deepEqual(await names(bAdmin), ["b-env"]);
  assert.deepEqual(await names(system("controller")), ["b-env", "root-env"]);
  assert.deepEqual((await svc.envs.page(system("resync"), {})).items.map((e) => e.name).sort(), [
    "b-env",
    "root-env",
  ]);
  // Secrets decrypt for the system only, whatever the user's role.
  await assert.rejects(svc.secrets.knownValues(ROOT, { orgId: BOOTSTRAP_ORG_ID, ownerId: "usr_x" }), (e) =>
    isWarrenError(e, "FORBIDDEN"),
  );
  assert.deepEqual(
    await svc.secrets.knownValues(system("secret-delivery"), { orgId: BOOTSTRAP_ORG_ID, ownerId: "usr_x" }),
    [],
  );
});

test("system actors are named for their job, and requireActor checks the shape", () => {
  const a = system("controller");
  assert.deepEqual(a, { kind: "system", job: "controller" });
  assert.ok(Object.isFrozen(a));
  assert.throws(() => system(""), /named for its job/);
  assert.equal(requireActor(ROOT), ROOT);
  assert.throws(() => requireActor({ kind: "admin" } as unknown as Actor), NoActorError);
  assert.throws(() => requireActor({ kind: "runner", orgId: "" } as unknown as Actor), NoActorError);
});
