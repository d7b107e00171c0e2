// Project secrets: they reach only environments of their project, whatever spelling was used,
// take precedence between org and user, and refuse bad project URLs.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import type { RunnerEnvSpec } from "@warren/protocol";
import { type Harness, ROOT, SYSTEM } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { runnerSpec } from "../src/controllers/environment/act.ts";
import { withSecrets } from "../src/services/secret-delivery.ts";
import { type SecretService, secretsBox } from "../src/services/secrets.ts";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../src/store/migrations/005_identity.ts";
import { getEnvById } from "../src/store/queries/envs.ts";
import { closeWorld, put, setup } from "./secrets-world.ts";

afterEach(closeWorld);

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
