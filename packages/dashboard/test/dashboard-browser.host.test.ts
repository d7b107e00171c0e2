// The dashboard in real Chromium against a real embedded daemon and runner: sign in with a token,
// create an environment and watch it reach running without a reload, open the terminal and run
// `id -u`, resize it (the shell's `stty size` follows), cut its connection and see it reconnect
// to a new shell, stop the environment, see an admin page refused to a member, sign out. The
// list shows a running environment's IP, memory in use, last activity and idle deadline.
// Screenshots of the main pages (1280×800 and 390×844) go to test-artifacts/dashboard/.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { REPO } from "@warren/testing/e2e-harness";
import type { Page } from "playwright-core";
import { chromiumMissing, type DashboardWorld, dashboardWorld } from "./dashboard-world.ts";

const ARTIFACTS = path.join(REPO, "test-artifacts/dashboard");
const WIDE = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let w: DashboardWorld;
before(async () => {
  if (chromiumMissing) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  w = await dashboardWorld();
});
after(async () => {
  await w?.close();
});

async function shot(page: Page, name: string): Promise<void> {
  for (const [label, size] of [
    ["1280x800", WIDE],
    ["390x844", PHONE],
  ] as const) {
    await page.setViewportSize(size);
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(WIDE);
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(`${w.url}/`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Environments", level: 1 }).waitFor();
}

/** The terminal's visible text, one string per row (xterm's DOM renderer). */
async function terminalRows(page: Page): Promise<string[]> {
  return page.locator(".xterm-rows > div").allTextContents();
}

/** Waits until a row of the terminal matches `want`. */
async function waitForRow(page: Page, want: RegExp, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await terminalRows(page)).some((r) => want.test(r))) {
    if (Date.now() > until)
      throw new Error(`no terminal row matched ${want}: ${(await terminalRows(page)).join("\n")}`);
    await page.waitForTimeout(100);
  }
}

/** Types a command and waits until a row matching `want` appears after it. */
async function runInTerminal(page: Page, cmd: string, want: RegExp): Promise<RegExpMatchArray> {
  const before = (await terminalRows(page)).length;
  await page.locator(".xterm-helper-textarea").focus();
  await page.keyboard.type(`clear; ${cmd}\n`);
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    for (const row of await terminalRows(page)) {
      const m = row.trim().match(want);
      if (m) return m;
    }
    await page.waitForTimeout(100);
  }
  throw new Error(
    `no row matched ${want} after \`${cmd}\` (${before} rows): ${(await terminalRows(page)).join("\n")}`,
  );
}

/** The text of one cell (by its data-label) of an environment's row in the list. */
async function cell(page: Page, env: string, label: string): Promise<string> {
  return ((await page.locator(`tr[data-env="${env}"] [data-label="${label}"]`).textContent()) ?? "").trim();
}

/** Waits until the cell's text matches `want` (the list's details are polled); fails naming it. */
async function waitCell(page: Page, env: string, label: string, want: RegExp, ms = 10_000): Promise<string> {
  const until = Date.now() + ms;
  let text = await cell(page, env, label);
  while (!want.test(text)) {
    if (Date.now() > until) throw new Error(`the ${label} cell of ${env} shows "${text}", not ${want}`);
    await page.waitForTimeout(100);
    text = await cell(page, env, label);
  }
  return text;
}

/**
 * A network blip: the kernel aborts every established TCP connection the daemon's ingress
 * listener accepted (sock_destroy: a reset to the browser, as when a NAT or proxy drops them),
 * the terminal's WebSocket and the live watch among them. Returns how many it cut.
 */
function cutConnections(port: number): number {
  const r = spawnSync("ss", ["-K", "-t", "-n", "-H", "state", "established", `( sport = :${port} )`], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`ss -K failed (${r.status}): ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l.trim()).length;
}

test("sign in, create, watch it run, terminal with id -u and resize, stop, sign out", {
  skip: chromiumMissing,
}, async () => {
  const ctx = await w.newContext(WIDE);
  const page = await ctx.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));

  // A wrong token: the catalog's message, and no session.
  await page.goto(`${w.url}/`);
  await shot(page, "sign-in");
  await page.getByLabel("API token").fill("wrn_not-a-real-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").waitFor();
  assert.doesNotMatch((await page.getByRole("alert").textContent()) ?? "", /at .*\.(js|ts):\d+/);

  await signIn(page, w.ownerToken);
  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === "warren_session");
  assert.ok(session?.httpOnly, "the session cookie is HttpOnly");
  assert.equal(session?.sameSite, "Lax");
  assert.equal(session?.secure, w.url.startsWith("https:"), "Secure over https");
  assert.equal(await page.evaluate(() => document.cookie), "", "the page cannot read the cookie");

  // Create from the default image; the page moves to the environment and follows it live.
  await page.getByRole("link", { name: "New environment" }).first().click();
  await page.getByLabel("Name (optional)").fill("web1");
  await shot(page, "create");
  await page.getByRole("button", { name: "Create" }).click();
  await page.waitForURL(`${w.url}/env/web1`);
  const navigations: string[] = [];
  page.on("framenavigated", (f) => navigations.push(f.url()));
  await page.locator('.page-head [data-state="running"]').waitFor({ timeout: 30_000 });
  assert.deepEqual(navigations, [], "it reached running without a reload");
  const ipFact = page.locator('dl.facts dt:text-is("IP") + dd');
  await ipFact.filter({ hasText: /^\d{1,3}(\.\d{1,3}){3}$/ }).waitFor({ timeout: 10_000 });
  await shot(page, "environment");

  // The list: a running environment's live figures, not only its limits.
  await page.getByRole("link", { name: "Environments", exact: true }).click();
  await page.locator('tr[data-env="web1"] [data-state="running"]').waitFor();
  await waitCell(page, "web1", "IP", /^\d{1,3}(\.\d{1,3}){3}$/);
  await waitCell(page, "web1", "Memory", /^\d+(\.\d)? (B|KiB|MiB|GiB) \d+%$/);
  await waitCell(page, "web1", "CPU", /^(<0\.01|\d+\.\d\d) \/ \d+$/);
  await waitCell(page, "web1", "Disk", /^\d+(\.\d)? (B|KiB|MiB|GiB) \/ \d+(\.\d)? GiB$/);

  // The terminal: a login shell as root in the environment.
  await page.goto(`${w.url}/env/web1/terminal`);
  await page.locator('[data-status="connected"]').waitFor({ timeout: 15_000 });
  await runInTerminal(page, "id -u", /^0$/);
  const [, rows1, cols1] = await runInTerminal(page, "stty size", /^(\d+) (\d+)$/);
  await shot(page, "terminal");
  await page.setViewportSize({ width: 900, height: 600 });
  await page.waitForTimeout(300);
  let size2: RegExpMatchArray | undefined;
  for (let i = 0; i < 20 && !size2; i++) {
    const m = await runInTerminal(page, "stty size", /^(\d+) (\d+)$/);
    if (m[1] !== rows1 || m[2] !== cols1) size2 = m;
    else await page.waitForTimeout(200);
  }
  assert.ok(size2, `stty size followed the resize (was ${rows1} ${cols1})`);
  assert.ok(Number(size2[2]) < Number(cols1), `fewer columns after narrowing: ${size2[2]} < ${cols1}`);
  await page.setViewportSize(WIDE);

  // A blip: the connections drop; the terminal says so, reconnects to a new shell, and works.
  const [, shell1] = await runInTerminal(page, "echo shell=$$", /^shell=(\d+)$/);
  assert.ok(cutConnections(Number(new URL(w.url).port)) > 0, "connections to the dashboard were cut");
  await waitForRow(page, /\[connection lost; reconnecting to a new shell\]/);
  await page.locator('[data-status="connected"]').waitFor({ timeout: 15_000 });
  await runInTerminal(page, "id -u", /^0$/);
  const [, shell2] = await runInTerminal(page, "echo shell=$$", /^shell=(\d+)$/);
  assert.notEqual(shell2, shell1, "a new shell after the reconnect");

  // Using the terminal is activity: the list shows when, and the idle deadline it moved.
  await page.getByRole("link", { name: "Environments", exact: true }).click();
  await waitCell(page, "web1", "Last activity", /^\d+ (s|min) ago$/);
  await waitCell(page, "web1", "Idle stop", /^in \d+ (s|min|h|d)$/);
  await shot(page, "environments");

  await page.goto(`${w.url}/env/web1/logs`);
  await page.getByRole("log").waitFor();
  await shot(page, "logs");

  // Stop it from the overview; the badge follows the watch.
  await page.goto(`${w.url}/env/web1`);
  await page.getByRole("button", { name: "Stop" }).click();
  await page.locator('.page-head [data-state="stopped"]').waitFor({ timeout: 30_000 });

  // Sign out: back to the sign-in page, and the old CSRF token opens nothing any more.
  const csrf = await page.evaluate(async () => {
    const r = await fetch("/api/v1/auth/dashboard/session");
    return ((await r.json()) as { csrf: string }).csrf;
  });
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("API token").waitFor();
  const after = await page.evaluate(
    async (token) => (await fetch("/api/v1/environments", { headers: { "X-Warren-CSRF": token } })).status,
    csrf,
  );
  assert.equal(after, 401);
  await page.reload();
  await page.getByLabel("API token").waitFor();
  assert.deepEqual(pageErrors, []);
  await ctx.close();
});

test("a member sees no admin nav and is refused an admin page", { skip: chromiumMissing }, async () => {
  const ctx = await w.newContext(WIDE);
  const page = await ctx.newPage();
  await signIn(page, w.memberToken);
  assert.equal(await page.getByRole("navigation", { name: "Main" }).getByText("Admin").count(), 0);
  await page.goto(`${w.url}/admin/audit`);
  const alert = page.getByRole("alert").first();
  await alert.waitFor();
  assert.match((await alert.textContent()) ?? "", /admin|owner|role|not allowed/i);
  // The refusal is the server's, not only the page's.
  const status = await page.evaluate(async () => {
    const s = (await (await fetch("/api/v1/auth/dashboard/session")).json()) as { csrf: string };
    return (await fetch("/api/v1/audit", { headers: { "X-Warren-CSRF": s.csrf } })).status;
  });
  assert.equal(status, 403);
  await shot(page, "member-admin-refused");
  await ctx.close();
});
