// Registry logins through the HTTP API: stored encrypted under a root-only key file, listed
// without passwords, and handed to the runner only for pulls from their own host, per
// organisation (migration 010; org-images.test.ts covers two organisations over HTTP).
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, test } from "node:test";
import type { ImageInfo, ProgressFn, PullOptions } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { system } from "../src/services/actor.ts";
import { type Caller, LOCAL_ROOT } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createRegistryLoginService } from "../src/services/registry-logins.ts";
import { keyFile, secretBox } from "../src/services/registry-secrets.ts";
import { createSecretService } from "../src/services/secrets.ts";
import { storeFile } from "../src/store/db.ts";
import { BOOTSTRAP_OWNER_ID } from "../src/store/migrations/005_identity.ts";

class PullRunner extends FakeRunner {
  pulls: { ref: string; opts: PullOptions | undefined }[] = [];
  override async pullImage(ref: string, progress?: ProgressFn, opts?: PullOptions): Promise<ImageInfo> {
    this.pulls.push({ ref, opts });
    progress?.({ phase: "layer", message: "layer 1/1 downloading", current: 1, total: 2 });
    return { ref, digest: `sha256:${"1".repeat(64)}`, layers: [], sizeBytes: 0, createdAt: "t" };
  }
}

let h: Harness | undefined;
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  await h?.close();
  app = h = undefined;
});

async function setup() {
  const runner = new PullRunner();
  h = await harness({ runner });
  const registries = createRegistryLoginService({
    db: h.store.db,
    clock: systemClock,
    secrets: secretBox(h.dir),
  });
  app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner, logins: registries }),
    registries,
    runner,
    logger: false,
  });
  return { runner, app, dir: h.dir };
}

const PASSWORD = "hunter2-very-secret";

test("login stores the password encrypted under a 0600 key file and never returns it", async () => {
  const { app, dir } = await setup();
  const put = await app.inject({
    method: "PUT",
    url: "/api/v1/registries/Reg.Example:5000",
    payload: { username: "dev", password: PASSWORD },
  });
  assert.equal(put.statusCode, 200, put.body);
  assert.equal(put.json().host, "reg.example:5000");
  assert.equal(put.json().username, "dev");
  assert.doesNotMatch(put.body, new RegExp(PASSWORD));

  const list = await app.inject({ method: "GET", url: "/api/v1/registries" });
  assert.deepEqual(
    list.json().items.map((l: { host: string; username: string }) => [l.host, l.username]),
    [["reg.example:5000", "dev"]],
  );
  assert.doesNotMatch(list.body, new RegExp(PASSWORD));

  const row = h!.store.sqlite.prepare("select * from registry_credentials").get() as Record<string, string>;
  assert.doesNotMatch(JSON.stringify(row), new RegExp(PASSWORD));
  assert.doesNotMatch(JSON.stringify(row), new RegExp(Buffer.from(PASSWORD).toString("base64").slice(0, 12)));
  const dbBytes = await fs.readFile(storeFile(dir));
  assert.equal(dbBytes.includes(Buffer.from(PASSWORD)), false);
  assert.equal((await fs.stat(keyFile(dir))).mode & 0o777, 0o600);
  assert.equal((await fs.stat(path.dirname(keyFile(dir)))).mode & 0o777, 0o700);
});

test("pulls get the login of their own registry host only", async () => {
  const { app, runner } = await setup();
  await app.inject({
    method: "PUT",
    url: "/api/v1/registries/reg.example:5000",
    payload: { username: "dev", password: PASSWORD },
  });
  const pulled = await app.inject({
    method: "POST",
    url: "/api/v1/images/pull",
    payload: { ref: "reg.example:5000/x:1" },
  });
  const lines = pulled.body
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(lines[0].phase, "layer");
  assert.equal(lines.at(-1).done.ref, "reg.example:5000/x:1");
  await app.inject({ method: "POST", url: "/api/v1/images/pull", payload: { ref: "other.example/x:1" } });
  assert.deepEqual(runner.pulls, [
    { ref: "reg.example:5000/x:1", opts: { credential: { username: "dev", password: PASSWORD } } },
    { ref: "other.example/x:1", opts: {} },
  ]);

  const out = await app.inject({ method: "DELETE", url: "/api/v1/registries/reg.example:5000" });
  assert.deepEqual(out.json(), { removed: true });
  assert.deepEqual(
    (await app.inject({ method: "DELETE", url: "/api/v1/registries/reg.example:5000" })).json(),
    {
      removed: false,
    },
  );
  await app.inject({ method: "POST", url: "/api/v1/images/pull", payload: { ref: "reg.example:5000/x:1" } });
  assert.deepEqual(runner.pulls.at(-1), { ref: "reg.example:5000/x:1", opts: {} });
});

test("a malformed ref is a 400 before any stream; a replaced key asks to log in again", async () => {
  const { app, dir } = await setup();
  const bad = await app.inject({ method: "POST", url: "/api/v1/images/pull", payload: { ref: "Bad Ref" } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, "INVALID_ARGUMENT");

  await app.inject({
    method: "PUT",
    url: "/api/v1/registries/reg.example",
    payload: { username: "dev", password: PASSWORD },
  });
  await fs.writeFile(keyFile(dir), Buffer.alloc(32, 9));
  const fresh = createRegistryLoginService({ db: h!.store.db, clock: systemClock, secrets: secretBox(dir) });
  await assert.rejects(fresh.credentialFor(LOCAL_ROOT, "reg.example"), (e: Error) => {
    assert.match(e.message, /warren registry login reg\.example/);
    assert.doesNotMatch(e.message, new RegExp(PASSWORD));
    return true;
  });
});

test("each organisation keeps its own login for a host, through a key rotation", async () => {
  await setup();
  const db = h!.store.db;
  const box = secretBox(h!.dir);
  const registries = createRegistryLoginService({ db, clock: systemClock, secrets: box });
  await db.insertInto("orgs").values({ id: "org_b", name: "b", created_at: "t" }).execute();
  const b: Caller = { kind: "user", userId: BOOTSTRAP_OWNER_ID, orgId: "org_b", role: "admin", via: "token" };
  await registries.login(LOCAL_ROOT, "reg.example", "root-user", "pass-root");
  await registries.login(b, "reg.example", "b-user", "pass-b");
  assert.deepEqual(
    (await registries.list(b)).map((l) => l.username),
    ["b-user"],
  );
  const secrets = createSecretService({ db, clock: systemClock, root: h!.dir, registryBox: box });
  assert.deepEqual(await secrets.rotateKey(system("test")), { secrets: 0, registryLogins: 2 });
  // The system acts for the bootstrap organisation unless it names another; a user only for its own.
  const sys = system("test");
  assert.equal((await registries.credentialFor(sys, "reg.example"))?.password, "pass-root");
  assert.equal((await registries.credentialFor(sys, "reg.example", "org_b"))?.password, "pass-b");
  assert.equal((await registries.credentialFor(b, "reg.example"))?.username, "b-user");
  await assert.rejects(registries.credentialFor(LOCAL_ROOT, "reg.example", "org_b"), /own organisation/);
  assert.equal(await registries.logout(b, "reg.example"), true);
  assert.equal((await registries.credentialFor(LOCAL_ROOT, "reg.example"))?.username, "root-user");
});
