// The identity tests' world: one harness, and two apps over the same services, "local" (the unix
// socket, where root acts as the bootstrap owner) and "remote" (transport "tls", how the auth hook
// tells a remote caller). Shared by identity.test.ts and identity-scoping.test.ts.
import assert from "node:assert/strict";
import type { ErrorBody } from "@warren/protocol";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { build } from "../src/http/build.ts";
import { type Caller, createIdentityService, type IdentityService } from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";
import { FakeClock } from "./fake-clock.ts";

let h: Harness | undefined;
const apps: FastifyInstance[] = [];

/** For afterEach: closes the apps and the harness of the last setup(). */
export async function closeWorld(): Promise<void> {
  for (const a of apps.splice(0)) await a.close();
  await h?.close();
  h = undefined;
}
export interface World {
  h: Harness;
  identity: IdentityService;
  clock: FakeClock;
  local: FastifyInstance;
  remote: FastifyInstance;
}

export async function setup(env: NodeJS.ProcessEnv = {}): Promise<World> {
  h = await harness();
  // The identity clock is separate from the harness's, so moving it cannot stall env waits.
  const clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
  const identity = createIdentityService({ db: h.store.db, clock, env });
  const mk = (transport: "local" | "tls") => {
    const app = build({
      envs: h!.envs,
      classes: h!.classes,
      images: createImageService({ runner: h!.runner }),
      runner: h!.runner,
      logger: false,
      identity,
      transport,
    });
    apps.push(app);
    return app;
  };
  return { h, identity, clock, local: mk("local"), remote: mk("tls") };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export function assertError(
  res: { statusCode: number; json(): unknown },
  status: number,
  code: string,
  msg?: RegExp,
) {
  assert.equal(res.statusCode, status, JSON.stringify(res.json()));
  const body = res.json() as ErrorBody;
  assert.equal(body.code, code);
  if (msg) assert.match(body.message, msg);
}

/** A member of `orgId` with a token, made through the service as sign-in would. */
export async function userWithToken(w: World, name: string, role: Caller["role"], orgId = BOOTSTRAP_ORG_ID) {
  const now = "2026-01-01T00:00:00.000Z";
  const db = w.h.store.db;
  const id = `usr_${name}`;
  await db.insertInto("users").values({ id, name, created_at: now }).execute();
  await db.insertInto("memberships").values({ org_id: orgId, user_id: id, role, created_at: now }).execute();
  const caller: Caller = { kind: "user", userId: id, orgId, role, via: "token" };
  return (await w.identity.createToken(caller, { name: `${name}-token` })).token;
}
