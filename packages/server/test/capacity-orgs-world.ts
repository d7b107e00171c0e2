// Two organisations on one `warren server`, each with its own runner dialling in over TLS with its
// own runner token, exactly as two tenants' hosts would. Used by the capacity tests on SQLite
// (capacity-orgs.test.ts) and PostgreSQL (capacity-orgs.pg.test.ts).
import assert from "node:assert/strict";
import path from "node:path";
import { connectRunner, type RunnerConnection } from "@warren/protocol";
import { FakeRunner } from "@warren/testing/fake-runner";
import { tempDir } from "@warren/testing/server-harness";
import { systemClock } from "../src/clock.ts";
import { type Daemon, runDaemon } from "../src/daemon.ts";
import { type Caller, createIdentityService } from "../src/services/identity.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";

export const ORG_B = "org_cap_b";
export const GiB = 1024 ** 3;

export interface Tenant {
  orgId: string;
  /** Request headers that act as this organisation's owner ({} is root on the socket: org A). */
  headers: Record<string, string>;
  runner: FakeRunner;
  runnerId: string;
  conn: RunnerConnection;
}

export interface CapacityWorld {
  servers: Daemon[];
  a: Tenant;
  b: Tenant;
  /** Connects `runner` for the organisation with a fresh runner token (a new runner id). */
  connect(
    orgId: string,
    runner: FakeRunner,
    server?: Daemon,
  ): Promise<{ runnerId: string; conn: RunnerConnection }>;
  /** POST /environments on `server` (default the first) as the tenant; the parsed reply. */
  create(
    t: Tenant,
    name: string,
    server?: Daemon,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** The runner each of the tenant's environments is recorded on, by name. */
  recorded(orgId: string): Promise<Record<string, { runner: string; slot: number }>>;
  close(): Promise<void>;
}

export async function capacityWorld(
  o: { db?: string; replicas?: number; runnerA?: FakeRunner; runnerB?: FakeRunner } = {},
): Promise<CapacityWorld> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    const servers: Daemon[] = [];
    for (let i = 0; i < (o.replicas ?? 1); i++) {
      const tmp = tempDir("warren-capacity-");
      cleanups.push(tmp.cleanup);
      const d = await runDaemon({
        socketPath: path.join(tmp.dir, "run", "warren.sock"),
        root: tmp.dir,
        ...(o.db ? { db: o.db } : {}),
        defaultRuntime: "runc",
        resyncMs: 600_000,
        logger: false,
        handleSignals: false,
        settleTimeoutMs: 8000,
        backoff: { baseMs: 20, maxMs: 200 },
        listen: "127.0.0.1:0",
      });
      cleanups.push(() => d.close());
      servers.push(d);
    }
    const first = servers[0]!;
    const db = first.store.db;
    const now = new Date().toISOString();
    await db.insertInto("orgs").values({ id: ORG_B, name: "cap-b", created_at: now }).execute();
    await db.insertInto("users").values({ id: "usr_cap_b", name: "cap-b-owner", created_at: now }).execute();
    await db
      .insertInto("memberships")
      .values({ org_id: ORG_B, user_id: "usr_cap_b", role: "owner", created_at: now })
      .execute();
    const identity = createIdentityService({ db, clock: systemClock });
    const owners: Record<string, Caller> = {
      [BOOTSTRAP_ORG_ID]: {
        kind: "user",
        userId: "usr_root",
        orgId: BOOTSTRAP_ORG_ID,
        role: "owner",
        via: "token",
      },
      [ORG_B]: { kind: "user", userId: "usr_cap_b", orgId: ORG_B, role: "owner", via: "token" },
    };

    const connect = async (orgId: string, runner: FakeRunner, server = first) => {
      const token = await identity.createRunnerToken(owners[orgId]!, { name: `r${Math.random()}` });
      const conn = await connectRunner(
        {
          url: `https://127.0.0.1:${server.tls!.port}`,
          fingerprint: server.tls!.fingerprint,
          token: token.token,
        },
        runner,
      );
      cleanups.push(() => conn.close());
      await conn.ready;
      return { runnerId: token.id, conn };
    };
    const tenant = async (orgId: string, headers: Record<string, string>, runner: FakeRunner) => {
      const { runnerId, conn } = await connect(orgId, runner);
      return { orgId, headers, runner, runnerId, conn };
    };
    const bToken = (await identity.createToken(owners[ORG_B]!, { name: "cap-b" })).token;
    const a = await tenant(BOOTSTRAP_ORG_ID, {}, o.runnerA ?? new FakeRunner());
    const b = await tenant(ORG_B, { authorization: `Bearer ${bToken}` }, o.runnerB ?? new FakeRunner());

    return {
      servers,
      a,
      b,
      connect,
      async create(t, name, server = first) {
        const r = await server.app.inject({
          method: "POST",
          url: "/api/v1/environments",
          payload: { name },
          headers: t.headers,
        });
        return { status: r.statusCode, body: r.json() };
      },
      async recorded(orgId) {
        const rows = await db
          .selectFrom("environments")
          .select(["name", "runner_id", "slot"])
          .where("org_id", "=", orgId)
          .execute();
        return Object.fromEntries(rows.map((r) => [r.name, { runner: r.runner_id, slot: Number(r.slot) }]));
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Waits until no runner of the organisation is connected to `server` any more. */
export async function untilGone(server: Daemon, runnerId: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (server.hub?.connected().some((r) => r.runnerId === runnerId)) {
    assert.ok(Date.now() < deadline, `runner ${runnerId} disconnected`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
