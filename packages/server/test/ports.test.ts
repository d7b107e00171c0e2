// Port visibility over the API (in-process inject, remote transport: every caller has a token),
// with ports detected by the fake runner: the default is private; set and list; public refused
// while the organisation denies it and allowed once an admin allows it; another organisation's or
// another member's environment is the same 404 as an unknown one; onTightened fires only when a
// port becomes stricter; every set is audited; rows go with their environment.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { EnvPort, EnvPortList, ErrorBody, PortVisibility } from "@warren/protocol";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { type AuditService, createAuditService } from "../src/services/audit.ts";
import { type Caller, createIdentityService, LOCAL_ROOT } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createPortService, type PortService } from "../src/services/ports.ts";
import { createQuotaService } from "../src/services/quotas.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";

const ORG_B = "org_pt_other";
type Who = "member" | "peer" | "admin" | "other";
let h: Harness;
let app: FastifyInstance;
let ports: PortService;
let audit: AuditService;
let envId: string;
const tightened: [string, number, PortVisibility][] = [];
const tokens = {} as Record<Who, string>;
const callers = {} as Record<Who, Caller>;

before(async () => {
  h = await harness();
  const db = h.store.db;
  const identity = createIdentityService({ db, clock: systemClock });
  audit = createAuditService({ db, clock: systemClock });
  ports = createPortService({
    db,
    clock: systemClock,
    envs: h.envs,
    runner: h.runner,
    proxy: () => ({ scheme: "http", baseDomain: "localhost", listenPort: 8080 }),
  });
  ports.onTightened((id, port, v) => tightened.push([id, port, v]));
  app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: false,
    identity,
    transport: "tls",
    db,
    audit,
    quotas: createQuotaService({ db, clock: systemClock }),
    ports,
  });
  await db
    .insertInto("orgs")
    .values({ id: ORG_B, name: "pt-other", created_at: "2026-01-01T00:00:00.000Z" })
    .execute();
  const join = async (org: string, name: string, role: Caller["role"]): Promise<Caller> => {
    const by: Caller =
      org === BOOTSTRAP_ORG_ID ? LOCAL_ROOT : { ...LOCAL_ROOT, orgId: org, userId: "usr_nobody" };
    const m = await identity.addMember(by, org, { name, role });
    return { kind: "user", userId: m.userId, orgId: org, role, via: "token" };
  };
  callers.member = await join(BOOTSTRAP_ORG_ID, "pt-member", "member");
  callers.peer = await join(BOOTSTRAP_ORG_ID, "pt-peer", "member");
  callers.admin = await join(BOOTSTRAP_ORG_ID, "pt-admin", "admin");
  callers.other = await join(ORG_B, "pt-other-owner", "owner");
  for (const who of Object.keys(callers) as Who[]) {
    tokens[who] = (await identity.createToken(callers[who], { name: `${who}-token` })).token;
  }
  const { env } = await h.envs.create(callers.member, { name: "web" });
  envId = env.id;
  // A dev server on both families, and one more on the environment's loopback only.
  h.runner.ports.set(envId, [
    { port: 3000, address: "0.0.0.0", family: 4, process: "node" },
    { port: 3000, address: "::", family: 6, process: "node" },
  ]);
  h.runner.listeners.set(`${envId}:5173`, (s) => s.end());
});
after(async () => {
  await app?.close();
  await h?.close();
});

async function call(who: Who, method: "GET" | "PUT", url: string, payload?: object) {
  const res = await app.inject({
    method,
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${tokens[who]}` },
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.json() as unknown };
}
const list = async (who: Who = "member") => {
  const r = await call(who, "GET", "/environments/web/ports");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as EnvPortList;
};
const set = (who: Who, port: number | string, visibility: string, env = "web") =>
  call(who, "PUT", `/environments/${env}/ports/${port}`, { visibility });
const errorOf = (r: { status: number; body: unknown }) => ({
  status: r.status,
  code: (r.body as ErrorBody).code,
});

describe("port visibility", () => {
  it("lists detected ports, private by default, with their URLs", async () => {
    const l = await list();
    assert.equal(l.running, true);
    assert.equal(l.publicPorts, "deny");
    assert.deepEqual(l.items, [
      {
        port: 3000,
        listening: true,
        addresses: ["0.0.0.0", "::"],
        process: "node",
        visibility: "private",
        url: "http://3000--web--default.localhost:8080/",
      },
      {
        port: 5173,
        listening: true,
        addresses: ["127.0.0.1"],
        visibility: "private",
        url: "http://5173--web--default.localhost:8080/",
      },
    ]);
    assert.equal(await ports.visibility(envId, 3000), "private");
  });

  it("the owner sets a port to org; the list and the proxy's read show it", async () => {
    const r = await set("member", 3000, "org");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const p = r.body as EnvPort;
    assert.equal(p.visibility, "org");
    assert.equal(p.updatedBy, callers.member.kind === "user" ? callers.member.userId : "");
    assert.equal(p.url, "http://3000--web--default.localhost:8080/");
    assert.equal(await ports.visibility(envId, 3000), "org");
    assert.equal(await ports.visibility(envId, 5173), "private", "other ports stay private");
    assert.equal((await list()).items.find((i) => i.port === 3000)?.visibility, "org");
  });

  it("a port nothing listens on may be shared before its server starts", async () => {
    const r = await set("member", 9000, "org");
    assert.equal(r.status, 200);
    const item = (await list()).items.find((i) => i.port === 9000);
    assert.deepEqual(
      { listening: item?.listening, addresses: item?.addresses, visibility: item?.visibility },
      { listening: false, addresses: [], visibility: "org" },
    );
  });

  it("public is refused while the organisation denies public ports, naming the policy and the fix", async () => {
    assert.equal(await ports.publicAllowed(BOOTSTRAP_ORG_ID), false);
    const r = await set("member", 3000, "public");
    assert.deepEqual(errorOf(r), { status: 403, code: "PUBLIC_PORTS_DENIED" });
    assert.match(
      (r.body as ErrorBody).message,
      /does not allow public ports.*warren quota set --public-ports allow/,
    );
    assert.equal(await ports.visibility(envId, 3000), "org", "unchanged");
  });

  it("public is allowed once an admin allows it, and refused again after deny", async () => {
    const allow = await call("admin", "PUT", `/orgs/${BOOTSTRAP_ORG_ID}/quotas`, { publicPorts: "allow" });
    assert.equal(allow.status, 200, JSON.stringify(allow.body));
    assert.equal((allow.body as { quotas: { publicPorts: string } }).quotas.publicPorts, "allow");
    assert.equal(await ports.publicAllowed(BOOTSTRAP_ORG_ID), true);
    assert.equal(await ports.publicAllowed(ORG_B), false, "another organisation keeps its default");
    const r = await set("member", 3000, "public");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((await list()).publicPorts, "allow");
    assert.equal(await ports.visibility(envId, 3000), "public");

    const reset = await call("admin", "PUT", `/orgs/${BOOTSTRAP_ORG_ID}/quotas`, { publicPorts: null });
    assert.equal((reset.body as { quotas: { publicPorts: string } }).quotas.publicPorts, "deny");
    assert.deepEqual(errorOf(await set("member", 5173, "public")), {
      status: 403,
      code: "PUBLIC_PORTS_DENIED",
    });
  });

  it("onTightened fires synchronously for a stricter port only", async () => {
    tightened.length = 0;
    // public -> org: stricter. The listener has run by the time the answer is back.
    assert.equal((await set("member", 3000, "org")).status, 200);
    assert.deepEqual(tightened, [[envId, 3000, "org"]]);
    // org -> org and private -> org are not.
    await set("member", 3000, "org");
    await set("member", 5173, "org");
    assert.deepEqual(tightened, [[envId, 3000, "org"]]);
    // org -> private is.
    await set("member", 5173, "private");
    assert.deepEqual(tightened, [
      [envId, 3000, "org"],
      [envId, 5173, "private"],
    ]);
    // A tightening from another replica reaches the same listeners.
    ports.receiveTightened({ envId, port: 9000, visibility: "private" });
    assert.deepEqual(tightened.at(-1), [envId, 9000, "private"]);
  });

  it("an admin may set a member's port; another member and another organisation get the 404 of an unknown name", async () => {
    assert.equal((await set("admin", 5173, "org")).status, 200);
    for (const who of ["peer", "other"] as const) {
      const unknown = errorOf(await set(who, 3000, "private", "no-such-env"));
      assert.deepEqual(unknown, { status: 404, code: "ENV_NOT_FOUND" });
      assert.deepEqual(errorOf(await set(who, 3000, "private")), unknown, `${who} PUT`);
      assert.deepEqual(errorOf(await call(who, "GET", "/environments/web/ports")), unknown, `${who} GET`);
    }
    assert.equal(await ports.visibility(envId, 3000), "org", "the refused calls changed nothing");
  });

  it("bad ports and visibilities are 400 with the field named", async () => {
    for (const port of ["0", "70000", "abc", "-1"]) {
      const r = await set("member", port, "org");
      assert.deepEqual(errorOf(r), { status: 400, code: "INVALID_ARGUMENT" }, `port ${port}`);
    }
    const r = await set("member", 3000, "everyone");
    assert.deepEqual(errorOf(r), { status: 400, code: "INVALID_ARGUMENT" });
    assert.match((r.body as ErrorBody).message, /visibility/);
  });

  it("every set is audited with its port and visibility, refusals included", async () => {
    const page = await audit.list(LOCAL_ROOT, { action: "port.set", limit: 100 });
    const targets = page.items.map((i) => `${i.target} ${i.result}`);
    assert.ok(targets.includes("web:3000=org ok"), targets.join("\n"));
    assert.ok(targets.includes("web:3000=public denied"), "the refused public set is recorded");
    const other = page.items.filter((i) => i.actor === (callers.other as { userId: string }).userId);
    assert.equal(other.length, 0, "another organisation's refusals are not filed under this organisation");
  });

  it("a stopped environment lists its stored ports, not listening; its rows go with it", async () => {
    await h.envs.stop(callers.member, "web", 0);
    const l = await list();
    assert.equal(l.running, false);
    assert.ok(l.items.length > 0 && l.items.every((i) => !i.listening && i.visibility !== undefined));
    assert.deepEqual(
      l.items.map((i) => i.port),
      [3000, 5173, 9000],
    );
    await h.envs.delete(callers.member, "web", true);
    const rows = await h.store.db.selectFrom("env_ports").selectAll().where("env_id", "=", envId).execute();
    assert.deepEqual(rows, []);
  });
});
