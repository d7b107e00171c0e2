// Secrets: scoped, encrypted at rest, write-only through the API, delivered only in
// ensureRunning's spec, masked in logs, and still readable after `warren admin rotate-key`.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, test } from "node:test";
import type { RunnerEnvSpec } from "@warren/protocol";
import { ROOT, SYSTEM } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { runnerSpec } from "../src/controllers/environment/act.ts";
import type { Caller } from "../src/services/identity.ts";
import { keyFile } from "../src/services/registry-secrets.ts";
import { MASK, withSecrets } from "../src/services/secret-delivery.ts";
import { createSecretService, SECRETS_KEY, type SecretService } from "../src/services/secrets.ts";
import { storeFile } from "../src/store/db.ts";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../src/store/migrations/005_identity.ts";
import { getEnvById } from "../src/store/queries/envs.ts";
import { closeWorld, FILE_VALUE, LOGIN_PASSWORD, member, ORG_VALUE, put, setup } from "./secrets-world.ts";

afterEach(closeWorld);

test("a written value is never returned: PUT, GET and DELETE answer names, scopes and kinds", async () => {
  const { app } = await setup();
  const a = await put(app, "org", "API_TOKEN", { value: ORG_VALUE, kind: "env" });
  assert.equal(a.statusCode, 200, a.body);
  assert.ok(!a.body.includes(ORG_VALUE));
  const b = await put(app, "user", "id_key", { value: FILE_VALUE, kind: "file" });
  assert.equal(b.statusCode, 200, b.body);
  assert.equal(b.json().path, "/run/secrets/id_key");
  const list = await app.inject({ method: "GET", url: "/api/v1/secrets" });
  assert.equal(list.statusCode, 200);
  assert.ok(!list.body.includes(ORG_VALUE) && !list.body.includes(FILE_VALUE));
  const items = list.json().items as Array<Record<string, unknown>>;
  assert.deepEqual(
    items.map((i) => [i.name, i.scope, i.kind]),
    [
      ["API_TOKEN", "org", "env"],
      ["id_key", "user", "file"],
    ],
  );
  for (const i of items) assert.equal("value" in i, false);
  // Paths of the kernel or Warren, bad names and env paths are refused.
  assert.equal(
    (await put(app, "user", "X", { value: "v", kind: "file", path: "/proc/self/environ" })).statusCode,
    400,
  );
  assert.equal((await put(app, "user", "1X", { value: "v", kind: "env" })).statusCode, 400);
  assert.equal((await put(app, "project", "X", { value: "v", kind: "env" })).statusCode, 400);
  const del = await app.inject({ method: "DELETE", url: "/api/v1/secrets/org/API_TOKEN" });
  assert.deepEqual(del.json(), { removed: true });
});

test("file secrets: dashed and dotted names, any path but the kernel's and Warren's, delivered as set", async () => {
  const { app, secrets } = await setup();
  const a = await put(app, "user", "app-config.v2", {
    value: "cfg",
    kind: "file",
    path: "/etc/app/app.conf",
  });
  assert.equal(a.statusCode, 200, a.body);
  assert.equal(a.json().path, "/etc/app/app.conf");
  const b = await put(app, "user", "tls-key", { value: "key", kind: "file" });
  assert.equal(b.json().path, "/run/secrets/tls-key", b.body);
  const delivered = await secrets.forEnv(SYSTEM, BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID);
  assert.deepEqual(
    delivered.map((d) => [d.name, d.path]),
    [
      ["app-config.v2", "/etc/app/app.conf"],
      ["tls-key", "/run/secrets/tls-key"],
    ],
  );
  const refused = async (name: string, body: Record<string, unknown>, field: string, why: RegExp) => {
    const r = await put(app, "user", name, { value: "v", ...body });
    assert.equal(r.statusCode, 400, r.body);
    assert.equal(r.json().details?.field, field, r.body);
    assert.match(r.json().message, why);
  };
  await refused("ws", { kind: "file", path: "/workspaces/x/.env" }, "path", /\/workspaces belongs to Warren/);
  await refused("rs", { kind: "file", path: "/etc/resolv.conf" }, "path", /belongs to Warren/);
  await refused("dv", { kind: "file", path: "/dev/shm/x" }, "path", /belongs to the kernel/);
  await refused("up", { kind: "file", path: "/etc/../proc/x" }, "path", /no '\.\.'/);
  await refused("tls-key", { kind: "env" }, "name", /shell variable name.*--file/);
  await refused(".hidden", { kind: "file" }, "name", /a file secret's name/);
  const del = await app.inject({ method: "DELETE", url: "/api/v1/secrets/user/app-config.v2" });
  assert.deepEqual(del.json(), { removed: true });
});

test("scopes: members write only their own user secrets and see no one else's", async () => {
  const { secrets } = await setup();
  await assert.rejects(secrets.set(member("u-alice"), "org", "X", { value: "v", kind: "env" }), /admin/i);
  await assert.rejects(
    secrets.set(member("u-alice"), "project", "X", { value: "v", kind: "env", project: "https://git/x" }),
    /admin/i,
  );
  await secrets.set(member("u-alice"), "user", "A_ONLY", { value: "alice-1234", kind: "env" });
  await secrets.set(member("u-bob"), "user", "B_ONLY", { value: "bob-5678", kind: "env" });
  await secrets.set(ROOT, "org", "SHARED", { value: "shared-9999", kind: "env" });
  await secrets.set(ROOT, "project", "P", { value: "proj-0000", kind: "env", project: "https://git/x" });
  const names = async (c: Caller) => (await secrets.list(c)).map((s) => s.name).sort();
  assert.deepEqual(await names(member("u-alice")), ["A_ONLY", "P", "SHARED"]);
  assert.deepEqual(await names(member("u-bob")), ["B_ONLY", "P", "SHARED"]);
  const forAlice = await secrets.forEnv(SYSTEM, BOOTSTRAP_ORG_ID, "u-alice");
  assert.deepEqual(forAlice.map((s) => [s.name, s.value]).sort(), [
    ["A_ONLY", "alice-1234"],
    ["SHARED", "shared-9999"],
  ]);
  // Project secrets reach an environment only when it names the project.
  const withProject = await secrets.forEnv(SYSTEM, BOOTSTRAP_ORG_ID, "u-alice", "https://git/x");
  assert.ok(withProject.some((s) => s.name === "P"));
  // A user secret overrides an organisation secret of the same name.
  await secrets.set(ROOT, "user", "SHARED", { value: "mine-1111", kind: "env" });
  const mine = await secrets.forEnv(SYSTEM, BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID);
  assert.deepEqual(
    mine.filter((s) => s.name === "SHARED").map((s) => s.value),
    ["mine-1111"],
  );
});

test("delivery: only ensureRunning carries the secrets; logs and events are masked", async () => {
  const { h, secrets } = await setup();
  await secrets.set(ROOT, "org", "API_TOKEN", { value: ORG_VALUE, kind: "env" });
  await secrets.set(ROOT, "user", "id_key", { value: FILE_VALUE, kind: "file" });
  const { env } = await h.envs.create(ROOT, { name: "dev" });
  const row = await getEnvById(h.store.db, env.id);
  assert.ok(row);
  const runner = withSecrets(h.runner, { db: h.store.db, secrets });
  h.runner.calls.length = 0;
  await runner.ensureRunning(runnerSpec(row));
  await runner.ensureStopped(
    { ...runnerSpec(row), secrets: [{ name: "X", kind: "env", value: "leak" }] },
    10,
  );
  const [started] = h.runner.callsOf("ensureRunning")[0] as [RunnerEnvSpec];
  assert.deepEqual(
    started.secrets?.map((s) => [s.name, s.kind, s.path, s.value]),
    [
      ["API_TOKEN", "env", undefined, ORG_VALUE],
      ["id_key", "file", "/run/secrets/id_key", FILE_VALUE],
    ],
  );
  const [stopped] = h.runner.callsOf("ensureStopped")[0] as [RunnerEnvSpec];
  assert.equal(stopped.secrets, undefined);
  await runner.appendEvent(env.id, `oops ${ORG_VALUE} printed`);
  assert.ok(h.runner.events.get(env.id)?.some((m) => m === `oops ${MASK} printed`));
  h.runner.logLines.set(env.id, `the file says ${FILE_VALUE}\n`);
  let out = "";
  const s = runner.logs(env.id, { follow: false }, (c) => {
    out += c;
  });
  await s.done;
  assert.equal(out, `the file says ${MASK}\n`);
});

async function noPlaintext(dir: string, values: string[]): Promise<void> {
  for (const f of [storeFile(dir), `${storeFile(dir)}-wal`]) {
    const bytes = await fs.readFile(f).catch(() => Buffer.alloc(0));
    for (const v of values) assert.equal(bytes.includes(Buffer.from(v)), false, `${v} found in ${f}`);
  }
}

test("rotate-key: new key files, every row re-encrypted, values still delivered, no plaintext at rest", async () => {
  const { h, secrets, registries } = await setup();
  await secrets.set(ROOT, "org", "API_TOKEN", { value: ORG_VALUE, kind: "env" });
  await secrets.set(ROOT, "user", "id_key", { value: FILE_VALUE, kind: "file" });
  await registries.login(ROOT, "reg.example", "dev", LOGIN_PASSWORD);
  await noPlaintext(h.dir, [ORG_VALUE, FILE_VALUE, LOGIN_PASSWORD]);
  const secFile = keyFile(h.dir, SECRETS_KEY);
  const before = [await fs.readFile(secFile), await fs.readFile(keyFile(h.dir))];
  assert.equal((await fs.stat(secFile)).mode & 0o777, 0o600);
  const sealedBefore = await h.store.db.selectFrom("secrets").select("secret").execute();

  const counts = await secrets.rotateKey(ROOT);
  assert.deepEqual(counts, { secrets: 2, registryLogins: 1 });
  const after = [await fs.readFile(secFile), await fs.readFile(keyFile(h.dir))];
  assert.notDeepEqual(after[0], before[0]);
  assert.notDeepEqual(after[1], before[1]);
  assert.equal((await fs.stat(secFile)).mode & 0o777, 0o600);
  const left = await fs.readdir(path.dirname(secFile));
  assert.deepEqual(left.sort(), ["registry.key", "secrets.key"]);
  const sealedAfter = await h.store.db.selectFrom("secrets").select("secret").execute();
  for (const r of sealedAfter) assert.ok(!sealedBefore.some((b) => b.secret === r.secret));

  const values = (await secrets.forEnv(SYSTEM, BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID))
    .map((s) => s.value)
    .sort();
  assert.deepEqual(values, [FILE_VALUE, ORG_VALUE].sort());
  assert.equal((await registries.credentialFor(ROOT, "reg.example"))?.password, LOGIN_PASSWORD);
  // A fresh service (a restarted daemon) reads them under the new key too.
  const fresh = createSecretService({ db: h.store.db, clock: systemClock, root: h.dir });
  assert.equal((await fresh.forEnv(SYSTEM, BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID)).length, 2);
  await noPlaintext(h.dir, [ORG_VALUE, FILE_VALUE, LOGIN_PASSWORD]);
});

test("members cannot rotate the keys", async () => {
  const { secrets } = await setup();
  await assert.rejects(secrets.rotateKey(member("u-alice")), /owner/i);
  void (secrets as SecretService);
});

// --- Projects (migration 012): environments carry a repository URL, and project secrets reach it.
