// OIDC sign-in for port URLs, through the real port proxy (port-auth-world.ts) and a real OpenID
// provider on loopback (oidc-world.ts): a visit without a session goes to the control plane, on to
// the provider, back to the control plane's callback, and on to the port's one-time link, which
// the proxy exchanges for a session. Whom the port does not admit sees the proxy's not-found page.
import assert from "node:assert/strict";
import { request, type Server } from "node:http";
import { after, before, test } from "node:test";
import { parseMapping } from "../src/services/oidc.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { browse, cookiesFrom, json, pathOf, REDIRECT, signIn, startProvider, whoami } from "./oidc-world.ts";
import { type PortWorld, portWorld, startApp } from "./port-auth-world.ts";

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request to the proxy with the Host of `url`. */
function call(w: PortWorld, url: string, cookie?: string): Promise<Res> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: w.proxyPort,
        path: u.pathname + u.search,
        headers: { host: u.host, ...(cookie ? { cookie } : {}) },
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

let w: PortWorld;
let provider: Server;
let mineUrl: string;
let mineId: string;

before(async () => {
  const p = await startProvider({
    dave: { email: "dave@dev.test", groups: ["eng"] },
    frank: { email: "frank@dev.test", groups: ["eng"] },
    erin: { email: "erin@else.test", groups: ["outsiders"] },
  });
  provider = p.server;
  w = await portWorld({
    oidc: {
      issuer: p.issuer,
      clientId: "warren",
      clientSecret: "warren-secret",
      redirectUrl: REDIRECT,
      mapping: parseMapping(
        JSON.stringify([
          { group: "eng", org: "default", role: "member" },
          { group: "outsiders", org: "other", role: "member" },
        ]),
      ),
    },
  });
  // Dave signs in once the ordinary way, to exist and own an environment with an app on 3000.
  const first = await signIn(w.app, "dave");
  assert.equal(first.statusCode, 200, first.body);
  const me = await whoami(w.app, first.json<{ token: string }>().token);
  const dave = {
    kind: "user",
    userId: me.user.id,
    orgId: BOOTSTRAP_ORG_ID,
    role: "member",
    via: "token",
  } as const;
  const { env } = await w.h.envs.create(dave, { name: "mine" });
  mineId = env.id;
  w.h.runner.listeners.set(`${env.id}:3000`, startApp("mine:3000").serve);
  mineUrl = `http://3000--mine--default.${w.base}:${w.proxyPort}/`;
});

after(async () => {
  await w?.close();
  provider?.close();
  provider?.closeAllConnections();
});

/** From a proxy's redirect to the control plane, through the provider, to the callback's answer. */
async function signInAt(location: string, login: string) {
  assert.ok(location.startsWith("http://warren.test/api/v1/auth/port-signin?"), location);
  const start = await w.app.inject({ method: "GET", url: pathOf(location) });
  assert.equal(start.statusCode, 302, start.body);
  const cookie = cookiesFrom(start);
  const back = await browse(String(start.headers.location), login);
  return { back, cookie };
}

test("a private port visit signs in through OIDC and lands on the app with a session", async () => {
  const visit = await call(w, mineUrl);
  assert.equal(visit.status, 302, visit.body);
  const location = String(visit.headers.location);
  assert.equal(
    location,
    `http://warren.test/api/v1/auth/port-signin?env=${mineId}&port=3000`,
    "the control plane's own origin, naming the environment by id and the port",
  );
  const { back, cookie } = await signInAt(location, "dave");
  const cb = await w.app.inject({ method: "GET", url: pathOf(back), headers: { cookie } });
  assert.equal(cb.statusCode, 302, cb.body);
  const link = new URL(String(cb.headers.location));
  assert.equal(link.host, new URL(mineUrl).host, "back to the port's own host");
  assert.equal(link.pathname, "/__warren/auth");
  assert.doesNotMatch(cb.body + String(cb.headers["set-cookie"] ?? ""), /wrn_/, "no token minted");

  const exchanged = await call(w, link.toString());
  assert.equal(exchanged.status, 302, exchanged.body);
  const sc = exchanged.headers["set-cookie"];
  const pair = String(Array.isArray(sc) ? sc[0] : sc).split(";")[0]!;
  const app = await call(w, mineUrl, pair);
  assert.equal(app.status, 200, app.body);
  assert.match(app.body, /hello from mine:3000/);
  // The code worked once.
  assert.notEqual((await call(w, link.toString())).status, 302);
});

test("someone the port does not admit gets the same page as an unknown environment", async () => {
  const unknown = await call(w, `http://3000--nosuch--default.${w.base}:${w.proxyPort}/`);
  assert.equal(unknown.status, 404);
  for (const login of ["erin" /* another organisation */, "frank" /* a member; the port is private */]) {
    const visit = await call(w, mineUrl);
    const { back, cookie } = await signInAt(String(visit.headers.location), login);
    const cb = await w.app.inject({ method: "GET", url: pathOf(back), headers: { cookie } });
    assert.equal(cb.statusCode, 404, `${login}: ${cb.body}`);
    assert.equal(cb.headers.location, undefined);
    assert.equal(cb.body, unknown.body, `${login} sees the proxy's not-found page`);
  }
});

test("a tampered state is refused, and the start takes an environment id, never a host", async () => {
  const visit = await call(w, mineUrl);
  const { back, cookie } = await signInAt(String(visit.headers.location), "dave");
  const forged = new URL(back);
  forged.searchParams.set("state", `${forged.searchParams.get("state")}x`);
  const bad = await w.app.inject({
    method: "GET",
    url: pathOf(forged.toString()),
    headers: { cookie, ...json },
  });
  assert.equal(bad.statusCode, 401, bad.body);
  assert.equal(bad.headers.location, undefined);
  // The untampered state still works once, for the browser that started it, and only that.
  const good = await w.app.inject({ method: "GET", url: pathOf(back), headers: { cookie } });
  assert.equal(good.statusCode, 302, good.body);
  assert.equal(new URL(String(good.headers.location)).host, new URL(mineUrl).host);
  const again = await w.app.inject({ method: "GET", url: pathOf(back), headers: { cookie, ...json } });
  assert.equal(again.statusCode, 401, again.body);

  const host = await w.app.inject({
    method: "GET",
    url: "/api/v1/auth/port-signin?env=evil.example&port=3000",
    headers: json,
  });
  assert.equal(host.statusCode, 400, host.body);
  const range = await w.app.inject({
    method: "GET",
    url: `/api/v1/auth/port-signin?env=${mineId}&port=70000`,
  });
  assert.equal(range.statusCode, 400, range.body);
});
