// Who a secret reaches, and whose values a log masks:
// - masking uses only the values delivered to that environment, so one organisation's (or one
//   user's) logs cannot confirm another's secret values;
// - project secrets reach every member who names the project (the documented default) unless an
//   admin restricts one to named users or roles (`allow`), which delivery and masking follow.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { normalizeProject, type Role } from "@warren/protocol";
import { type Harness, harness, ROOT, SYSTEM } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import type { Caller } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { MASK, withSecrets } from "../src/services/secret-delivery.ts";
import { createSecretService, type SecretService } from "../src/services/secrets.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";

let h: Harness | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await h?.close();
  app = h = undefined;
});

const ORG_B = "org_b";
const PROJECT = normalizeProject("https://git.example.com/acme/api.git");

async function setup() {
  h = await harness();
  const secrets = createSecretService({ db: h.store.db, clock: systemClock, root: h.dir });
  app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    secrets,
    db: h.store.db,
    logger: false,
  });
  const now = new Date().toISOString();
  await h.store.db.insertInto("orgs").values({ id: ORG_B, name: "b", created_at: now }).execute();
  return { h, app, secrets };
}

async function user(name: string, role: Role, orgId = BOOTSTRAP_ORG_ID): Promise<Caller> {
  const db = h!.store.db;
  const id = `usr_${name}`;
  const now = new Date().toISOString();
  await db
    .insertInto("users")
    .values({ id, name, created_at: now })
    .onConflict((oc) => oc.doNothing())
    .execute();
  await db.insertInto("memberships").values({ org_id: orgId, user_id: id, role, created_at: now }).execute();
  return { kind: "user", userId: id, orgId, role, via: "token" };
}

async function masked(secrets: SecretService, envId: string, text: string): Promise<string> {
  const runner = withSecrets(h!.runner, { db: h!.store.db, secrets });
  h!.runner.logLines.set(envId, `${text}\n`);
  let out = "";
  await runner.logs(envId, { follow: false }, (c) => {
    out += c;
  }).done;
  await runner.appendEvent(envId, text);
  const events = h!.runner.events.get(envId) ?? [];
  assert.equal(events.at(-1), out.trimEnd(), "events are masked like logs");
  return out.trimEnd();
}

test("an environment's logs mask only the values it was given, never another org's or user's", async () => {
  const { secrets } = await setup();
  const adminB = await user("bella", "admin", ORG_B);
  const other = await user("otto", "member");
  await secrets.set(ROOT, "org", "A_KEY", { value: "value-of-org-a-1111", kind: "env" });
  await secrets.set(other, "user", "OTTO_KEY", { value: "value-of-otto-2222", kind: "env" });
  await secrets.set(adminB, "org", "B_KEY", { value: "value-of-org-b-3333", kind: "env" });
  await secrets.set(ROOT, "project", "P_KEY", {
    value: "value-of-other-project-4444",
    kind: "env",
    project: "https://git.example.com/acme/web.git",
  });
  const { env } = await h!.envs.create(ROOT, { name: "dev" });
  const line =
    "a=value-of-org-a-1111 b=value-of-org-b-3333 otto=value-of-otto-2222 p=value-of-other-project-4444";
  assert.equal(
    await masked(secrets, env.id, line),
    `a=${MASK} b=value-of-org-b-3333 otto=value-of-otto-2222 p=value-of-other-project-4444`,
  );
  // The per-environment set is what forEnv delivers, nothing more.
  assert.deepEqual(await secrets.knownValues(SYSTEM, { orgId: BOOTSTRAP_ORG_ID, ownerId: ROOT.userId }), [
    "value-of-org-a-1111",
  ]);
  assert.deepEqual(await secrets.knownValues(SYSTEM, { orgId: ORG_B, ownerId: adminB.userId }), [
    "value-of-org-b-3333",
  ]);
  // A write is seen at once (the cache is dropped).
  await secrets.set(adminB, "org", "B_KEY", { value: "value-of-org-b-5555", kind: "env" });
  assert.deepEqual(await secrets.knownValues(SYSTEM, { orgId: ORG_B, ownerId: adminB.userId }), [
    "value-of-org-b-5555",
  ]);
});

const names = async (secrets: SecretService, c: Caller) =>
  (await secrets.forEnv(SYSTEM, c.orgId, c.userId, PROJECT)).map((d) => d.name).sort();

test("project secrets reach every member by default, and only the named users or roles when restricted", async () => {
  const { app, secrets } = await setup();
  const alice = await user("alice", "member");
  const bob = await user("bob", "member");
  const ada = await user("ada", "admin");
  const put = (name: string, body: Record<string, unknown>) =>
    app.inject({
      method: "PUT",
      url: `/api/v1/secrets/project/${name}`,
      payload: { value: `${name.toLowerCase()}-value-9999`, kind: "env", project: PROJECT, ...body },
    });

  assert.equal((await put("OPEN", {})).statusCode, 200);
  const forAlice = await put("ALICE_ONLY", { allow: ["user:alice"] });
  assert.equal(forAlice.statusCode, 200, forAlice.body);
  assert.deepEqual(forAlice.json().allow, ["user:alice"]);
  assert.equal((await put("ADMINS", { allow: ["role:admin"] })).statusCode, 200);
  assert.equal((await put("MIXED", { allow: ["user:bob", "role:owner"] })).statusCode, 200);

  assert.deepEqual(await names(secrets, alice), ["ALICE_ONLY", "OPEN"]);
  assert.deepEqual(await names(secrets, bob), ["MIXED", "OPEN"]);
  assert.deepEqual(await names(secrets, ada), ["ADMINS", "OPEN"]);
  assert.deepEqual(
    await names(secrets, ROOT),
    ["ADMINS", "MIXED", "OPEN"],
    "owner: role:admin admits higher roles",
  );

  // Masking follows delivery: bob's logs do not confirm alice's value.
  const bobValues = await secrets.knownValues(SYSTEM, {
    orgId: BOOTSTRAP_ORG_ID,
    ownerId: bob.userId,
    project: PROJECT,
  });
  assert.ok(!bobValues.includes("alice_only-value-9999"));
  assert.ok(bobValues.includes("open-value-9999"));

  // The list shows the restriction with names.
  const list = await app.inject({ method: "GET", url: "/api/v1/secrets" });
  const shown = Object.fromEntries(
    (list.json().items as { name: string; allow?: string[] }[]).map((s) => [s.name, s.allow]),
  );
  assert.deepEqual(shown, {
    OPEN: undefined,
    ALICE_ONLY: ["user:alice"],
    ADMINS: ["role:admin"],
    MIXED: ["role:owner", "user:bob"],
  });

  // A new value without `allow` keeps the restriction; null lifts it.
  assert.equal((await put("ALICE_ONLY", {})).statusCode, 200);
  assert.deepEqual(await names(secrets, bob), ["MIXED", "OPEN"]);
  const lifted = await put("ALICE_ONLY", { allow: null });
  assert.equal(lifted.statusCode, 200, lifted.body);
  assert.equal(lifted.json().allow, undefined);
  assert.deepEqual(await names(secrets, bob), ["ALICE_ONLY", "MIXED", "OPEN"]);

  // A member removed from the organisation no longer matches their own name.
  await h!.store.db.deleteFrom("memberships").where("user_id", "=", bob.userId).execute();
  assert.deepEqual(await names(secrets, bob), ["ALICE_ONLY", "OPEN"]);
});

test("a bad allow list is a 400 naming the field, and stores nothing", async () => {
  const { app } = await setup();
  await user("carol", "member", ORG_B); // a member of another organisation
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["org", { allow: ["role:admin"] }, /only project secrets take an allow list/],
    ["user", { allow: ["role:admin"] }, /only project secrets/],
    ["project", { allow: ["user:nobody"], project: PROJECT }, /not a member of this organisation/],
    ["project", { allow: ["user:carol"], project: PROJECT }, /not a member of this organisation/],
    ["project", { allow: ["role:root"], project: PROJECT }, /not a role/],
    ["project", { allow: ["admins"], project: PROJECT }, /allow/],
    ["project", { allow: [], project: PROJECT }, /allow/],
  ];
  for (const [scope, body, msg] of cases) {
    const res = await app.inject({
      method: "PUT",
      url: `/api/v1/secrets/${scope}/BAD`,
      payload: { value: "bad-value-0000", kind: "env", ...body },
    });
    assert.equal(res.statusCode, 400, `${scope} ${JSON.stringify(body)}: ${res.body}`);
    assert.match(res.body, msg);
    assert.match(res.body, /allow/);
  }
  const rows = await h!.store.db.selectFrom("secrets").select("name").execute();
  assert.deepEqual(rows, []);
});
