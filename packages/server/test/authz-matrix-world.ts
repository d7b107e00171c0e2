// The world the authorization matrix (authz-matrix.test.ts) runs in: every service the daemon
// wires, behind an app built with transport "tls" (every caller is remote and needs a token), two
// organisations and one principal of each kind, made through the identity service, and one real
// object of each kind in organisation A, so that another organisation's 404 means "exists, not
// yours" rather than "does not exist".

import { DEFAULT_IMAGE } from "@warren/protocol";
import { type Harness, harness } from "@warren/testing/server-harness";
import type { FastifyInstance } from "fastify";
import { systemClock } from "../src/clock.ts";
import { build } from "../src/http/build.ts";
import { createAuditService } from "../src/services/audit.ts";
import { generateEd25519 } from "../src/services/ed25519-keypair.ts";
import {
  type Caller,
  createIdentityService,
  type IdentityService,
  LOCAL_ROOT,
} from "../src/services/identity.ts";
import { createImageService } from "../src/services/images.ts";
import { createQuotaService } from "../src/services/quotas.ts";
import { createRegistryLoginService, type RegistryLoginService } from "../src/services/registry-logins.ts";
import { secretBox } from "../src/services/registry-secrets.ts";
import { createSecretService, type SecretService } from "../src/services/secrets.ts";
import { createSshKeyService } from "../src/services/ssh-keys.ts";
import { BOOTSTRAP_ORG_ID } from "../src/store/migrations/005_identity.ts";

export const ORG_A = BOOTSTRAP_ORG_ID;
export const ORG_B = "org_mx_other";
/** Organisation A's objects. Distinctive, so a response that mentions one has leaked it. */
export const FIX = {
  env: "mx-env-a",
  cls: "mx-class-a",
  secret: "MX_SECRET_A",
  project: "https://git.example.com/mx/a.git",
  registry: "registry.mx-a.example",
  image: "mx/image-a:1",
  victim: "mx-victim-a",
  runner: "mx-runner-a",
} as const;

/** A new ed25519 public key line, commented with who adds it. */
export const freshSshKey = (who: string) => generateEd25519(`mx-${who}`).public;

/** Who calls. "peer" is a second member of A: members manage only their own environments. */
export const WHO = ["anonymous", "other", "member", "peer", "admin", "owner", "runner"] as const;
export type Who = (typeof WHO)[number];

/** Organisation A's rows, table by table, each row reduced to what a call could change. */
export type Snapshot = Record<string, string[]>;

/** What changed between two snapshots, or "" when nothing did. */
export function changes(before: Snapshot, after: Snapshot): string {
  const out: string[] = [];
  for (const k of Object.keys(before)) {
    const gone = before[k]!.filter((r) => !after[k]!.includes(r));
    const added = after[k]!.filter((r) => !before[k]!.includes(r));
    if (gone.length + added.length > 0) out.push(`${k}: -${gone.join(" -")} +${added.join(" +")}`);
  }
  return out.join("; ");
}

export interface World {
  h: Harness;
  app: FastifyInstance;
  identity: IdentityService;
  secrets: SecretService;
  registries: RegistryLoginService;
  tokens: Partial<Record<Who, string>>;
  callers: Record<"other" | "member" | "peer" | "admin" | "owner", Caller>;
  /** Org A's objects and users that no caller of another organisation may ever see. */
  markers: string[];
  /** The member's own environment, which the peer (another member) may not see either. */
  memberMarkers: string[];
  /** Recreates whatever a previous call deleted or changed, so every call finds the same world. */
  ensure(): Promise<void>;
  /** A fresh token of the member's, for DELETE /tokens/:id (a revoke cannot be undone). */
  memberTokenId(): Promise<string>;
  /** The member's SSH key (added if a previous call removed it). */
  memberSshKeyId(): Promise<string>;
  /** A fresh token of the owner's: admins may not revoke it. */
  ownerTokenId(): Promise<string>;
  /** Org A's state, to prove that refused and foreign calls change nothing. */
  snapshot(): Promise<Snapshot>;
  /** Forgets what organisation B's caller made, so its later lists hold nothing of its own by name. */
  forgetOrgB(): Promise<void>;
  close(): Promise<void>;
}

export async function matrixWorld(): Promise<World> {
  const h = await harness();
  const db = h.store.db;
  const clock = systemClock;
  const identity = createIdentityService({ db, clock });
  const registryBox = secretBox(h.dir);
  const secrets = createSecretService({ db, clock, root: h.dir, registryBox });
  const registries = createRegistryLoginService({ db, clock, secrets: registryBox });
  const sshKeys = createSshKeyService({ db, clock });
  const app = build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner, logins: registries, db, clock }),
    registries,
    runner: h.runner,
    logger: false,
    identity,
    transport: "tls",
    db,
    clock,
    audit: createAuditService({ db, clock }),
    quotas: createQuotaService({ db, clock }),
    secrets,
    sshKeys,
  });

  // Organisation B: no API creates organisations (bootstrap and sign-in do), so its row goes in
  // directly; its owner is then added through the identity service like every other user.
  const now = new Date().toISOString();
  await db.insertInto("orgs").values({ id: ORG_B, name: "mx-other-org", created_at: now }).execute();
  // A runner of organisation A as a runner's attach records it (no API creates runner rows).
  await db
    .insertInto("runners")
    .values({
      id: `${FIX.runner}-id`,
      org_id: ORG_A,
      name: FIX.runner,
      hostname: `${FIX.runner}-host`,
      info: JSON.stringify({
        id: `${FIX.runner}-id`,
        hostname: `${FIX.runner}-host`,
        runtimes: ["runc"],
        cpus: 2,
        memoryBytes: 2 ** 31,
        diskFreeBytes: 2 ** 33,
        cgroupMode: "v2",
        idRange: { start: 100000, size: 65536 },
      }),
      image_refs: "[]",
      replica: null,
      seen_at: now,
    })
    .execute();
  const join = async (org: string, name: string, role: Caller["role"]): Promise<Caller> => {
    const by: Caller = org === ORG_A ? LOCAL_ROOT : { ...LOCAL_ROOT, orgId: org, userId: "usr_nobody" };
    const m = await identity.addMember(by, org, { name, role });
    return { kind: "user", userId: m.userId, orgId: org, role, via: "token" };
  };
  const callers = {
    other: await join(ORG_B, "mx-other-owner", "owner"),
    member: await join(ORG_A, "mx-member", "member"),
    peer: await join(ORG_A, "mx-peer", "member"),
    admin: await join(ORG_A, "mx-admin", "admin"),
    owner: await join(ORG_A, "mx-owner", "owner"),
  };
  const tokens: World["tokens"] = {};
  for (const [who, c] of Object.entries(callers)) {
    tokens[who as Who] = (await identity.createToken(c, { name: `${who}-token` })).token;
  }
  tokens.runner = (await identity.createRunnerToken(callers.admin, { name: "mx-runner" })).token;

  const envRow = () => db.selectFrom("environments").selectAll().where("name", "=", FIX.env).execute();
  async function ensure(): Promise<void> {
    const envs = (await envRow()).filter((r) => (r as { org_id?: string }).org_id === ORG_A);
    const env = envs[0];
    if (!env || env.desired === "deleted") {
      await h.envs.create(callers.member, { name: FIX.env });
    } else if (env.state !== "running" || env.desired !== "running") {
      await h.envs.start(callers.member, FIX.env);
    }
    const cls = await db.selectFrom("classes").select("name").where("name", "=", FIX.cls).execute();
    if (cls.length === 0) {
      await h.classes.create(callers.admin, { name: FIX.cls, cpus: 1, memory: "256m", disk: "1g" });
    }
    const secret = { value: "mx-secret-value-a", kind: "env" as const };
    const have = await db.selectFrom("secrets").select("scope").where("org_id", "=", ORG_A).execute();
    const scopes = new Set(have.map((r) => r.scope));
    if (!scopes.has("org")) await secrets.set(callers.admin, "org", FIX.secret, secret);
    if (!scopes.has("user")) await secrets.set(callers.member, "user", FIX.secret, secret);
    if (!scopes.has("project")) {
      await secrets.set(callers.admin, "project", FIX.secret, { ...secret, project: FIX.project });
    }
    const logins = await registries.list(callers.admin);
    const login = logins.find((l) => l.host === FIX.registry);
    if (login?.username !== "mx-a") await registries.login(callers.admin, FIX.registry, "mx-a", "pw-a");
    if (!h.runner.images.has(FIX.image)) h.runner.addImage(FIX.image);
    if (!h.runner.images.has(DEFAULT_IMAGE)) h.runner.addImage(DEFAULT_IMAGE);
    const victim = await db
      .selectFrom("users")
      .select("id")
      .where("name", "=", FIX.victim)
      .executeTakeFirst();
    const member = victim
      ? await db
          .selectFrom("memberships")
          .select("role")
          .where("org_id", "=", ORG_A)
          .where("user_id", "=", victim.id)
          .executeTakeFirst()
      : undefined;
    if (member?.role !== "member")
      await identity.addMember(LOCAL_ROOT, ORG_A, { name: FIX.victim, role: "member" });
    if ((await sshKeys.list(callers.member)).length === 0) {
      await sshKeys.add(callers.member, { publicKey: freshSshKey("member"), name: "mx-member-key" });
    }
  }

  await ensure();
  const envId = (await envRow())[0]!.id;
  const victimId = (
    await db.selectFrom("users").select("id").where("name", "=", FIX.victim).executeTakeFirstOrThrow()
  ).id;
  // Images are left out: the runner's image store is shared by every organisation until images
  // are scoped (issue 5); ORG_A is left out too, as org B's own ids never contain it.
  const markers = [
    FIX.env,
    envId,
    FIX.cls,
    FIX.secret,
    FIX.registry,
    FIX.victim,
    victimId,
    FIX.runner,
    ...["member", "peer", "admin", "owner"].map((w) => callers[w as "member"].userId),
    "mx-member",
    "mx-admin",
  ];

  async function snapshot(): Promise<Snapshot> {
    const inA = (r: object) => ((r as { org_id?: string }).org_id ?? ORG_A) === ORG_A;
    const rows = async <T extends object>(q: Promise<T[]>, pick: (r: T) => unknown) =>
      (await q)
        .filter(inA)
        .map(pick)
        .map((r) => JSON.stringify(r))
        .sort();
    return {
      envs: await rows(db.selectFrom("environments").selectAll().execute(), (r) => [
        r.id,
        r.name,
        r.desired,
        r.cpus,
        r.memory_bytes,
        r.pids,
      ]),
      classes: await rows(db.selectFrom("classes").selectAll().execute(), (r) => [
        r.name,
        r.cpus,
        r.memory_bytes,
      ]),
      // The ciphertext is left out: a key rotation changes it and nothing else.
      secrets: await rows(db.selectFrom("secrets").selectAll().execute(), (r) => [
        r.scope,
        r.owner,
        r.name,
        r.kind,
        r.updated_at,
      ]),
      registries: await rows(db.selectFrom("registry_credentials").selectAll().execute(), (r) => [
        r.host,
        r.username,
        r.updated_at,
      ]),
      sshKeys: await rows(db.selectFrom("ssh_keys").selectAll().execute(), (r) => [r.id, r.user_id]),
      members: await rows(db.selectFrom("memberships").selectAll().execute(), (r) => [r.user_id, r.role]),
      tokens: await rows(db.selectFrom("api_tokens").selectAll().execute(), (r) => [r.id, r.revoked_at]),
      quotas: await rows(db.selectFrom("org_quotas").selectAll().execute(), (r) => [
        r.cpus,
        r.memory_bytes,
        r.disk_bytes,
        r.user_max_running,
      ]),
      runners: await rows(db.selectFrom("runners").selectAll().execute(), (r) => [r.id, r.schedule]),
      images: [FIX.image, DEFAULT_IMAGE].filter((i) => h.runner.images.has(i)),
    };
  }

  return {
    h,
    app,
    identity,
    secrets,
    registries,
    tokens,
    callers,
    markers,
    memberMarkers: [FIX.env, envId],
    ensure,
    snapshot,
    async memberTokenId() {
      return (await identity.createToken(callers.member, { name: "mx-revocable" })).id;
    },
    async memberSshKeyId() {
      await ensure();
      return (await sshKeys.list(callers.member))[0]!.id;
    },
    async ownerTokenId() {
      return (await identity.createToken(callers.owner, { name: "mx-owner-revocable" })).id;
    },
    async forgetOrgB() {
      await db.deleteFrom("secrets").where("org_id", "=", ORG_B).execute();
      // By username, so this holds whether or not logins are per organisation yet.
      await db.deleteFrom("registry_credentials").where("username", "like", "mx-other%").execute();
      await db.deleteFrom("audit_records").where("org_id", "=", ORG_B).execute();
    },
    async close() {
      // injectWS's in-memory sockets never report a finished close handshake, so a socket the
      // server closed would hold the process for ws's 30 s close timeout: end them outright.
      for (const ws of app.websocketServer.clients) ws.terminate();
      await app.close();
      await h.close();
    },
  };
}
