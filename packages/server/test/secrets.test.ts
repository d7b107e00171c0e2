// Secrets: scoped, encrypted at rest, write-only through the API, delivered only in
// ensureRunning's spec, masked in logs, and still readable after `warren admin rotate-key`.
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, test } from "node:test";
import type { RunnerEnvSpec } from "@warren/protocol";
import { type Harness, harness, ROOT, SYSTEM } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { runnerSpec } from "../src/controllers/environment/act.ts";
import { build } from "../src/http/build.ts";
import type { Caller } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createRegistryLoginService } from "../src/services/registry-logins.ts";
import { keyFile, secretBox } from "../src/services/registry-secrets.ts";
import { MASK, withSecrets } from "../src/services/secret-delivery.ts";
import { createSecretService, SECRETS_KEY, type SecretService, secretsBox } from "../src/services/secrets.ts";
import { storeFile } from "../src/store/db.ts";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../src/store/migrations/005_identity.ts";
import { getEnvById } from "../src/store/queries/envs.ts";

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
    db: h.store.db, // paged, filtered lists (?project=)
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

const API = "https://github.com/acme/api";

async function createEnv(a: FastifyInstance, payload: Record<string, unknown>) {
  return a.inject({ method: "POST", url: "/api/v1/environments?wait=1", payload });
}

/** What the runner receives when `id` starts through the secret-adding wrapper. */
async function delivered(h: Harness, secrets: SecretService, id: string): Promise<[string, string][]> {
  const row = await getEnvById(h.store.db, id);
  assert.ok(row, id);
  const runner = withSecrets(h.runner, { db: h.store.db, secrets });
  h.runner.calls.length = 0;
  await runner.ensureRunning(runnerSpec(row));
  const [spec] = h.runner.callsOf("ensureRunning")[0] as [RunnerEnvSpec];
  return (spec.secrets ?? []).map((s): [string, string] => [s.path ?? s.name, s.value]).sort();
}

test("project secrets reach only environments of that project, whatever spelling either used", async () => {
  const { h, app, secrets } = await setup();
  await secrets.set(ROOT, "org", "ORG_ONLY", { value: "org-aaaa", kind: "env" });
  // Stored under one spelling, asked for under others.
  const put1 = await put(app, "project", "DEPLOY_KEY", {
    value: "api-deploy-1111",
    kind: "env",
    project: "git@github.com:acme/api.git",
  });
  assert.equal(put1.statusCode, 200, put1.body);
  assert.equal(put1.json().project, API);
  await secrets.set(ROOT, "project", "DEPLOY_KEY", {
    value: "web-deploy-2222",
    kind: "env",
    project: "https://github.com/acme/web",
  });

  const api = await createEnv(app, { name: "api", project: "https://GitHub.com/acme/api.git/" });
  assert.equal(api.statusCode, 201, api.body);
  assert.equal(api.json().spec.project, API);
  const web = await createEnv(app, { name: "web", project: "github.com/acme/web" });
  assert.equal(web.statusCode, 201, web.body);
  const bare = await createEnv(app, { name: "bare" });
  assert.equal(bare.statusCode, 201, bare.body);
  assert.equal("project" in bare.json().spec, false);

  assert.deepEqual(await delivered(h, secrets, api.json().id), [
    ["DEPLOY_KEY", "api-deploy-1111"],
    ["ORG_ONLY", "org-aaaa"],
  ]);
  assert.deepEqual(await delivered(h, secrets, web.json().id), [
    ["DEPLOY_KEY", "web-deploy-2222"],
    ["ORG_ONLY", "org-aaaa"],
  ]);
  assert.deepEqual(await delivered(h, secrets, bare.json().id), [["ORG_ONLY", "org-aaaa"]]);

  // Shown by inspect and ls, filterable with any spelling; a bad filter names the field.
  const got = await app.inject({ method: "GET", url: "/api/v1/environments/api" });
  assert.equal(got.json().spec.project, API);
  const q = encodeURIComponent("ssh://git@github.com/acme/api");
  const listed = await app.inject({ method: "GET", url: `/api/v1/environments?project=${q}` });
  assert.equal(listed.statusCode, 200, listed.body);
  assert.deepEqual(
    (listed.json().items as Array<{ name: string }>).map((e) => e.name),
    ["api"],
  );
  const all = await app.inject({ method: "GET", url: "/api/v1/environments" });
  assert.equal(all.json().items.length, 3);
  const badFilter = await app.inject({ method: "GET", url: "/api/v1/environments?project=..%2Fx" });
  assert.equal(badFilter.statusCode, 400);
  assert.equal(badFilter.json().details.field, "project");

  // The project is part of the spec: the same name for another project is a conflict.
  const other = await createEnv(app, { name: "api", project: "https://github.com/acme/web" });
  assert.equal(other.statusCode, 409, other.body);
  assert.match(other.json().message, /project https:\/\/github\.com\/acme\/api \(existing\)/);
  const again = await createEnv(app, { name: "api", project: "git@github.com:acme/api" });
  assert.equal(again.statusCode, 200, again.body);

  // Removing under yet another spelling removes it.
  const del = await app.inject({
    method: "DELETE",
    url: `/api/v1/secrets/project/DEPLOY_KEY?project=${encodeURIComponent("https://github.com/acme/api/")}`,
  });
  assert.deepEqual(del.json(), { removed: true });
  assert.deepEqual(await delivered(h, secrets, api.json().id), [["ORG_ONLY", "org-aaaa"]]);
});

test("precedence: user > project > org for one name or file path", async () => {
  const { h, app, secrets } = await setup();
  const { id } = (await createEnv(app, { name: "p", project: API })).json();
  const { id: noProject } = (await createEnv(app, { name: "q" })).json();
  await secrets.set(ROOT, "org", "TOKEN", { value: "from-org-1", kind: "env" });
  await secrets.set(ROOT, "project", "TOKEN", { value: "from-project-2", kind: "env", project: API });
  await secrets.set(ROOT, "org", "cfg", { value: "org-file-1", kind: "file", path: "/run/secrets/app.conf" });
  await secrets.set(ROOT, "project", "cfg2", {
    value: "project-file-2",
    kind: "file",
    path: "/run/secrets/app.conf",
    project: API,
  });
  assert.deepEqual(await delivered(h, secrets, id), [
    ["/run/secrets/app.conf", "project-file-2"],
    ["TOKEN", "from-project-2"],
  ]);
  assert.deepEqual(await delivered(h, secrets, noProject), [
    ["/run/secrets/app.conf", "org-file-1"],
    ["TOKEN", "from-org-1"],
  ]);
  // The owner's own secret beats both.
  await secrets.set(ROOT, "user", "TOKEN", { value: "from-user-3", kind: "env" });
  assert.deepEqual(await delivered(h, secrets, id), [
    ["/run/secrets/app.conf", "project-file-2"],
    ["TOKEN", "from-user-3"],
  ]);
  assert.deepEqual(await delivered(h, secrets, noProject), [
    ["/run/secrets/app.conf", "org-file-1"],
    ["TOKEN", "from-user-3"],
  ]);
});

test("a bad project is a 400 naming the field, at create and on secrets, and creates nothing", async () => {
  const { h, app } = await setup();
  for (const project of [
    "file:///etc/passwd",
    "https://ghp_token@github.com/acme/api",
    "../../etc",
    "https://github.com/acme/api b",
    "https://github.com/acme/api?x=1",
    "",
    "x".repeat(2000),
  ]) {
    const r = await createEnv(app, { name: "hostile", project });
    assert.equal(r.statusCode, 400, `${project}: ${r.body}`);
    assert.equal(r.json().code, "INVALID_ARGUMENT");
    assert.equal(r.json().details.field, "project", r.body);
    assert.match(r.json().message, /project/);
    const s = await put(app, "project", "X", { value: "v", kind: "env", project });
    assert.equal(s.statusCode, 400, `${project}: ${s.body}`);
  }
  const wrongType = await createEnv(app, { name: "hostile", project: 42 });
  assert.equal(wrongType.statusCode, 400);
  assert.match(wrongType.json().message, /project/);
  assert.equal(await getEnvById(h.store.db, "hostile"), undefined);
  assert.equal((await h.envs.list(ROOT)).length, 0);
});

test("project secrets stored before keys were normalized are still delivered, replaced and removed", async () => {
  const { h, secrets } = await setup();
  // A row as the previous version wrote it: the URL as typed, bound into the ciphertext's AAD.
  const raw = "https://github.com/acme/api.git";
  const sealed = await secretsBox(h.dir).seal(
    "legacy-value-4444",
    `secret\0${BOOTSTRAP_ORG_ID}\0project\0${raw}\0OLD`,
  );
  await h.store.db
    .insertInto("secrets")
    .values({
      org_id: BOOTSTRAP_ORG_ID,
      scope: "project",
      owner: raw,
      name: "OLD",
      kind: "env",
      path: null,
      secret: sealed,
      created_by: BOOTSTRAP_OWNER_ID,
      created_at: "t",
      updated_at: "t",
    })
    .execute();
  const forApi = () => secrets.forEnv(SYSTEM, BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID, API);
  assert.deepEqual(
    (await forApi()).map((s) => [s.name, s.value]),
    [["OLD", "legacy-value-4444"]],
  );
  // A write under the normal form replaces the old spelling rather than sitting beside it.
  await secrets.set(ROOT, "project", "OLD", { value: "new-value-5555", kind: "env", project: raw });
  const owners = await h.store.db.selectFrom("secrets").select("owner").where("name", "=", "OLD").execute();
  assert.deepEqual(
    owners.map((o) => o.owner),
    [API],
  );
  assert.deepEqual(
    (await forApi()).map((s) => s.value),
    ["new-value-5555"],
  );
  assert.equal(await secrets.remove(ROOT, "project", "OLD", "git@github.com:acme/api"), true);
  assert.deepEqual(await forApi(), []);
});
