// The authorization matrix (issue 5, "Tests that must exist"). The routes come from the app itself
// (an onRoute hook), so a new endpoint is covered, or fails here, without anyone remembering to add
// it; what each principal may do comes from the hand-written table in authz-matrix-table.ts.
//
// Every route is called over the remote transport as: anonymous, an owner of another organisation
// (the strongest outsider: only organisation scoping can stop it), a member who owns the objects
// in the path, a second member ("peer"), an admin, an owner, and a runner token. Checked:
// - below the least role: exactly 401 (anonymous), 403 (runner tokens on user routes, users on
//   runner routes, roles below the least one), so never a 2xx;
// - a path that names one of organisation A's objects: the other organisation gets 404, never 403;
//   the peer gets 404 for the member's own objects (environments, tokens);
// - at or above the least role: neither 401 nor 403, nor a 5xx, nor a 404 for the real object;
// - a refused call changes nothing in organisation A, and nothing the other organisation does,
//   refused or not, changes organisation A or shows any of its objects in a 2xx body; the peer's
//   2xx bodies never show the member's environment.
// WebSocket routes answer a plain GET with a bare 404 once past the auth hook, which says nothing
// (and is not in the OpenAPI document), so the matrix makes the plain call only where the gate must
// refuse it (401/403); the tests at the end open real sockets (injectWS) for the rest, and a new
// WebSocket route fails until it has such a test (WS_TESTED).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Channel, parseFrame, RUNNER_PROTOCOL_HEADER, RUNNER_WIRE_VERSION } from "@warren/protocol";
import { AUTHZ, type Least, OWNER_TOKEN, type Variant } from "./authz-matrix-table.ts";
import {
  changes,
  FIX,
  freshSshKey,
  matrixWorld,
  ORG_A,
  WHO,
  type Who,
  type World,
} from "./authz-matrix-world.ts";

interface Route {
  method: string;
  url: string;
  websocket: boolean;
}
/**
 * Whose object a path parameter names: the member's, an owner's (of organisation A), organisation
 * A's, or the caller's own namespace.
 */
type Owner = "member" | "owner" | "org" | "caller";
type Expect = { exact: number } | { gate: true; real: boolean };

const RANK: Record<Exclude<Least, "runner" | "server-admin" | "server-owner">, number> = {
  public: 0,
  member: 1,
  admin: 2,
  owner: 3,
};
const ROLE = { other: "owner", member: "member", peer: "member", admin: "admin", owner: "owner" } as const;

let w: World;
const routes: Route[] = [];
before(async () => {
  w = await matrixWorld();
  // Before ready(): build() registers its routes in a plugin that loads then, so this sees them all.
  w.app.addHook("onRoute", (r) => {
    for (const method of [r.method].flat()) {
      if (method !== "HEAD") routes.push({ method, url: r.url, websocket: Boolean(r.websocket) });
    }
  });
  await w.app.ready();
});
after(() => w?.close());

const keyOf = (r: Route) => `${r.method} ${r.url}`;
/** WebSocket routes whose sockets the tests below open as every principal. */
const WS_TESTED = new Set([
  "GET /api/v1/environments/:name/exec",
  "GET /api/v1/environments/:name/port-forward",
  "GET /api/runner/v1/connect",
]);

async function param(route: string, name: string): Promise<{ value: string; owner: Owner }> {
  if (name === "name" && route.includes("/environments/")) return { value: FIX.env, owner: "member" };
  if (name === "name" && route.includes("/classes/")) return { value: FIX.cls, owner: "org" };
  if (name === "name" && route.includes("/fleet/runners/")) return { value: FIX.runner, owner: "org" };
  if (name === "name" && route.includes("/secrets/")) return { value: FIX.secret, owner: "caller" };
  if (name === "scope") return { value: "org", owner: "caller" };
  if (name === "id" && route.includes("/tokens/")) return { value: await w.memberTokenId(), owner: "member" };
  if (name === "id" && route.includes("/ssh-keys/"))
    return { value: await w.memberSshKeyId(), owner: "member" };
  // A port of the member's environment (its visibility is private unless set).
  if (name === "port") return { value: "8080", owner: "member" };
  // A service or task of the member's environment (its automations: none, so a 400 past the gate).
  if (name === "service" || name === "task") return { value: "web", owner: "member" };
  // A lifecycle hook of the member's environment (not a repository environment: a 400 past the gate).
  if (name === "hook") return { value: "postCreateCommand", owner: "member" };
  if (name === "org") return { value: ORG_A, owner: "org" };
  if (name === "user") return { value: FIX.victim, owner: "org" };
  if (name === "ref") return { value: FIX.image, owner: "org" };
  // Registry logins are addressed by host within the caller's own organisation.
  if (name === "host") return { value: FIX.registry, owner: "caller" };
  throw new Error(
    `${route}: no fixture for path parameter ":${name}"; add one to param() in authz-matrix.test.ts`,
  );
}

type Params = Record<string, string>;
/** Plausible minimal bodies, so that validation does not answer before the role gate. */
const BODY: Record<string, (who: Who, p: Params) => unknown> = {
  "POST /api/v1/environments": (who) => ({ name: `mx-new-${who}` }),
  "PATCH /api/v1/environments/:name": () => ({ cpus: 1 }),
  "POST /api/v1/environments/:name/stop": () => ({ graceSeconds: 0 }),
  "PUT /api/v1/environments/:name/ports/:port": () => ({ visibility: "org" }),
  "POST /api/v1/classes": (who) => ({ name: `mx-cls-${who}`, cpus: 1, memory: "256m", disk: "1g" }),
  "POST /api/v1/tokens": () => ({ name: "mx" }),
  "POST /api/v1/admin/runner-tokens": () => ({ name: "mx" }),
  "POST /api/v1/orgs/:org/members": (who) => ({ name: `mx-added-${who}`, role: "member" }),
  "PUT /api/v1/orgs/:org/quotas": () => ({ userMaxRunning: 50 }),
  "POST /api/v1/images/import": (who) => ({ path: "/nonexistent/mx.tar", ref: `mx/import-${who}:1` }),
  "POST /api/v1/images/pull": () => ({ ref: `${FIX.registry}/app:1` }),
  "POST /api/v1/images/base": () => ({}),
  "PUT /api/v1/registries/:host": (who) => ({ username: `mx-${who}`, password: "pw" }),
  "PUT /api/v1/secrets/:scope/:name": (who, p) => ({
    value: `mx-value-${who}`,
    kind: "env",
    ...(p["scope"] === "project" ? { project: FIX.project } : {}),
  }),
  "POST /api/v1/ssh-keys": (who) => ({ publicKey: freshSshKey(who) }),
  "POST /api/v1/auth/device": () => ({}),
  // Refused past the gate (a file:// URL), so an admin's call makes nothing.
  "POST /api/v1/prebuilds": () => ({ repo: "file:///mx-refused" }),
  "POST /api/v1/auth/device/token": () => ({ device_code: "mx-unknown-code" }),
  // An empty pool: an admin's call keeps no environment.
  "POST /api/v1/pools": () => ({ image: "mx/pool:1", min: 0, max: 0 }),
};
const QUERY: Record<string, (p: Params) => string> = {
  "POST /api/v1/environments": () => "wait=0",
  "DELETE /api/v1/prebuilds": () => "repo=mx-none",
  "DELETE /api/v1/pools": () => "image=mx%2Fpool%3A1",
  "DELETE /api/v1/secrets/:scope/:name": (p) =>
    p["scope"] === "project" ? `project=${encodeURIComponent(FIX.project)}` : "",
  "GET /api/v1/environments/:name/exec": () => `cmd=${encodeURIComponent('["exit","0"]')}`,
};

function expected(least: Least, who: Who, owners: Owner[]): Expect {
  const real = owners.some((o) => o !== "caller");
  if (who === "anonymous") return least === "public" ? { gate: true, real: false } : { exact: 401 };
  if (who === "runner") return least === "runner" ? { gate: true, real: false } : { exact: 403 };
  if (least === "runner") return { exact: 403 };
  if (least === "public") return { gate: true, real: false };
  if (who === "other" && real) return { exact: 404 };
  if (who === "peer" && owners.includes("member")) return { exact: 404 };
  // Another user's token is not the member's to see.
  if ((who === "member" || who === "peer") && owners.includes("owner")) return { exact: 404 };
  // The other organisation's owner is a tenant: never a server owner (org A is the first org).
  if (least === "server-owner") return who === "other" ? { exact: 403 } : expected("owner", who, owners);
  if (least === "server-admin") return who === "other" ? { exact: 403 } : expected("admin", who, owners);
  return RANK[ROLE[who]] >= RANK[least] ? { gate: true, real } : { exact: 403 };
}

const variantsOf = (key: string): Variant[] => {
  const e = AUTHZ[key];
  return e === undefined ? [] : typeof e === "string" ? [{ label: "", least: e, params: {} }] : e;
};

test("every registered route is in the hand-written table, and every table entry is a route", () => {
  assert.ok(routes.length > 40, `the onRoute hook saw the routes (${routes.length})`);
  const registered = new Set(routes.map(keyOf));
  const missing = [...registered].filter((k) => !(k in AUTHZ)).sort();
  const stale = Object.keys(AUTHZ)
    .filter((k) => !registered.has(k))
    .sort();
  assert.deepEqual(
    missing,
    [],
    `routes with no entry in authz-matrix-table.ts (add their least role): ${missing.join(", ")}`,
  );
  assert.deepEqual(stale, [], `table entries with no such route (remove or fix them): ${stale.join(", ")}`);
  const untested = routes.filter((r) => r.websocket && !WS_TESTED.has(keyOf(r))).map(keyOf);
  assert.deepEqual(
    untested,
    [],
    "WebSocket routes need a test that opens them as every principal (WS_TESTED)",
  );
});

test("every route, as every principal: no unexpected 2xx, 401/403/404 where due, nothing leaks", async () => {
  const failures: string[] = [];
  let calls = 0;
  const sorted = [...routes].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  for (const route of sorted) {
    const key = keyOf(route);
    for (const v of variantsOf(key)) {
      for (const who of WHO) {
        await w.ensure();
        if (who === "other") await w.forgetOrgB();
        const params: Params = {};
        const owners: Owner[] = [];
        let url = route.url;
        for (const [, name] of route.url.matchAll(/:([A-Za-z0-9_]+)/g)) {
          const p = await param(route.url, name!);
          params[name!] = v.params[name!] ?? p.value;
          if (params[name!] === OWNER_TOKEN) params[name!] = await w.ownerTokenId();
          owners.push(v.params[name!] === OWNER_TOKEN ? "owner" : p.owner);
          url = url.replace(`:${name}`, encodeURIComponent(params[name!]!));
        }
        const query = QUERY[key]?.(params) ?? "";
        if (query) url += `?${query}`;
        const body = BODY[key]?.(who, params);
        const exp = expected(v.least, who, owners);
        if (route.websocket && !("exact" in exp && exp.exact !== 404)) continue;
        const token = w.tokens[who];
        const before = await w.snapshot();
        const res = await w.app.inject({
          method: route.method as "GET",
          url,
          // JSON errors, as the CLI asks for: sign-in pages answer browsers with HTML otherwise.
          headers: { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
          ...(body !== undefined ? { payload: body as object } : {}),
        });
        calls++;
        const status = res.statusCode;
        const where = `${who} ${route.method} ${url}${v.label ? ` (${v.label})` : ""}: ${status} ${res.body.slice(0, 160)}`;
        const ok2xx = status >= 200 && status < 300;
        if ("exact" in exp) {
          if (status !== exp.exact) failures.push(`${where}; expected ${exp.exact} (least role: ${v.least})`);
        } else if (status === 401 || status === 403) {
          failures.push(`${where}; the role gate refused a caller at or above "${v.least}"`);
        } else if (status >= 500) {
          failures.push(`${where}; past the gate the server failed`);
        } else if (exp.real && status === 404) {
          failures.push(`${where}; the object exists and this caller may reach it`);
        }
        if (!ok2xx || who === "other") {
          const changed = changes(before, await w.snapshot());
          if (changed) failures.push(`${where}; changed organisation A's state: ${changed}`);
        }
        const secret = who === "other" ? w.markers : who === "peer" ? w.memberMarkers : [];
        if (ok2xx && secret.length > 0) {
          const sent = url + JSON.stringify(body ?? "");
          const leaked = secret.filter((m) => !sent.includes(m) && res.body.includes(m));
          if (leaked.length > 0) failures.push(`${where}; shows what it may not see: ${leaked.join(", ")}`);
        }
      }
    }
  }
  assert.ok(calls >= routes.length * 3, `the matrix made ${calls} calls`);
  assert.deepEqual(failures, [], `${failures.length} authorization failures:\n${failures.join("\n")}`);
});

/** Opens a WebSocket as `who`; `first` is its first control frame (exec's exit or error). */
async function openWs(path: string, who: Who, extra: Record<string, string> = {}) {
  const token = w.tokens[who];
  let first!: Promise<{ type: string; code?: unknown }>;
  const headers = { ...extra, ...(token ? { authorization: `Bearer ${token}` } : {}) };
  // The server may answer before injectWS resolves, so listen from the start (onInit).
  const ws = await w.app.injectWS(
    path,
    { headers },
    {
      onInit: (sock) => {
        first = new Promise((resolve, reject) => {
          sock.on("message", (data: Buffer) => {
            const f = parseFrame(data);
            if (f.channel === Channel.control) resolve(JSON.parse(f.data.toString("utf8")));
          });
          sock.on("close", () => reject(new Error(`${who}: closed before a control frame`)));
        });
      },
    },
  );
  first.catch(() => undefined); // a socket that closes without one is the caller's to assert on
  return { ws, first };
}

test("exec over a real WebSocket: the environment's owner and admins run; others get ENV_NOT_FOUND", async () => {
  await w.ensure();
  const path = `/api/v1/environments/${FIX.env}/exec?cmd=${encodeURIComponent('["exit","7"]')}`;
  await assert.rejects(openWs(path, "anonymous"), /401/);
  await assert.rejects(openWs(path, "runner"), /403/);
  for (const who of ["member", "admin", "owner", "peer", "other"] as const) {
    const { ws, first } = await openWs(path, who);
    try {
      const msg = await first;
      if (who === "peer" || who === "other")
        assert.deepEqual([msg.type, msg.code], ["error", "ENV_NOT_FOUND"], who);
      else assert.deepEqual(msg, { type: "exit", code: 7 }, who);
    } finally {
      ws.terminate();
    }
  }
});

test("port-forward over a real WebSocket: the owner and admins connect; others get ENV_NOT_FOUND", async () => {
  await w.ensure();
  const { id } = await w.h.store.db
    .selectFrom("environments")
    .select("id")
    .where("name", "=", FIX.env)
    .executeTakeFirstOrThrow();
  w.h.runner.listeners.set(`${id}:7070`, (s) => s.end("hello"));
  const path = `/api/v1/environments/${FIX.env}/port-forward?port=7070`;
  await assert.rejects(openWs(path, "anonymous"), /401/);
  await assert.rejects(openWs(path, "runner"), /403/);
  for (const who of ["peer", "other"] as const) await assert.rejects(openWs(path, who), /404/, who);
  for (const who of ["member", "admin", "owner"] as const) {
    const { ws } = await openWs(path, who);
    ws.terminate();
  }
});

test("the runner's connect upgrades for runner tokens only", async () => {
  const path = "/api/runner/v1/connect";
  await assert.rejects(openWs(path, "anonymous"), /401/);
  for (const who of ["member", "peer", "admin", "owner", "other"] as const) {
    await assert.rejects(openWs(path, who), /403/, who);
  }
  // Authenticated, but without a protocol version (a v1 runner): refused before the upgrade.
  await assert.rejects(openWs(path, "runner"), /426/);
  const { ws } = await openWs(path, "runner", { [RUNNER_PROTOCOL_HEADER]: String(RUNNER_WIRE_VERSION) });
  // Past the gate: this in-process app has no runner hub, so the socket is closed with a reason.
  const closed = await new Promise<number>((resolve) => ws.on("close", (code: number) => resolve(code)));
  assert.equal(closed, 1008);
});

test("host details (init's pid, cgroup paths) show to admins and owners only", async () => {
  await w.ensure();
  const observed = async (who: Who) => {
    const res = await w.app.inject({
      method: "GET",
      url: `/api/v1/environments/${FIX.env}`,
      headers: { authorization: `Bearer ${w.tokens[who]}` },
    });
    assert.equal(res.statusCode, 200, `${who}: ${res.body}`);
    return (res.json() as { observed?: Record<string, unknown> }).observed ?? {};
  };
  const mine = await observed("member");
  assert.ok(
    !("pid" in mine) && !("cgroupPaths" in mine),
    `the member sees host details: ${JSON.stringify(mine)}`,
  );
  for (const who of ["admin", "owner"] as const) {
    const o = await observed(who);
    assert.equal(typeof o["pid"], "number", who);
    assert.ok(o["cgroupPaths"], who);
  }
});
