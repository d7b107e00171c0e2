// Environment and class names are unique per organisation (migration 009), through the remote API:
// two organisations each hold an environment `dev` and a class `big`, see only their own, and
// remove theirs without touching the other's. Inside one organisation a name is still taken once.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import type { ClassSpec, Environment, ErrorBody } from "@warren/protocol";
import { bearer, userWithToken, type World, world } from "./audit-world.ts";

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

type Res = { statusCode: number; json(): unknown };

function assertError(res: Res, status: number, code: string, msg?: RegExp): void {
  assert.equal(res.statusCode, status, JSON.stringify(res.json()));
  const body = res.json() as ErrorBody;
  assert.equal(body.code, code);
  if (msg) assert.match(body.message, msg);
}

/** An owner of a new organisation `org` and a way to call the remote API as them. */
async function orgOwner(world: World, org: string) {
  const { token } = await userWithToken(world, `${org}-owner`, "owner", org);
  return (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: object) =>
    world.remote.inject({
      method,
      url: `/api/v1${url}`,
      headers: bearer(token),
      ...(payload ? { payload } : {}),
    });
}

const envNames = async (res: Promise<Res>) =>
  ((await res).json() as { items: Environment[] }).items.map((e) => e.name);
const classNames = async (res: Promise<Res>) =>
  ((await res).json() as { items: ClassSpec[] }).items.filter((c) => !c.builtin).map((c) => c.name);

test("two organisations each hold an environment `dev` and a class `big`, and see only their own", async () => {
  w = await world();
  const a = await orgOwner(w, "org_a");
  const b = await orgOwner(w, "org_b");
  // The same name, different shapes, so which class an environment got is visible in its spec.
  const big = { name: "big", memory: "1g", disk: "1g" };
  assert.equal((await a("POST", "/classes", { ...big, cpus: 4 })).statusCode, 201);
  assert.equal((await b("POST", "/classes", { ...big, cpus: 1, maxCpus: 8 })).statusCode, 201);

  const devA = await a("POST", "/environments", { name: "dev", className: "big" });
  const devB = await b("POST", "/environments", { name: "dev", className: "big" });
  assert.equal(devA.statusCode, 201, devA.body);
  assert.equal(devB.statusCode, 201, devB.body);
  const envA = devA.json() as Environment;
  const envB = devB.json() as Environment;
  assert.notEqual(envA.id, envB.id, "ids stay unique on the server");
  assert.equal(envA.spec.resources.cpus, 4);
  assert.equal(envB.spec.resources.cpus, 1);

  // By name each organisation reaches its own; by the other's id, nothing.
  assert.equal(((await a("GET", "/environments/dev")).json() as Environment).id, envA.id);
  assert.equal(((await b("GET", "/environments/dev")).json() as Environment).id, envB.id);
  assertError(await a("GET", `/environments/${envB.id}`), 404, "ENV_NOT_FOUND");
  assertError(await b("GET", `/environments/${envA.id}`), 404, "ENV_NOT_FOUND");
  assert.deepEqual(await envNames(a("GET", "/environments")), ["dev"]);
  assert.deepEqual(await envNames(b("GET", "/environments?name=de")), ["dev"]);
  assert.deepEqual(await classNames(a("GET", "/classes")), ["big"]);
  assert.deepEqual(await classNames(b("GET", "/classes")), ["big"]);
  // The bootstrap organisation has neither.
  assert.deepEqual(await envNames(w.local.inject({ method: "GET", url: "/api/v1/environments" })), []);
  assert.deepEqual(await classNames(w.local.inject({ method: "GET", url: "/api/v1/classes" })), []);

  // A resize is checked against the environment's own organisation's class: 6 cpus fit b's big
  // (max 8) and not a's (max 4).
  assertError(await a("PATCH", "/environments/dev", { cpus: 6 }), 400, "OUT_OF_CLASS_BOUNDS", /class "big"/);
  const resized = await b("PATCH", "/environments/dev", { cpus: 6 });
  assert.equal(resized.statusCode, 200, resized.body);
  assert.equal((resized.json() as Environment).spec.resources.cpus, 6);
});

test("inside one organisation a name is taken once: 409", async () => {
  w = await world();
  const a = await orgOwner(w, "org_a");
  const b = await orgOwner(w, "org_b");
  const big = { name: "big", cpus: 2, memory: "1g", disk: "1g" };
  assert.equal((await a("POST", "/classes", big)).statusCode, 201);
  assertError(await a("POST", "/classes", big), 409, "CLASS_EXISTS", /already exists/);
  // Built-ins are shared: no organisation may take their names.
  assertError(await b("POST", "/classes", { ...big, name: "default" }), 409, "CLASS_EXISTS", /built-in/);
  assertError(await a("POST", "/classes", { ...big, name: "default" }), 409, "CLASS_EXISTS", /built-in/);

  assert.equal((await a("POST", "/environments", { name: "dev" })).statusCode, 201);
  assertError(
    await a("POST", "/environments", { name: "dev", cpus: 1 }),
    409,
    "NAME_CONFLICT",
    /exists with a different spec/,
  );
  // The same request again is the same environment (idempotent create), not a second one.
  const again = await a("POST", "/environments", { name: "dev" });
  assert.equal(again.statusCode, 200, again.body);
  // Another member's environment in the same organisation: the name is taken, nothing more said.
  const { token } = await userWithToken(w, "a-member", "member", "org_a");
  const asMember = await w.remote.inject({
    method: "POST",
    url: "/api/v1/environments",
    headers: bearer(token),
    payload: { name: "dev" },
  });
  assertError(asMember, 409, "NAME_CONFLICT", /is taken/);
  // Another organisation is not "the same organisation".
  assert.equal((await b("POST", "/environments", { name: "dev" })).statusCode, 201);
  const rows = await w.h.store.db
    .selectFrom("environments")
    .select(["org_id", "name"])
    .orderBy("org_id")
    .execute();
  assert.deepEqual(
    rows.map((r) => [r.org_id, r.name]),
    [
      ["org_a", "dev"],
      ["org_b", "dev"],
    ],
  );
});

test("removing an environment or class in one organisation leaves the other's", async () => {
  w = await world();
  const a = await orgOwner(w, "org_a");
  const b = await orgOwner(w, "org_b");
  const big = { name: "big", cpus: 2, memory: "1g", disk: "1g" };
  for (const call of [a, b]) {
    assert.equal((await call("POST", "/classes", big)).statusCode, 201);
    assert.equal((await call("POST", "/environments", { name: "dev", className: "big" })).statusCode, 201);
  }
  const idB = ((await b("GET", "/environments/dev")).json() as Environment).id;

  assert.equal((await a("DELETE", "/environments/dev?force=1")).statusCode, 204);
  assertError(await a("GET", "/environments/dev"), 404, "ENV_NOT_FOUND");
  const stillB = await b("GET", "/environments/dev");
  assert.equal(stillB.statusCode, 200);
  assert.equal((stillB.json() as Environment).id, idB);
  assert.equal((stillB.json() as Environment).state, "running");

  // b's `dev` uses b's `big`; a's `big` is used by nothing now, whatever b's environments are called.
  assertError(await b("DELETE", "/classes/big"), 409, "CLASS_IN_USE", /used by dev/);
  assert.equal((await a("DELETE", "/classes/big")).statusCode, 204);
  assert.deepEqual(await classNames(a("GET", "/classes")), []);
  assert.deepEqual(await classNames(b("GET", "/classes")), ["big"]);
  // A removed class name is free again in its organisation, and only there.
  assert.equal((await a("POST", "/classes", big)).statusCode, 201);
  assertError(await a("DELETE", "/classes/nope"), 404, "CLASS_NOT_FOUND");
  assert.equal((await b("DELETE", "/environments/dev?force=1")).statusCode, 204);
  assert.equal((await b("DELETE", "/classes/big")).statusCode, 204);
  assert.deepEqual(await classNames(a("GET", "/classes")), ["big"]);
});
