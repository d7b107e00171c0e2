// Shared setup for audit.test.ts and quota.test.ts: the harness's services behind two apps
// (local socket = root as the bootstrap owner; "tls" = remote token callers) with the audit trail
// and quotas wired as the daemon wires them.

import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { build } from "../src/http/build.ts";
import { type AuditService, createAuditService } from "../src/services/audit.ts";
import { type Caller, createIdentityService, type IdentityService } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createQuotaService } from "../src/services/quotas.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { FakeClock } from "./fake-clock.ts";

export interface World {
  h: Harness;
  identity: IdentityService;
  audit: AuditService;
  clock: FakeClock;
  local: FastifyInstance;
  remote: FastifyInstance;
  close(): Promise<void>;
}

export async function world(env: NodeJS.ProcessEnv = {}): Promise<World> {
  const h = await harness();
  const clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
  const db = h.store.db;
  const identity = createIdentityService({ db, clock, env });
  const audit = createAuditService({ db, clock, env });
  const quotas = createQuotaService({ db, clock });
  const apps: FastifyInstance[] = [];
  const mk = (transport: "local" | "tls") => {
    const app = build({
      envs: h.envs,
      classes: h.classes,
      images: createImageService({ runner: h.runner }),
      runner: h.runner,
      logger: false,
      identity,
      transport,
      db,
      audit,
      quotas,
    });
    apps.push(app);
    return app;
  };
  return {
    h,
    identity,
    audit,
    clock,
    local: mk("local"),
    remote: mk("tls"),
    async close() {
      for (const a of apps) await a.close();
      await h.close();
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A user with `role` in `orgId` (created if new) and a token for it. */
export async function userWithToken(w: World, name: string, role: Caller["role"], orgId = BOOTSTRAP_ORG_ID) {
  const now = "2026-01-01T00:00:00.000Z";
  const db = w.h.store.db;
  if (!(await db.selectFrom("orgs").select("id").where("id", "=", orgId).executeTakeFirst())) {
    await db.insertInto("orgs").values({ id: orgId, name: orgId, created_at: now }).execute();
  }
  const id = `usr_${name}`;
  await db.insertInto("users").values({ id, name, created_at: now }).execute();
  await db.insertInto("memberships").values({ org_id: orgId, user_id: id, role, created_at: now }).execute();
  const caller: Caller = { kind: "user", userId: id, orgId, role, via: "token" };
  const created = await w.identity.createToken(caller, { name: `${name}-token` });
  return { id, token: created.token, tokenId: created.id };
}

export async function auditCount(w: World): Promise<number> {
  const r = await w.h.store.db
    .selectFrom("audit_records")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export function lastRecord(w: World) {
  return w.h.store.db.selectFrom("audit_records").selectAll().orderBy("id", "desc").executeTakeFirstOrThrow();
}
