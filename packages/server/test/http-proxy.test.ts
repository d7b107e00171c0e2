// The port proxy in the real daemon wiring (runDaemon + FakeRunner, a node:http app "inside" the
// environment): routing by Host, keep-alive reuse of runner dials, WebSocket, the error pages,
// header hygiene both ways, and waking a stopped environment for a signed-in visitor only.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { parsePortHost, portUrl } from "../src/ingress/port-host.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { get, OWNER_COOKIE, type ProxyWorld, startProxyWorld } from "./http-proxy-world.ts";

let w: ProxyWorld;
const HOST = () => `8080--dev--default.localhost:${w.proxyPort}`;
const owner = { cookie: OWNER_COOKIE };

before(async () => {
  w = await startProxyWorld("warren-http-proxy-");
  w.serve(8080);
});
after(async () => {
  await w?.close();
});

test("GET /api/v1/http/proxy says where port URLs are served", async () => {
  const r = await w.d.app.inject({ method: "GET", url: "/api/v1/http/proxy" });
  const info = JSON.parse(r.body) as Record<string, unknown>;
  assert.deepEqual(info, {
    listening: true,
    host: "127.0.0.1",
    port: w.proxyPort,
    baseDomain: "localhost",
    scheme: "http",
  });
});

test("both host forms reach the app; X-Forwarded-* are the proxy's, not the client's", async () => {
  w.seen.length = 0;
  const spoof = { "x-forwarded-for": "6.6.6.6", "x-forwarded-host": "evil.test", forwarded: "for=6.6.6.6" };
  const a = await get(w, HOST(), { path: "/hello?x=1", headers: { ...owner, ...spoof } });
  assert.equal(a.status, 200, a.body);
  assert.deepEqual(JSON.parse(a.body), { method: "GET", url: "/hello?x=1", bytes: 0 });
  const b = await get(w, `8080--${w.envId}.localhost:${w.proxyPort}`, { path: "/by-id", headers: owner });
  assert.equal(b.status, 200, b.body);
  const [first, second] = w.seen;
  assert.equal(first?.headers["x-forwarded-for"], "127.0.0.1");
  assert.equal(first?.headers["x-forwarded-proto"], "http");
  assert.equal(first?.headers["x-forwarded-host"], HOST());
  assert.equal(first?.headers.forwarded, undefined);
  assert.equal(first?.headers.host, HOST(), "the app sees the Host the browser used");
  assert.equal(second?.url, "/by-id");
  assert.ok(w.activity.includes(`${w.envId} http usr_root`), "a signed-in request counts as activity");
});

test("Warren's credentials are stripped before the app; Basic auth and other cookies pass", async () => {
  w.seen.length = 0;
  const cookie = `a=1; ${OWNER_COOKIE}; __Host-warren_port_x=zz; b=2`;
  await get(w, HOST(), {
    headers: { cookie, authorization: "Bearer wrn_abcdef", "x-warren-token": "wrn_x" },
  });
  await get(w, HOST(), { headers: { ...owner, authorization: "Basic dTpw" } });
  const [stripped, basic] = w.seen;
  assert.equal(stripped?.headers.cookie, "a=1; b=2");
  assert.equal(stripped?.headers.authorization, undefined);
  assert.equal(stripped?.headers["x-warren-token"], undefined);
  assert.equal(basic?.headers.authorization, "Basic dTpw");
  assert.equal(basic?.headers.cookie, undefined, "only Warren's cookie was sent, so none reaches the app");
});

test("an app's Set-Cookie wider than its host, or named like Warren's session, is dropped", async () => {
  const r = await get(w, HOST(), { path: "/cookies", headers: owner });
  assert.equal(r.status, 200);
  assert.deepEqual(r.headers["set-cookie"], ["ok=1; Path=/", "exact=1; Domain=8080--dev--default.localhost"]);
});

test("bodies stream both ways intact", async () => {
  const body = Buffer.alloc(3 * 1024 * 1024, "x");
  const r = await get(w, HOST(), { method: "POST", path: "/upload", headers: owner, body });
  assert.equal(r.status, 200, r.body);
  assert.equal((JSON.parse(r.body) as { bytes: number }).bytes, body.length);
});

test("requests on one client connection reuse one upstream dial", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await get(w, HOST(), { headers: owner, agent }); // warms the pool
    const before = w.fake.callsOf("dial").length;
    for (let i = 0; i < 5; i++) assert.equal((await get(w, HOST(), { headers: owner, agent })).status, 200);
    assert.equal(w.fake.callsOf("dial").length - before, 0, "five requests, no new dial");
  } finally {
    agent.destroy();
  }
});

test("a WebSocket echoes through the proxy", async () => {
  const ws = new WebSocket(`ws://${HOST()}/ws`, {
    headers: owner,
    createConnection: () => net.connect(w.proxyPort, "127.0.0.1"),
  });
  const reply = await new Promise<string>((resolve, reject) => {
    ws.once("open", () => ws.send("ping"));
    ws.once("message", (m) => resolve(String(m)));
    ws.once("error", reject);
  });
  ws.close();
  assert.equal(reply, "echo:ping");
});

test("nothing listening is a 502 that says so", async () => {
  const r = await get(w, `9999--dev--default.localhost:${w.proxyPort}`, { headers: owner });
  assert.equal(r.status, 502);
  assert.match(r.body, /Nothing listens on port 9999 inside dev/);
});

test("malformed Hosts and out-of-range ports are 400", async () => {
  const bad = [
    "8080--DEV--default.localhost", // uppercase
    "99999--dev--default.localhost", // port out of range
    "0--dev--default.localhost",
    "08080--dev--default.localhost", // leading zero
    "8080-dev-default.localhost",
    "8080--dev.localhost", // neither form
    `8080--${"a".repeat(40)}--${"b".repeat(20)}.localhost`, // label over 63 bytes
    "x.8080--dev--default.localhost",
  ];
  for (const h of bad) {
    const r = await get(w, h, { headers: owner });
    assert.equal(r.status, 400, `${h}: ${r.status}`);
    assert.match(r.body, /Bad Host header/);
  }
  const absolute = await get(w, HOST(), { path: "http://other.test/", headers: owner });
  assert.equal(absolute.status, 400);
});

test("unknown env, unknown org, a forbidden env and a foreign domain give the same 404 page", async () => {
  const pages = await Promise.all([
    get(w, `8080--nope--default.localhost:${w.proxyPort}`, { headers: owner }),
    get(w, `8080--dev--nobody.localhost:${w.proxyPort}`, { headers: owner }),
    get(w, `8080--aaaaaaaaaaaa.localhost:${w.proxyPort}`, { headers: owner }),
    get(w, HOST(), { headers: { cookie: "warren_port_s=stranger" } }),
    get(w, "example.com", { headers: owner }),
  ]);
  for (const p of pages) assert.equal(p.status, 404);
  assert.equal(new Set(pages.map((p) => p.body)).size, 1, "the pages must not tell the cases apart");
});

test("no session redirects to sign-in; a foreign-origin POST is refused; auth paths are the proxy's", async () => {
  const r = await get(w, HOST());
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, "http://control.test/signin?port=8080");
  const csrf = await get(w, HOST(), { method: "POST", headers: { ...owner, origin: "http://evil.test" } });
  assert.equal(csrf.status, 403);
  assert.match(csrf.body, /foreign Origin/);
  w.seen.length = 0;
  const signout = await get(w, HOST(), { path: "/__warren/signout" });
  assert.equal(signout.status, 204);
  assert.equal(w.seen.length, 0, "never forwarded to the app");
});

test("a public port is 403 naming the policy until the organisation allows public ports", async () => {
  w.visibility.set(`${w.envId}:8080`, "public");
  try {
    const denied = await get(w, HOST());
    assert.equal(denied.status, 403);
    assert.match(denied.body, /warren quota set --public-ports allow/);
    w.publicOrgs.add(BOOTSTRAP_ORG_ID);
    const before = w.activity.length;
    const anon = await get(w, HOST());
    assert.equal(anon.status, 200, anon.body);
    assert.equal(w.activity.length, before, "anonymous requests are not activity");
  } finally {
    w.visibility.delete(`${w.envId}:8080`);
    w.publicOrgs.clear();
  }
});

test("a stopped env: asleep page for anonymous visitors, woken for a signed-in one", async () => {
  const stop = await w.d.app.inject({ method: "POST", url: "/api/v1/environments/dev/stop", payload: {} });
  assert.equal(stop.statusCode, 200, stop.body);
  w.visibility.set(`${w.envId}:8080`, "public");
  w.publicOrgs.add(BOOTSTRAP_ORG_ID);
  try {
    const anon = await get(w, HOST());
    assert.equal(anon.status, 503);
    assert.match(anon.body, /asleep/);
    const still = JSON.parse((await w.d.app.inject({ method: "GET", url: "/api/v1/environments/dev" })).body);
    assert.equal(still.state, "stopped", "an anonymous visit does not wake it");
    const woke = await get(w, HOST(), { headers: owner });
    assert.equal(woke.status, 200, woke.body);
    const now = JSON.parse((await w.d.app.inject({ method: "GET", url: "/api/v1/environments/dev" })).body);
    assert.equal(now.state, "running");
  } finally {
    w.visibility.delete(`${w.envId}:8080`);
    w.publicOrgs.clear();
  }
});

test("new environment names may not contain --", async () => {
  const r = await w.d.app.inject({ method: "POST", url: "/api/v1/environments", payload: { name: "a--b" } });
  assert.equal(r.statusCode, 400);
  assert.match((JSON.parse(r.body) as { message: string }).message, /"--" is reserved for port URLs/);
});

test("parsePortHost and portUrl agree, and portUrl falls back to the id form", () => {
  const base = { scheme: "http" as const, port: 3000, envId: "abcdefghijkl", baseDomain: "localhost" };
  const readable = portUrl({ ...base, envName: "dev", orgName: "acme", listenPort: 8080 });
  assert.equal(readable, "http://3000--dev--acme.localhost:8080/");
  assert.deepEqual(parsePortHost(new URL(readable).host, "localhost"), {
    port: 3000,
    env: "dev",
    org: "acme",
  });
  assert.equal(
    portUrl({ ...base, envName: "old--name", orgName: "acme" }),
    "http://3000--abcdefghijkl.localhost/",
  );
  assert.equal(
    portUrl({ ...base, envName: "e".repeat(40), orgName: "o".repeat(20) }),
    "http://3000--abcdefghijkl.localhost/",
  );
  assert.equal(
    portUrl({ ...base, envName: "dev", orgName: "Acme Inc", scheme: "https", listenPort: 443 }),
    "https://3000--abcdefghijkl.localhost/",
  );
  assert.deepEqual(parsePortHost("3000--abcdefghijkl.localhost", "localhost"), {
    port: 3000,
    env: "abcdefghijkl",
  });
  assert.equal((parsePortHost("65536--dev--acme.localhost", "localhost") as { error: number }).error, 400);
  assert.equal((parsePortHost("3000--dev--acme.example.com", "localhost") as { error: number }).error, 404);
});
