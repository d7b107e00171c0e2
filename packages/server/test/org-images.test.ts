// Registry logins and images belong to an organisation (issue 5, migration 010): two orgs with a
// login for the same host each pull with their own; an org sees, uses and removes only the
// images it pulled or imported (plus the shared base image); and an environment made from an
// image another org pulled makes the runner pull it again with the creating org's own login.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import {
  DEFAULT_IMAGE,
  type ImageInfo,
  type ProgressFn,
  type PullOptions,
  WarrenError,
} from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { silentLogger } from "../src/logger.ts";
import { createEnvironmentService } from "../src/services/environments.ts";
import { type Caller, createIdentityService, LOCAL_ROOT } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createRegistryLoginService } from "../src/services/registry-logins.ts";
import { secretBox } from "../src/services/registry-secrets.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";

const PRIVATE = "reg.example/private:1";

/** A registry behind the fake: private refs need the password their repository's owner set. */
class RegistryRunner extends FakeRunner {
  pulls: { ref: string; username: string | undefined }[] = [];
  /** ref -> the one password the registry accepts for it. */
  readonly private = new Map<string, string>();
  override async pullImage(ref: string, _progress?: ProgressFn, opts?: PullOptions): Promise<ImageInfo> {
    this.pulls.push({ ref, username: opts?.credential?.username });
    const need = this.private.get(ref);
    if (need !== undefined && opts?.credential?.password !== need) {
      throw new WarrenError("REGISTRY_AUTH_FAILED", `the registry refused the login for ${ref}`);
    }
    return this.addImage(ref);
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
  const runner = new RegistryRunner();
  h = await harness({ runner });
  const db = h.store.db;
  const clock = systemClock;
  const identity = createIdentityService({ db, clock });
  const registries = createRegistryLoginService({ db, clock, secrets: secretBox(h.dir) });
  const images = createImageService({ runner, logins: registries, db, clock });
  const controller = h.controller;
  // The harness's service without images; this one is wired as the daemon wires it.
  const envs = createEnvironmentService({
    db,
    runner,
    clock,
    logger: silentLogger,
    changes: h.changes,
    enqueue: (id) => controller.enqueue(id, { now: true }),
    defaultRuntime: "runc",
    settleTimeoutMs: 5000,
    pollMs: 50,
    images,
  });
  app = build({
    envs,
    classes: h.classes,
    images,
    registries,
    runner,
    identity,
    transport: "tls",
    db,
    logger: false,
  });
  const now = "2026-01-01T00:00:00.000Z";
  const tokens: Record<string, string> = {};
  const users = [
    // A: the server's first organisation (only its admins import from host paths); B: a tenant.
    ["a", BOOTSTRAP_ORG_ID, "admin"],
    ["b", "org_b", "admin"],
    ["m", BOOTSTRAP_ORG_ID, "member"],
  ] as const;
  for (const [name, orgId, role] of users) {
    const userId = `usr_${name}`;
    if (!(await db.selectFrom("orgs").select("id").where("id", "=", orgId).executeTakeFirst())) {
      await db.insertInto("orgs").values({ id: orgId, name: orgId, created_at: now }).execute();
    }
    await db.insertInto("users").values({ id: userId, name, created_at: now }).execute();
    await db
      .insertInto("memberships")
      .values({ org_id: orgId, user_id: userId, role, created_at: now })
      .execute();
    const caller: Caller = { kind: "user", userId, orgId, role, via: "token" };
    tokens[name] = (await identity.createToken(caller, { name: `${name}-token` })).token;
  }
  const a = app;
  const as =
    (who: "a" | "b" | "m") => (method: "GET" | "POST" | "PUT" | "DELETE", url: string, payload?: object) =>
      a.inject({
        method,
        url: `/api/v1${url}`,
        headers: { authorization: `Bearer ${tokens[who]}` },
        ...(payload ? { payload } : {}),
      });
  return { runner, images, A: as("a"), B: as("b"), M: as("m") };
}

const refs = (res: { json(): { items: { ref: string }[] } }) =>
  res
    .json()
    .items.map((i) => i.ref)
    .sort();
const enc = encodeURIComponent;
/** An NDJSON stream's last line. */
const last = (body: string) => JSON.parse(body.trim().split("\n").at(-1)!);

test("two organisations with logins for the same host each pull with their own", async () => {
  const { runner, A, B } = await setup();
  runner.private.set(PRIVATE, "pass-a");
  assert.equal(
    (await A("PUT", "/registries/reg.example", { username: "ua", password: "pass-a" })).statusCode,
    200,
  );
  assert.equal(
    (await B("PUT", "/registries/reg.example", { username: "ub", password: "pass-b" })).statusCode,
    200,
  );
  assert.deepEqual(
    (await A("GET", "/registries")).json().items.map((l: { username: string }) => l.username),
    ["ua"],
  );
  assert.deepEqual(
    (await B("GET", "/registries")).json().items.map((l: { username: string }) => l.username),
    ["ub"],
  );

  assert.equal(last((await A("POST", "/images/pull", { ref: PRIVATE })).body).done.ref, PRIVATE);
  assert.equal(
    last((await B("POST", "/images/pull", { ref: PRIVATE })).body).error.code,
    "REGISTRY_AUTH_FAILED",
  );
  await B("POST", "/images/pull", { ref: "reg.example/public:1" });
  assert.deepEqual(runner.pulls, [
    { ref: PRIVATE, username: "ua" },
    { ref: PRIVATE, username: "ub" },
    { ref: "reg.example/public:1", username: "ub" },
  ]);

  // A's logout leaves B's login alone.
  assert.deepEqual((await A("DELETE", "/registries/reg.example")).json(), { removed: true });
  assert.equal((await B("GET", "/registries")).json().items.length, 1);
  await A("POST", "/images/pull", { ref: "reg.example/public:1" });
  assert.deepEqual(runner.pulls.at(-1), { ref: "reg.example/public:1", username: undefined });
});

test("an organisation sees and removes only its own images; the base image is shared", async () => {
  const { runner, A, B, M } = await setup();
  await A("POST", "/images/pull", { ref: PRIVATE });
  assert.equal(
    (await A("POST", "/images/import", { path: "/srv/tools.tar", ref: "tools:1" })).statusCode,
    200,
  );
  // A member of A sees A's images and may pull; changing what the organisation holds is for admins.
  assert.deepEqual(refs(await M("GET", "/images")), [PRIVATE, "tools:1", DEFAULT_IMAGE].sort());
  assert.equal((await M("DELETE", `/images/${enc("tools:1")}`)).statusCode, 403);
  assert.equal((await M("POST", "/images/import", { path: "/srv/x.tar", ref: "x:1" })).statusCode, 403);
  assert.equal((await M("POST", "/images/prune")).statusCode, 403);
  assert.equal((await M("PUT", "/registries/reg.example", { username: "m", password: "p" })).statusCode, 403);
  assert.deepEqual(refs(await A("GET", "/images")), [PRIVATE, "tools:1", DEFAULT_IMAGE].sort());
  assert.deepEqual(refs(await B("GET", "/images")), [DEFAULT_IMAGE]);

  for (const ref of [PRIVATE, "tools:1"]) {
    const rm = await B("DELETE", `/images/${enc(ref)}`);
    assert.equal(rm.statusCode, 404, rm.body);
    assert.equal(rm.json().code, "IMAGE_NOT_FOUND");
    assert.ok(runner.images.has(ref));
  }
  assert.equal(runner.callsOf("removeImage").length, 0);
  // A tenant's admin may not import at all: an import reads any path on the host as root.
  const tenant = await B("POST", "/images/import", { path: "/srv/other.tar", ref: "tools:1" });
  assert.equal(tenant.statusCode, 403, tenant.body);
  assert.match(tenant.json().message, /first organisation/);
  // Nor may a tenant rebuild the shared base image from a mirror of its choice (without one, it may).
  const mirror = await B("POST", "/images/base", { mirror: "http://evil.example/debian" });
  assert.equal(mirror.statusCode, 403, mirror.body);
  assert.equal((await B("POST", "/images/base", {})).statusCode, 200);
  assert.equal(runner.callsOf("importImage").length, 1);
  // Nor is the shared base image an organisation's to remove.
  assert.equal((await B("DELETE", `/images/${enc(DEFAULT_IMAGE)}`)).statusCode, 400);
  assert.ok(runner.images.has(DEFAULT_IMAGE));

  const rm = await A("DELETE", `/images/${enc("tools:1")}`);
  assert.equal(rm.statusCode, 200, rm.body);
  assert.equal(runner.images.has("tools:1"), false);
  assert.deepEqual(refs(await A("GET", "/images")), [PRIVATE, DEFAULT_IMAGE].sort());
});

test("a reference two organisations hold leaves the runner only with the last of them", async () => {
  const { runner, A, B } = await setup();
  await A("POST", "/images/pull", { ref: "reg.example/shared:1" });
  await B("POST", "/images/pull", { ref: "reg.example/shared:1" });
  const first = await A("DELETE", `/images/${enc("reg.example/shared:1")}`);
  assert.deepEqual(first.json(), { removed: [] });
  assert.ok(runner.images.has("reg.example/shared:1"));
  assert.deepEqual(refs(await A("GET", "/images")), [DEFAULT_IMAGE]);
  assert.deepEqual(refs(await B("GET", "/images")), ["reg.example/shared:1", DEFAULT_IMAGE].sort());
  assert.equal((await A("DELETE", `/images/${enc("reg.example/shared:1")}`)).statusCode, 404);

  assert.equal((await B("DELETE", `/images/${enc("reg.example/shared:1")}`)).statusCode, 200);
  assert.deepEqual(runner.callsOf("removeImage"), [["reg.example/shared:1"]]);
  assert.equal(runner.images.has("reg.example/shared:1"), false);
});

test("prune never removes what another organisation holds", async () => {
  const { runner, images, A, B } = await setup();
  runner.pruneEvicts = true;
  await A("POST", "/images/pull", { ref: "reg.example/a:1" });
  await B("POST", "/images/pull", { ref: "reg.example/b:1" });
  runner.addImage("legacy:1"); // on the runner before the upgrade: the bootstrap organisation's

  // B, a tenant, prunes: only its own image goes.
  const pruned = await B("POST", "/images/prune");
  assert.equal(pruned.statusCode, 200, pruned.body);
  assert.deepEqual(pruned.json().removed, ["reg.example/b:1"]);
  const [opts] = runner.callsOf("pruneImages").at(-1) as [{ keep: string[] }];
  assert.deepEqual(opts.keep.sort(), ["legacy:1", "reg.example/a:1", DEFAULT_IMAGE].sort());
  assert.deepEqual([...runner.images.keys()].sort(), ["legacy:1", "reg.example/a:1", DEFAULT_IMAGE].sort());
  assert.deepEqual(refs(await B("GET", "/images")), [DEFAULT_IMAGE]);
  // The image nobody holds is the bootstrap organisation's (A's, and root's on the socket), and no one else's.
  assert.deepEqual(refs(await A("GET", "/images")), ["legacy:1", "reg.example/a:1", DEFAULT_IMAGE].sort());
  const rootSees = await images.list(LOCAL_ROOT);
  assert.deepEqual(rootSees.map((i) => i.ref).sort(), ["legacy:1", "reg.example/a:1", DEFAULT_IMAGE].sort());
  const stolen = await B("POST", "/environments?wait=0", { name: "b3", image: "legacy:1" });
  assert.equal(stolen.statusCode, 404, stolen.body);
});

test("an environment from another organisation's private image pulls it with the creator's login", async () => {
  const { runner, A, B } = await setup();
  runner.private.set(PRIVATE, "pass-a");
  await A("PUT", "/registries/reg.example", { username: "ua", password: "pass-a" });
  await A("POST", "/images/pull", { ref: PRIVATE });
  await A("POST", "/images/import", { path: "/srv/tools.tar", ref: "tools:1" });

  // Without a login of its own, B's create pulls anonymously, and the registry refuses it.
  const refused = await B("POST", "/environments?wait=0", { name: "b1", image: PRIVATE });
  assert.equal(refused.statusCode, 403, refused.body);
  assert.equal(refused.json().code, "REGISTRY_AUTH_FAILED");
  assert.deepEqual(runner.pulls.at(-1), { ref: PRIVATE, username: undefined });
  assert.equal(runner.callsOf("ensureRunning").length, 0);
  assert.deepEqual(refs(await B("GET", "/images")), [DEFAULT_IMAGE]);

  // A wrong login is refused the same way; the runner's cached copy is never reused.
  await B("PUT", "/registries/reg.example", { username: "ub", password: "wrong" });
  assert.equal((await B("POST", "/environments?wait=0", { name: "b1", image: PRIVATE })).statusCode, 403);
  assert.deepEqual(runner.pulls.at(-1), { ref: PRIVATE, username: "ub" });

  // A local name cannot be pulled: B gets a plain not-found, as if the image were not there.
  const local = await B("POST", "/environments?wait=0", { name: "b2", image: "tools:1" });
  assert.equal(local.statusCode, 404, local.body);
  assert.equal(local.json().code, "IMAGE_NOT_FOUND");
  assert.equal(runner.pulls.length, 3);

  // With access of its own, B pulls it (now B holds it too) and gets its environment.
  runner.private.set(PRIVATE, "pass-b");
  await B("PUT", "/registries/reg.example", { username: "ub", password: "pass-b" });
  const made = await B("POST", "/environments?wait=0", { name: "b1", image: PRIVATE });
  assert.equal(made.statusCode, 201, made.body);
  assert.deepEqual(runner.pulls.at(-1), { ref: PRIVATE, username: "ub" });
  assert.deepEqual(refs(await B("GET", "/images")), [PRIVATE, DEFAULT_IMAGE].sort());

  // A holds it already: no second pull for A's environment.
  const pulls = runner.pulls.length;
  assert.equal((await A("POST", "/environments?wait=0", { name: "a1", image: PRIVATE })).statusCode, 201);
  assert.equal(runner.pulls.length, pulls);
  // And its own environment keeps B from removing it (only B's environments are named).
  const rm = await B("DELETE", `/images/${enc(PRIVATE)}`);
  assert.equal(rm.statusCode, 409, rm.body);
  assert.match(rm.json().message, /b1/);
  assert.doesNotMatch(rm.json().message, /a1/);
});
