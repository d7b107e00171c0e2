// The control-plane host of the ingress listener (dashboard-world.ts): the dashboard's files with
// their cache and security headers, the SPA fallback, the "not built" page, the API by IP literal
// (what Prometheus scrapes), nothing else of the app, and the exec WebSocket with a dashboard
// session (CSRF as a subprotocol, the dashboard's Origin) ending when the session signs out.
import assert from "node:assert/strict";
import { renameSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { Channel, parseFrame } from "@warren/protocol";
import WebSocket from "ws";
import { DASHBOARD_CSP } from "../src/http/dashboard-site.ts";
import { type DashboardWorld, dashboardWorld, INDEX_HTML } from "./dashboard-world.ts";

let w: DashboardWorld;
before(async () => {
  w = await dashboardWorld();
});
after(() => w?.close());

test("the dashboard's files: index never cached, hashed assets for a year, SPA fallback, strict headers", async () => {
  const index = await w.request("GET", "/");
  assert.equal(index.status, 200);
  assert.equal(index.body, INDEX_HTML);
  assert.equal(index.headers["content-type"], "text/html; charset=utf-8");
  assert.equal(index.headers["cache-control"], "no-store");
  assert.equal(index.headers["content-security-policy"], DASHBOARD_CSP);
  assert.match(DASHBOARD_CSP, /default-src 'self'; connect-src 'self'.*frame-ancestors 'none'/);
  assert.equal(index.headers["x-content-type-options"], "nosniff");
  const asset = await w.request("GET", "/assets/app-0a1b2c.js");
  assert.equal(asset.status, 200);
  assert.equal(asset.headers["content-type"], "text/javascript; charset=utf-8");
  assert.equal(asset.headers["cache-control"], "public, max-age=31536000, immutable");
  const route = await w.request("GET", "/environments/web");
  assert.equal(route.status, 200);
  assert.equal(route.body, INDEX_HTML, "an address of the app gets the app");
  assert.equal((await w.request("GET", "/assets/missing.js")).status, 404);
  assert.equal((await w.request("GET", "/assets/%00.js")).status, 400);
  // Dot segments resolve inside the dashboard (to the app or a 404), never to a file outside it.
  for (const p of ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/assets/..%2f..%2f..%2fetc%2fpasswd"]) {
    const r = await w.request("GET", p);
    assert.ok([200, 400, 404].includes(r.status), `${p}: ${r.status}`);
    assert.ok(r.status !== 200 || r.body === INDEX_HTML, `${p}: only the app itself`);
    assert.doesNotMatch(r.body, /root:/);
  }
  const post = await w.request("POST", "/");
  assert.equal(post.status, 405);
});

test("the control host serves the API by name and by IP literal, and nothing else of the app", async () => {
  const byIp = await w.request("GET", "/api/v1/health", { host: `127.0.0.1:${w.port}` });
  assert.equal(byIp.status, 200, byIp.body);
  const byName = await w.request("GET", "/api/v1/environments", {
    authorization: `Bearer ${w.users.alice.token}`,
  });
  assert.equal(byName.status, 200);
  // Over TCP no request is the local root: without a credential, 401.
  const anon = await w.request("GET", "/api/v1/environments", { host: `[::1]:${w.port}` });
  assert.equal(anon.status, 401);
  const runner = await w.request("GET", "/api/runner/v1/ping", {
    authorization: `Bearer ${w.users.alice.token}`,
  });
  assert.equal(runner.status, 404, "the runners' API is not on the dashboard's host");
  assert.match(runner.body, /is not served on this host/);
  // A port host still goes to the port proxy.
  const portHost = await w.request("GET", "/", { host: `3000--web--default.localhost:${w.port}` });
  assert.notEqual(portHost.body, INDEX_HTML);
});

test("the exec WebSocket: the CSRF token as a subprotocol and the dashboard's Origin; sign-out ends it", async () => {
  const s = await w.signIn("alice");
  const url = `ws://127.0.0.1:${w.port}/api/v1/environments/web/exec?cmd=${encodeURIComponent('["cat"]')}`;
  const open = (protocols: string[], origin: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, protocols, { headers: { host: w.host, cookie: s.cookie }, origin });
      ws.once("open", () => resolve(ws));
      ws.once("unexpected-response", (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
      ws.once("error", reject);
    });
  await assert.rejects(open(["warren.exec", `csrf.${s.csrf}`], w.portOrigin), /refused 403/);
  await assert.rejects(open(["warren.exec"], w.origin), /refused 403/);
  await assert.rejects(open(["warren.exec", "csrf.wrong"], w.origin), /refused 403/);
  const ws = await open(["warren.exec", `csrf.${s.csrf}`], w.origin);
  assert.equal(ws.protocol, "warren.exec", "the server echoes warren.exec, never the token");
  const closed = new Promise<number>((resolve) => ws.on("close", (code: number) => resolve(code)));
  const frames: string[] = [];
  ws.on("message", (d: Buffer) => {
    const f = parseFrame(d);
    if (f.channel === Channel.control) frames.push(f.data.toString());
  });
  await new Promise((r) => setTimeout(r, 100));
  const out = await w.request("POST", "/api/v1/auth/dashboard/signout", w.own(s));
  assert.equal(out.status, 204);
  assert.equal(await closed, 4401, frames.join(" "));
  assert.match(frames.join(""), /signed out/);
});

test("without a built dashboard the page says how to build it", async () => {
  renameSync(path.join(w.dist, "index.html"), path.join(w.dist, "index.off"));
  try {
    const r = await w.request("GET", "/");
    assert.equal(r.status, 503);
    assert.match(r.body, /The dashboard is not built/);
    assert.match(r.body, /scripts\/setup\.sh/);
  } finally {
    renameSync(path.join(w.dist, "index.off"), path.join(w.dist, "index.html"));
  }
});
