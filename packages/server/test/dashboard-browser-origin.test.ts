// The dashboard's cookie in a real browser (Debian's Chromium via playwright-core; nothing
// downloads a browser), against the real ingress listener on 127.0.0.1 (dashboard-world.ts).
//
// The base domain is `warren.test` over https (as Warren serves any base domain but localhost),
// mapped to loopback by Chromium's host resolver rules: the
// dashboard (`warren.warren.test`) and every port URL (`3000--web--default.warren.test`) are then
// one "site", so the browser sends the SameSite=Lax session cookie along with requests an
// environment's page makes to the dashboard. Those must be refused by the server, not only by the
// browser's CORS: the app records what it answered to requests that carried the cookie.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { type DashboardWorld, dashboardWorld } from "./dashboard-world.ts";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: scripts/setup.sh --test installs Debian's chromium`;

let w: DashboardWorld;
let browser: Browser;
let ctx: BrowserContext;
before(async () => {
  if (skip) return;
  w = await dashboardWorld({ baseDomain: "warren.test", publicApp: true, tls: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // The world's certificate is self-signed for *.warren.test.
    args: [
      "--no-sandbox",
      "--ignore-certificate-errors",
      "--host-resolver-rules=MAP *.warren.test 127.0.0.1",
    ],
  });
  // Signed in through a one-time link, as `warren dashboard` gives one.
  ctx = await browser.newContext();
  const link = await w.app.inject({
    method: "POST",
    url: "/api/v1/auth/dashboard/link",
    headers: { authorization: `Bearer ${w.users.alice.token}` },
  });
  const page = await ctx.newPage();
  await page.goto((link.json() as { url: string }).url);
  assert.equal(page.url(), `${w.origin}/`, "the code is gone from the address bar");
  await page.close();
});
after(async () => {
  await browser?.close();
  await w?.close();
});

/** Runs `fetch` in the page; the status, or "blocked" when the browser gives the page no answer. */
const fetchIn = (page: Page, url: string, headers: Record<string, string>) =>
  page.evaluate(
    async ([u, h]) => {
      try {
        const r = await fetch(u, { credentials: "include", headers: h });
        return String(r.status);
      } catch {
        return "blocked";
      }
    },
    [url, headers] as const,
  );

/** Opens the dashboard's exec WebSocket from the page: "open" (and its protocol) or "refused". */
const wsIn = (page: Page, url: string, csrf: string) =>
  page.evaluate(
    ([u, token]) =>
      new Promise<string>((resolve) => {
        const s = new WebSocket(u, ["warren.exec", `csrf.${token}`]);
        s.onopen = () => {
          resolve(`open ${s.protocol}`);
          s.close();
        };
        s.onerror = () => resolve("refused");
      }),
    [url, csrf] as const,
  );

test("the session cookie is host-only, HttpOnly, Secure and SameSite=Lax", { skip }, async () => {
  const cookies = await ctx.cookies();
  assert.equal(cookies.length, 1);
  assert.equal(cookies[0]?.name, "warren_session");
  assert.equal(cookies[0]?.domain, `warren.warren.test`, "host-only: no Domain attribute");
  assert.ok(cookies[0]?.httpOnly);
  assert.ok(cookies[0]?.secure, "Secure over https");
  assert.equal(cookies[0]?.sameSite, "Lax");
});

test("a port URL's page cannot use the dashboard session: fetch with or without CSRF, or exec", {
  skip,
}, async () => {
  const api = `${w.origin}/api/v1/environments`;
  const exec = `wss://${w.host}/api/v1/environments/web/exec?cmd=${encodeURIComponent('["cat"]')}`;
  // The dashboard's own page: the session, its CSRF token, the API and the terminal all work.
  const own = await ctx.newPage();
  await own.goto(`${w.origin}/`);
  const csrf = await own.evaluate(async () => {
    const r = await fetch("/api/v1/auth/dashboard/session", { credentials: "same-origin" });
    return ((await r.json()) as { csrf: string }).csrf;
  });
  assert.equal(await fetchIn(own, "/api/v1/environments", { "X-Warren-CSRF": csrf }), "200");
  assert.equal(await wsIn(own, exec, csrf), "open warren.exec");

  // An environment's page on the same site. Even handed the CSRF token (the worst case), it gets
  // nothing: the server refuses what carries the cookie, and nothing it answers is a success.
  const evil = await ctx.newPage();
  await evil.goto(`${w.portOrigin}/`);
  assert.equal(await evil.textContent("#app"), "hello from web:3000");
  const from = w.seen.length;
  assert.equal(await fetchIn(evil, api, {}), "blocked");
  assert.equal(await fetchIn(evil, api, { "X-Warren-CSRF": csrf }), "blocked");
  assert.equal(await wsIn(evil, exec, csrf), "refused");
  const answered = w.seen.slice(from);
  const withCookie = answered.filter((s) => s.cookie);
  assert.ok(
    withCookie.some((s) => s.url === "/api/v1/environments" && s.status === 403),
    `the cookie was sent and refused on Origin: ${JSON.stringify(answered)}`,
  );
  const leaked = answered.filter((s) => s.cookie && s.status < 300);
  assert.deepEqual(leaked, [], "no request from the port URL's page succeeded with the cookie");
  await evil.close();
  await own.close();
});
