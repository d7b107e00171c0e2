// Port sign-in in a real browser: Debian's Chromium driven by playwright-core (nothing downloads a
// browser), against the real port proxy on 127.0.0.1. Apps run "inside" fake environments
// (port-auth-world.ts).
//
// The base domain is `warren.test`, mapped to loopback by Chromium's host resolver rules, not
// `localhost`: Chromium treats `localhost` as a top-level domain, so every `*.localhost` port host
// is a site of its own and SameSite=Lax alone keeps one environment's page from riding another's
// cookie. Under a registrable domain (`warren.test`, or an operator's `apps.example.com` that is
// not on the Public Suffix List) all port hosts are one site; that is the case the CSRF and
// WebSocket Origin rules exist for, so that is the one tested.
// The sign-in link comes from the API as `warren port open` gets it.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { type PortWorld, portWorld } from "./port-auth-world.ts";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: scripts/setup.sh --test installs Debian's chromium`;

/** The page's DOM, typed just enough for the scripts below (this package compiles without lib "dom"). */
interface PageNode {
  appendChild(n: PageNode): void;
  submit(): void;
  method: string;
  action: string;
  name: string;
  value: string;
}
interface PageDoc {
  cookie: string;
  body: PageNode;
  createElement(tag: string): PageNode;
}

let w: PortWorld;
let browser: Browser;
before(async () => {
  if (skip) return;
  w = await portWorld({ baseDomain: "warren.test" });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--host-resolver-rules=MAP *.warren.test 127.0.0.1"],
  });
});
after(async () => {
  await browser?.close();
  await w?.close();
});

/** A fresh browser profile (cookie jar) signed in to ENV:PORT as `who` through the link. */
async function signedIn(who: "alice" | "bob", env: "web" | "api", port: number): Promise<BrowserContext> {
  const ctx = await browser.newContext();
  const link = await w.signinLink(who, env, port);
  assert.equal(link.status, 200, JSON.stringify(link.body));
  const page = await ctx.newPage();
  await page.goto(link.body.url);
  assert.equal(page.url(), `${w.url(env, port)}/`);
  await page.close();
  return ctx;
}

test("a private URL redirects to sign-in, and the link lands on the app", { skip }, async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const first = await page.goto(`${w.url("web", 3000)}/`);
  assert.equal(first?.status(), 401);
  assert.equal(page.url(), `${w.url("web", 3000)}/__warren/signin`);
  assert.match((await page.textContent("body")) ?? "", /warren port open web 3000/);

  const link = await w.signinLink("alice", "web", 3000);
  const landed = await page.goto(link.body.url);
  assert.equal(landed?.status(), 200);
  assert.equal(page.url(), `${w.url("web", 3000)}/`);
  assert.equal(await page.textContent("#app"), "hello from web:3000");
  assert.equal(await page.textContent("#cookie"), "", "the app never sees Warren's cookie");
  const cookies = await ctx.cookies();
  assert.equal(cookies.length, 1);
  assert.equal(cookies[0]?.domain, "3000--web--default.warren.test", "host-only, no Domain");
  assert.ok(cookies[0]?.httpOnly && cookies[0]?.sameSite === "Lax");
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as { document: PageDoc }).document.cookie),
    "",
    "scripts cannot read it",
  );
  await ctx.close();
});

test("another organisation's user gets the same 404 as an unknown port", { skip }, async () => {
  // carol (another organisation) cannot get a sign-in link: the refusal is an unknown environment's.
  const theirs = await w.signinLink("carol", "web", 3000);
  const unknown = await w.signinLink("carol", "nope", 3000);
  assert.equal(theirs.status, 404);
  assert.equal(theirs.body.code, unknown.body.code);
  // In carol's browser alice's environment reads exactly as one that does not exist in the
  // organisation named by the URL: the proxy's one 404 page.
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const a = await page.goto(`http://3000--nope--default.warren.test:${w.proxyPort}/`);
  const aText = await page.textContent("body");
  const b = await page.goto(`http://3000--web--other.warren.test:${w.proxyPort}/`);
  const bText = await page.textContent("body");
  assert.equal(a?.status(), 404);
  assert.equal(b?.status(), 404);
  assert.equal(aText, bText);
  await ctx.close();
});

test("an org port works for a member", { skip }, async () => {
  await w.ports.set(w.users.alice, "web", 4000, "org");
  const ctx = await signedIn("bob", "web", 4000);
  const page = await ctx.newPage();
  await page.goto(`${w.url("web", 4000)}/`);
  assert.equal(await page.textContent("#app"), "hello from web:4000");
  await ctx.close();
});

test("a WebSocket echo works, and a foreign Origin is refused", { skip }, async () => {
  const ctx = await signedIn("alice", "web", 3000);
  const page = await ctx.newPage();
  await page.goto(`${w.url("web", 3000)}/`);
  const wsUrl = `ws://3000--web--default.warren.test:${w.proxyPort}/ws`;
  const echo = await page.evaluate(
    (u) =>
      new Promise<string>((resolve) => {
        const s = new WebSocket(u);
        s.onopen = () => s.send("ping");
        s.onmessage = (e) => resolve(String(e.data));
        s.onerror = () => resolve("error");
      }),
    wsUrl,
  );
  assert.equal(echo, "echo:ping");
  // Another environment's page (alice's "api", which she is signed in to as well) opens a socket
  // to "web": the browser sends web's cookie (same site), and the proxy refuses on Origin.
  const other = await signedIn("alice", "api", 3000);
  const attacker = await other.newPage();
  await attacker.goto(`${w.url("api", 3000)}/`);
  await ctx.addCookies(await other.cookies()); // one browser holding both sessions
  const evil = await ctx.newPage();
  await evil.goto(`${w.url("api", 3000)}/`);
  const refused = await evil.evaluate(
    (u) =>
      new Promise<string>((resolve) => {
        const s = new WebSocket(u);
        s.onopen = () => resolve("open");
        s.onerror = () => resolve("refused");
      }),
    wsUrl,
  );
  assert.equal(refused, "refused");
  assert.match(w.refusals.at(-1) ?? "", /^WebSocket refused/, "refused on Origin, with the cookie sent");
  await other.close();
  await ctx.close();
});

test("a POST from another environment's page is refused", { skip }, async () => {
  const ctx = await signedIn("alice", "web", 3000);
  const api = await signedIn("alice", "api", 3000);
  await ctx.addCookies(await api.cookies());
  await api.close();
  const page = await ctx.newPage();
  const target = `${w.url("web", 3000)}/transfer`;
  /** Submits a form posting to `target` from the page now open; returns the answer's status and text. */
  const submit = async () => {
    const answer = page.waitForResponse((r) => r.url() === target && r.request().method() === "POST");
    await page.evaluate((action) => {
      const document = (globalThis as unknown as { document: PageDoc }).document;
      const f = document.createElement("form");
      f.method = "POST";
      f.action = action;
      const i = document.createElement("input");
      i.name = "amount";
      i.value = "100";
      f.appendChild(i);
      document.body.appendChild(f);
      f.submit();
    }, target);
    const r = await answer;
    return { status: r.status(), text: await r.text() };
  };
  // A form on api's page posting to web: a top-level, same-site navigation that carries web's cookie.
  await page.goto(`${w.url("api", 3000)}/`);
  const foreign = await submit();
  assert.equal(foreign.status, 403);
  assert.match(foreign.text, /another environment/);
  // The same form on web's own page goes through.
  await page.goto(`${w.url("web", 3000)}/`);
  const own = await submit();
  assert.equal(own.status, 200);
  assert.match(own.text, /posted to web:3000: amount=100/);
  await ctx.close();
});

test("sign-out ends access", { skip }, async () => {
  const ctx = await signedIn("alice", "web", 3000);
  const page = await ctx.newPage();
  await page.goto(`${w.url("web", 3000)}/`);
  assert.equal(await page.textContent("#app"), "hello from web:3000");
  const out = await page.goto(`${w.url("web", 3000)}/__warren/signout`);
  assert.equal(out?.status(), 200);
  assert.deepEqual(await ctx.cookies(), []);
  await page.goto(`${w.url("web", 3000)}/`);
  assert.equal(page.url(), `${w.url("web", 3000)}/__warren/signin`);
  await ctx.close();
});
