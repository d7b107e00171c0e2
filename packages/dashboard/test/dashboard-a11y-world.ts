// The dashboard for the accessibility and keyboard tests: the real daemon (runDaemon: the HTTP
// app, identity, dashboard sessions, watch, audit, quotas, secrets, SSH keys, usage, and the
// ingress listener whose control-plane host serves the API and the built dashboard) in this
// process, with the server tests' fake runner as its runner. The dashboard is built fresh into a
// temp dir by Vite (WARREN_DASHBOARD_DIR), so a test never reads a stale dist/.
// Two users of the first organisation, each with a token: `ada` (owner) and `max` (member).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createIdentityService, type Daemon, runDaemon, systemClock } from "@warren/server";
import { FakeRunner } from "@warren/testing/fake-runner";
import { build as viteBuild } from "vite";

const DASHBOARD = path.resolve(import.meta.dirname, "..");
/** The first organisation (the store's bootstrap migration names it). */
const FIRST_ORG = "default";

export interface A11yUser {
  name: string;
  userId: string;
  token: string;
}

export interface A11yWorld {
  /** The dashboard's origin: http://warren.localhost:PORT (Chromium resolves *.localhost to loopback). */
  url: string;
  daemon: Daemon;
  users: { ada: A11yUser; max: A11yUser };
  /** A call to the API with `who`'s token, as a script would make it. */
  call(
    who: A11yUser,
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

/** Vite's production build of the dashboard into `outDir` (about a second). */
export async function buildDashboard(outDir: string): Promise<void> {
  await viteBuild({
    root: DASHBOARD,
    configFile: path.join(DASHBOARD, "vite.config.ts"),
    logLevel: "error",
    build: { outDir, emptyOutDir: true },
  });
}

export async function a11yWorld(): Promise<A11yWorld> {
  const tmp = mkdtempSync(path.join(tmpdir(), "warren-dashboard-a11y-"));
  const dist = path.join(tmp, "dist");
  let daemon: Daemon | undefined;
  const cleanup = async () => {
    await daemon?.close();
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    await buildDashboard(dist);
    process.env["WARREN_DASHBOARD_DIR"] = dist;
    const d = await runDaemon({
      root: tmp,
      socketPath: path.join(tmp, "warren.sock"),
      runner: new FakeRunner(),
      defaultRuntime: "runc",
      logger: process.env["WARREN_TEST_LOG"] === "1",
      handleSignals: false,
      settleTimeoutMs: 10_000,
      // The embedded default: plain HTTP on `localhost`, the dashboard at http://warren.localhost:PORT.
      portProxy: { listen: "127.0.0.1:0", baseDomain: "localhost" },
    });
    daemon = d;
    const call = async (who: A11yUser | undefined, method: string, url: string, body?: unknown) => {
      const r = await d.app.inject({
        method: method as "GET",
        url,
        headers: who ? { authorization: `Bearer ${who.token}` } : {},
        ...(body === undefined ? {} : { payload: body as object }),
      });
      return { status: r.statusCode, body: r.body ? (r.json() as unknown) : undefined };
    };

    // Members and their tokens, made as the owner on the host would (the identity service on the
    // daemon's own store: the API makes tokens only for the caller).
    const identity = createIdentityService({ db: d.store.db, clock: systemClock });
    const owner = {
      kind: "user",
      userId: "usr_root",
      orgId: "org_default",
      role: "owner",
      via: "local-socket",
    };
    const join = async (name: string, role: "owner" | "member"): Promise<A11yUser> => {
      const m = await identity.addMember(owner as never, FIRST_ORG, { name, role });
      const actor = { kind: "user", userId: m.userId, orgId: "org_default", role, via: "token" };
      const t = await identity.createToken(actor as never, { name: `${name}-laptop` });
      return { name, userId: m.userId, token: t.token };
    };
    const users = { ada: await join("ada", "owner"), max: await join("max", "member") };
    for (const [who, name] of [
      [users.ada, "web"],
      [users.max, "api"],
    ] as const) {
      const r = await call(who, "POST", "/api/v1/environments?wait=1", { name });
      if (r.status >= 300) throw new Error(`create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    await seedUsage(d, users);

    const proxy = await call(users.ada, "GET", "/api/v1/http/proxy");
    const port = (proxy.body as { port?: number }).port;
    if (!port) throw new Error(`the daemon's ingress listener is not up: ${JSON.stringify(proxy.body)}`);
    return { url: `http://warren.localhost:${port}`, daemon: d, users, call, close: cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** What a week of work leaves in the usage record (the page's chart needs more than minutes). */
async function seedUsage(d: Daemon, users: { ada: A11yUser; max: A11yUser }): Promise<void> {
  const hour = 3_600_000;
  const now = Date.now();
  const rows = [
    { who: users.ada, env: "web", hours: 30, project: "https://git.example/ada/web" },
    { who: users.max, env: "api", hours: 12, project: null },
  ];
  for (const r of rows) {
    await d.store.db
      .insertInto("usage_intervals")
      .values({
        env_id: `env_seed_${r.env}`,
        env_name: r.env,
        org_id: "org_default",
        owner_id: r.who.userId,
        project: r.project,
        class_name: "default",
        kind: "run",
        cpus: 2,
        memory_bytes: 4 * 1024 ** 3,
        disk_bytes: 20 * 1024 ** 3,
        started_ms: now - 48 * hour,
        ended_ms: now - 48 * hour + r.hours * hour,
        measured_cpu_ms: r.hours * hour * 0.4,
        measured_at_ms: now - 40 * hour,
      })
      .execute();
  }
}
