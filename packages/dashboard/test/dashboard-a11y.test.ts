// The dashboard's quality bar in real Chromium (Debian's, driven by playwright-core): every main
// page passes axe-core with no serious or critical violation at 1280×800 and at a phone's
// 390×844; the keyboard reaches everything (skip link, visible focus, the nav by Tab, the phone's
// Menu); API errors are shown as the error catalog's message; and the settings pages do what they
// say against the real API (dashboard-a11y-world.ts: the real control plane, a fake runner).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { type A11yUser, type A11yWorld, a11yWorld } from "./dashboard-a11y-world.ts";

const CHROMIUM = "/usr/bin/chromium";
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: scripts/setup.sh --test installs Debian's chromium`;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
] as const;
const SETTINGS = ["/settings/ssh-keys", "/settings/tokens", "/settings/secrets"];
const ADMIN = [
  "/admin/members",
  "/admin/classes",
  "/admin/quotas",
  "/admin/policies",
  "/admin/runners",
  "/admin/audit",
  "/admin/usage",
];
/** Every main page a signed-in owner sees (the terminal is A's browser test's). */
const PAGES = ["/", "/new", "/env/web", "/env/web/logs", ...SETTINGS, ...ADMIN];

let w: A11yWorld;
let browser: Browser;
before(async () => {
  if (skip) return;
  w = await a11yWorld();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
  await w?.close();
});

/** A fresh profile at this size, signed in as `who` through the sign-in page (token pasted once). */
async function signedIn(who: A11yUser, vp: { width: number; height: number }): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: vp.width, height: vp.height } });
  const page = await ctx.newPage();
  await page.goto(`${w.url}/`);
  await page.fill("#token", who.token);
  await page.click("button[type=submit]");
  await page.waitForSelector("nav#nav", { state: "attached" });
  return page;
}

/** Waits until the page has its heading and nothing in <main> is still loading. */
async function settled(page: Page): Promise<void> {
  await page.waitForSelector("main h1");
  await page.waitForFunction(() => {
    const main = document.querySelector("main");
    return !!main && !main.querySelector("[aria-busy=true]") && !/Loading…/.test(main.textContent ?? "");
  });
}

/** Opens a path in the app (a full load, as a pasted link) and waits until nothing is loading. */
async function open(page: Page, path: string): Promise<void> {
  await page.goto(`${w.url}${path}`);
  await settled(page);
}

/** Goes to a path inside the app as its links do (history, no reload), and waits for it. */
async function visit(page: Page, path: string): Promise<void> {
  await page.evaluate((p) => {
    history.pushState(null, "", p);
    dispatchEvent(new PopStateEvent("popstate"));
  }, path);
  // Two frames: the router's re-render is committed before the checks below look at <main>.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await settled(page);
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}
/** axe-core's serious and critical violations on the page as it is now, one line each. */
async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(c: Document): Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run(document)).violations;
  });
  return (violations as AxeViolation[])
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map(
      (v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")}`,
    );
}

/** Every main page at one size: axe-core's serious and critical violations, "PATH: rule" each. */
async function scanAll(vp: { width: number; height: number }): Promise<string[]> {
  const found: string[] = [];
  // Signed out: the sign-in page.
  const ctx = await browser.newContext({ viewport: { width: vp.width, height: vp.height } });
  const anon = await ctx.newPage();
  await anon.goto(`${w.url}/`);
  await anon.waitForSelector("#token");
  for (const v of await seriousViolations(anon)) found.push(`sign-in: ${v}`);
  await ctx.close();

  const page = await signedIn(w.users.ada, vp);
  // One load, then the app's own navigation: axe-core is injected once per page load.
  await open(page, "/");
  for (const p of PAGES) {
    await visit(page, p);
    for (const v of await seriousViolations(page)) found.push(`${p}: ${v}`);
  }
  await page.context().close();
  return found.map((f) => `${vp.width}×${vp.height} ${f}`);
}

test("axe-core: no serious or critical violations on any main page, at 1280×800 and 390×844", {
  skip,
}, async () => {
  // Both sizes at once: two browser contexts, each its own session.
  const found = (await Promise.all(VIEWPORTS.map(scanAll))).flat();
  assert.deepEqual(found, [], `axe-core found:\n${found.join("\n")}`);
});

/** The focused element, described for assertions. */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    const r = el?.getBoundingClientRect();
    const s = el ? getComputedStyle(el) : undefined;
    return {
      tag: el?.tagName.toLowerCase() ?? "",
      id: el?.id ?? "",
      text: (el?.textContent ?? "").trim(),
      href: el?.getAttribute("href") ?? "",
      visible: !!r && r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight,
      outline: s ? `${s.outlineStyle} ${s.outlineWidth}` : "",
    };
  });

/** Presses Tab up to `max` times; the hrefs (or texts) focused on the way, in order. */
async function tabThrough(
  page: Page,
  max: number,
  until: (f: Awaited<ReturnType<typeof focused>>) => boolean,
) {
  const seen: Awaited<ReturnType<typeof focused>>[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const f = await focused(page);
    seen.push(f);
    if (until(f)) break;
  }
  return seen;
}

test("keyboard: skip link first, visible focus, every nav link reachable by Tab", { skip }, async () => {
  const page = await signedIn(w.users.ada, VIEWPORTS[0]);
  await open(page, "/");
  const first = (await tabThrough(page, 1, () => true))[0]!;
  assert.equal(first.text, "Skip to content", "the first Tab lands on the skip link");
  assert.ok(first.visible, "the focused skip link is on screen");
  assert.doesNotMatch(first.outline, /^none|\b0px$/, `focus is visible (outline: ${first.outline})`);
  await page.keyboard.press("Enter");
  assert.equal((await focused(page)).id, "main", "the skip link moves focus to the main content");

  await open(page, "/");
  const seen = await tabThrough(page, 40, (f) => f.href === ADMIN.at(-1));
  const hrefs = seen.map((f) => f.href);
  for (const p of [...SETTINGS, ...ADMIN])
    assert.ok(hrefs.includes(p), `Tab reaches ${p} (saw ${hrefs.join(" ")})`);
  for (const f of seen.filter((x) => x.href.startsWith("/admin"))) {
    assert.doesNotMatch(f.outline, /^none|\b0px$/, `focus on ${f.href} is visible (outline: ${f.outline})`);
  }
  // Enter on a focused nav link opens its page.
  await page.keyboard.press("Enter");
  await page.waitForURL(`${w.url}${ADMIN.at(-1)}`);
  assert.equal(await page.textContent("main h1"), "Usage");
  await page.context().close();
});

test("keyboard on a phone: the Menu button opens the nav, whose links Tab reaches", { skip }, async () => {
  const page = await signedIn(w.users.ada, VIEWPORTS[1]);
  await open(page, "/");
  assert.equal(await page.isVisible("nav#nav a[href='/settings/tokens']"), false, "the nav starts folded");
  const toMenu = await tabThrough(page, 5, (f) => f.text === "Menu");
  assert.equal(toMenu.at(-1)?.text, "Menu", `Tab reaches the Menu button (saw ${toMenu.map((f) => f.text)})`);
  await page.keyboard.press("Enter");
  assert.equal(await page.getAttribute("button.menu-button", "aria-expanded"), "true");
  const seen = await tabThrough(page, 30, (f) => f.href === "/settings/tokens");
  assert.equal(seen.at(-1)?.href, "/settings/tokens", "Tab reaches a settings link in the opened nav");
  assert.ok(seen.at(-1)?.visible, "and it is on screen");
  await page.context().close();
});

/** What the API itself answers `who` for a call that fails: the catalog's code and message. */
async function apiError(who: A11yUser, method: "GET" | "POST", url: string, payload?: unknown) {
  const r = await w.call(who, method, url, payload);
  assert.ok(r.status >= 400, `${method} ${url} should fail, got ${r.status}`);
  return r.body as { code: string; message: string };
}

test("errors: an admin page refused to a member, and a bad SSH key, show the catalog's message", {
  skip,
}, async () => {
  const member = await signedIn(w.users.max, VIEWPORTS[0]);
  assert.equal(
    await member.isVisible("nav#nav a[href='/admin/members']"),
    false,
    "a member's nav has no admin pages",
  );
  await open(member, "/admin/members");
  const refused = await apiError(w.users.max, "GET", "/api/v1/orgs/default/members");
  assert.equal(refused.code, "FORBIDDEN");
  const shown = (await member.textContent("main [role=alert]"))?.trim();
  assert.equal(shown, refused.message, "the page shows exactly the catalog's message");
  await member.context().close();

  const page = await signedIn(w.users.ada, VIEWPORTS[0]);
  await open(page, "/settings/ssh-keys");
  const bogus = "ssh-ed25519 not-base64!";
  await page.fill("#ssh-key-public", bogus);
  await page.click("button:has-text('Add key')");
  const alert = page.locator("main [role=alert]");
  await alert.waitFor();
  const expected = await apiError(w.users.ada, "POST", "/api/v1/ssh-keys", { publicKey: bogus });
  assert.equal((await alert.textContent())?.trim(), expected.message);
  assert.doesNotMatch(expected.message, /\n\s+at /, "no stack trace");
  await page.context().close();
});

test("settings pages work: a token shown once, a write-only secret, the audit log records both", {
  skip,
}, async () => {
  const page = await signedIn(w.users.ada, VIEWPORTS[0]);
  await open(page, "/settings/tokens");
  await page.fill("#token-name", "ci-job");
  await page.click("button:has-text('Create token')");
  const secret = await page
    .locator("#new-token-secret")
    .inputValue({ timeout: 5000 })
    .catch(async (e) => {
      throw new Error(
        `no secret shown; the page says: ${await page.textContent("main [role=alert]").catch(() => "")}`,
        { cause: e },
      );
    });
  assert.match(secret, /^wrn_/, "the new token's secret is shown");
  await page.locator("tr:has-text('ci-job')").waitFor();
  // The secret is a one-time answer: a reload (a fresh read of the list) never shows it again.
  await open(page, "/settings/tokens");
  assert.equal(await page.locator("#new-token-secret").count(), 0);
  assert.ok(!(await page.content()).includes(secret), "the secret is not on the page after a reload");

  await open(page, "/settings/secrets");
  const value = "s3cr3t-value-never-shown";
  await page.fill("#secret-name", "NPM_TOKEN");
  await page.fill("#secret-value", value);
  await page.click("button:has-text('Save secret')");
  await page.locator("td:has-text('NPM_TOKEN')").waitFor();
  assert.equal(await page.inputValue("#secret-value"), "", "the value leaves the form once saved");
  await open(page, "/settings/secrets");
  assert.ok(!(await page.content()).includes(value), "the value is never shown");

  await open(page, "/admin/audit");
  const body = (await page.textContent("main table")) ?? "";
  assert.match(body, /token/i, "the token creation is in the audit log");
  await page.fill("#audit-action", "no.such.action");
  await page.click("button:has-text('Apply filters')");
  await page.locator("text=No records match.").waitFor();
  await page.context().close();
});

test("usage: the chart and table show the report the API gives", { skip }, async () => {
  const page = await signedIn(w.users.ada, VIEWPORTS[0]);
  await open(page, "/admin/usage");
  await page.locator("svg[role=img]").waitFor();
  const label = await page.getAttribute("svg[role=img]", "aria-label");
  assert.match(label ?? "", /^CPU hours by user/);
  // ada ran 30 h × 2 CPUs = 60 CPU-hours allocated; max 12 h × 2 = 24 (the world's seed), plus
  // the minutes their running environments add while the test runs.
  const cells = await page
    .locator("main table tbody tr")
    .evaluateAll((rows) =>
      rows.map((r) => [...r.querySelectorAll("th, td")].map((c) => c.textContent ?? "")),
    );
  assert.deepEqual(
    cells.map((c) => c[0]),
    ["ada", "max"],
    "largest first",
  );
  const cpuAllocated = cells.map((c) => Number(c[2]));
  assert.ok(cpuAllocated[0]! >= 60 && cpuAllocated[0]! < 61, `ada's CPU-hours: ${cells[0]}`);
  assert.ok(cpuAllocated[1]! >= 24 && cpuAllocated[1]! < 25, `max's CPU-hours: ${cells[1]}`);
  const bars = await page.locator("svg[role=img] rect").count();
  assert.equal(bars, 4, "two users × allocated and measured");
  await page.selectOption("#usage-by", "project");
  await page.locator("main table caption:has-text('Usage by project')").waitFor();
  assert.match((await page.textContent("main table tbody")) ?? "", /git\.example\/ada\/web/);
  await page.context().close();
});
