// A real embedded daemon (server + runner, e2e-harness.ts) serving a freshly built dashboard on
// its ingress HTTP listener under the base domain `warren.test`, and Debian's Chromium
// (playwright-core) resolving *.warren.test to loopback. Two users: the bootstrap owner and a
// member, each with an API token to sign in with. The a11y test shares it.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { createIdentityService, openStore, systemClock } from "@warren/server";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { build } from "vite";

export const CHROMIUM = "/usr/bin/chromium";
export const BASE_DOMAIN = "warren.test";
export const chromiumMissing = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: scripts/setup.sh --test installs Debian's chromium`;

export interface DashboardWorld {
  h: Harness;
  /**
   * https://warren.warren.test:PORT: under a base domain that is not localhost the listener
   * serves TLS with a certificate it made itself, which the browser contexts accept.
   */
  url: string;
  newContext(viewport: { width: number; height: number }): Promise<BrowserContext>;
  ownerToken: string;
  memberToken: string;
  browser: Browser;
  close(): Promise<void>;
}

/** GET an /api/v1 path on the daemon's unix socket as local root. */
function localGet(socketPath: string, p: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    request({ socketPath, path: p, headers: { accept: "application/json" } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () => {
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`GET ${p}: ${res.statusCode} ${body}`));
        else resolve(JSON.parse(body));
      });
    })
      .on("error", reject)
      .end();
  });
}

/** The ingress HTTP listener's port: the daemon answers on its socket a moment before it listens. */
async function ingressListener(socketPath: string): Promise<{ port: number; scheme: string }> {
  const until = Date.now() + 10_000;
  for (;;) {
    const info = (await localGet(socketPath, "/api/v1/http/proxy")) as {
      port: number;
      scheme: string;
      listening: boolean;
    };
    if (info.listening) return info;
    if (Date.now() > until) throw new Error("the daemon's ingress HTTP listener did not start within 10 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Builds the dashboard from the current sources (so the test never serves a stale dist/). */
async function buildDashboard(outDir: string): Promise<void> {
  await build({
    root: path.resolve(import.meta.dirname, ".."),
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
  });
}

export async function dashboardWorld(): Promise<DashboardWorld> {
  const dist = mkdtempSync(path.join(tmpdir(), "warren-dashboard-dist-"));
  let h: Harness | undefined;
  let browser: Browser | undefined;
  try {
    await buildDashboard(dist);
    h = await makeHarness("dashboard");
    await h.startDaemon({ WARREN_BASE_DOMAIN: BASE_DOMAIN, WARREN_DASHBOARD_DIR: dist });
    const proxy = await ingressListener(h.socket);
    const owner = await h.client.createToken({ name: "dashboard-owner" });
    const who = await h.client.whoami();
    const member = await h.client.addMember(who.org.id, { name: "mia", role: "member" });
    // Members get tokens by signing in (OIDC or the device flow); this test mints one through
    // the identity service on the daemon's own store instead, as that sign-in would.
    const store = openStore(h.root);
    let memberToken: string;
    try {
      const identity = createIdentityService({ db: store.db, clock: systemClock });
      const caller = {
        kind: "user",
        userId: member.userId,
        orgId: who.org.id,
        role: "member",
        via: "token",
      } as const;
      memberToken = (await identity.createToken(caller, { name: "dashboard-member" })).token;
    } finally {
      await store.close();
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", `--host-resolver-rules=MAP *.${BASE_DOMAIN} 127.0.0.1`],
    });
    const b = browser;
    const harness = h;
    return {
      h,
      url: `${proxy.scheme}://warren.${BASE_DOMAIN}:${proxy.port}`,
      newContext: (viewport) => b.newContext({ viewport, ignoreHTTPSErrors: true }),
      ownerToken: owner.token,
      memberToken,
      browser,
      async close() {
        await b.close().catch(() => undefined);
        await harness.teardown();
        rmSync(dist, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await browser?.close().catch(() => undefined);
    await h?.teardown();
    rmSync(dist, { recursive: true, force: true });
    throw err;
  }
}
