// Secrets: scoped, encrypted at rest, write-only through the API, delivered only in
// ensureRunning's spec, masked in logs, and still readable after `warren admin rotate-key`.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, test } from "node:test";
import type { RunnerEnvSpec } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { runnerSpec } from "../src/controllers/environment/act.ts";
import { build } from "../src/http/build.ts";
import { type Caller, runAs } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createRegistryLoginService } from "../src/services/registry-logins.ts";
import { keyFile, secretBox } from "../src/services/registry-secrets.ts";
import { MASK, withSecrets } from "../src/services/secret-delivery.ts";
import { createSecretService, SECRETS_KEY, type SecretService } from "../src/services/secrets.ts";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../src/store/migrations/005_identity.ts";
import { getEnvById } from "../src/store/queries/envs.ts";
import { type Harness, harness } from "./helpers.ts";

let h: Harness | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await h?.close();
  app = h = undefined;
});

const ORG_VALUE = "org-value-7c1f9a2e-plaintext";
const FILE_VALUE = "file-value-0b44d1aa-plaintext";
const LOGIN_PASSWORD = "registry-pass-55aa0e1c";

const member = (userId: string): Caller => ({
  kind: "user",
  userId,
  orgId: BOOTSTRAP_ORG_ID,
  role: "member",
  via: "token",
});

async function setup() {
  h = await harness();
  const registryBox = secretBox(h.dir);
  const secrets = createSecretService({ db: h.store.db, clock: systemClock, root: h.dir, registryBox });
  const registries = createRegistryLoginService({ db: h.store.db, clock: systemClock, secrets: registryBox });
  app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner, logins: registries }),
    registries,
    runner: h.runner,
    secrets,
    logger: false,
  });
  return { h, app, secrets, registries };
}

async function put(a: FastifyInstance, scope: string, name: string, payload: Record<string, unknown>) {
  return a.inject({ method: "PUT", url: `/api/v1/secrets/${scope}/${name}`, payload });
}

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
  // Paths outside the tmpfs, bad names and env paths are refused.
  assert.equal(
    (await put(app, "user", "X", { value: "v", kind: "file", path: "/etc/passwd" })).statusCode,
    400,
  );
  assert.equal((await put(app, "user", "1X", { value: "v", kind: "env" })).statusCode, 400);
  assert.equal((await put(app, "project", "X", { value: "v", kind: "env" })).statusCode, 400);
  const del = await app.inject({ method: "DELETE", url: "/api/v1/secrets/org/API_TOKEN" });
  assert.deepEqual(del.json(), { removed: true });
});

test("scopes: members write only their own user secrets and see no one else's", async () => {
  const { secrets } = await setup();
  await runAs(member("u-alice"), () =>
    assert.rejects(secrets.set("org", "X", { value: "v", kind: "env" }), /admin/i),
  );
  await runAs(member("u-alice"), () =>
    assert.rejects(
      secrets.set("project", "X", { value: "v", kind: "env", project: "https://git/x" }),
      /admin/i,
    ),
  );
  await runAs(member("u-alice"), () => secrets.set("user", "A_ONLY", { value: "alice-1234", kind: "env" }));
  await runAs(member("u-bob"), () => secrets.set("user", "B_ONLY", { value: "bob-5678", kind: "env" }));
  await secrets.set("org", "SHARED", { value: "shared-9999", kind: "env" });
  await secrets.set("project", "P", { value: "proj-0000", kind: "env", project: "https://git/x" });
  const names = async (c: Caller) => (await runAs(c, () => secrets.list())).map((s) => s.name).sort();
  assert.deepEqual(await names(member("u-alice")), ["A_ONLY", "P", "SHARED"]);
  assert.deepEqual(await names(member("u-bob")), ["B_ONLY", "P", "SHARED"]);
  const forAlice = await secrets.forEnv(BOOTSTRAP_ORG_ID, "u-alice");
  assert.deepEqual(forAlice.map((s) => [s.name, s.value]).sort(), [
    ["A_ONLY", "alice-1234"],
    ["SHARED", "shared-9999"],
  ]);
  // Project secrets reach an environment only when it names the project.
  const withProject = await secrets.forEnv(BOOTSTRAP_ORG_ID, "u-alice", "https://git/x");
  assert.ok(withProject.some((s) => s.name === "P"));
  // A user secret overrides an organisation secret of the same name.
  await secrets.set("user", "SHARED", { value: "mine-1111", kind: "env" });
  const mine = await secrets.forEnv(BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID);
  assert.deepEqual(
    mine.filter((s) => s.name === "SHARED").map((s) => s.value),
    ["mine-1111"],
  );
});

test("delivery: only ensureRunning carries the secrets; logs and events are masked", async () => {
  const { h, secrets } = await setup();
  await secrets.set("org", "API_TOKEN", { value: ORG_VALUE, kind: "env" });
  await secrets.set("user", "id_key", { value: FILE_VALUE, kind: "file" });
  const { env } = await h.envs.create({ name: "dev" });
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
  for (const f of ["warren.db", "warren.db-wal"]) {
    const bytes = await fs.readFile(path.join(dir, f)).catch(() => Buffer.alloc(0));
    for (const v of values) assert.equal(bytes.includes(Buffer.from(v)), false, `${v} found in ${f}`);
  }
}

test("rotate-key: new key files, every row re-encrypted, values still delivered, no plaintext at rest", async () => {
  const { h, secrets, registries } = await setup();
  await secrets.set("org", "API_TOKEN", { value: ORG_VALUE, kind: "env" });
  await secrets.set("user", "id_key", { value: FILE_VALUE, kind: "file" });
  await registries.login("reg.example", "dev", LOGIN_PASSWORD);
  await noPlaintext(h.dir, [ORG_VALUE, FILE_VALUE, LOGIN_PASSWORD]);
  const secFile = keyFile(h.dir, SECRETS_KEY);
  const before = [await fs.readFile(secFile), await fs.readFile(keyFile(h.dir))];
  assert.equal((await fs.stat(secFile)).mode & 0o777, 0o600);
  const sealedBefore = await h.store.db.selectFrom("secrets").select("secret").execute();

  const counts = await secrets.rotateKey();
  assert.deepEqual(counts, { secrets: 2, registryLogins: 1 });
  const after = [await fs.readFile(secFile), await fs.readFile(keyFile(h.dir))];
  assert.notDeepEqual(after[0], before[0]);
  assert.notDeepEqual(after[1], before[1]);
  assert.equal((await fs.stat(secFile)).mode & 0o777, 0o600);
  const left = await fs.readdir(path.dirname(secFile));
  assert.deepEqual(left.sort(), ["registry.key", "secrets.key"]);
  const sealedAfter = await h.store.db.selectFrom("secrets").select("secret").execute();
  for (const r of sealedAfter) assert.ok(!sealedBefore.some((b) => b.secret === r.secret));

  const values = (await secrets.forEnv(BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID)).map((s) => s.value).sort();
  assert.deepEqual(values, [FILE_VALUE, ORG_VALUE].sort());
  assert.equal((await registries.credentialFor("reg.example"))?.password, LOGIN_PASSWORD);
  // A fresh service (a restarted daemon) reads them under the new key too.
  const fresh = createSecretService({ db: h.store.db, clock: systemClock, root: h.dir });
  assert.equal((await fresh.forEnv(BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID)).length, 2);
  await noPlaintext(h.dir, [ORG_VALUE, FILE_VALUE, LOGIN_PASSWORD]);
});

test("members cannot rotate the keys", async () => {
  const { secrets } = await setup();
  await runAs(member("u-alice"), () => assert.rejects(secrets.rotateKey(), /owner/i));
  void (secrets as SecretService);
});
