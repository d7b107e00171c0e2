// Environment secrets: stored encrypted (AES-256-GCM under `${root}/keys/secrets.key`, the same
// helper as registry logins, services/registry-secrets.ts) and handed to a runner only inside
// ensureRunning's spec (services/secret-delivery.ts). Values never leave this service otherwise:
// list() shows names, scopes and kinds.
//
// A project is a repository URL, keyed in normalizeProject()'s form (protocol project.ts), the
// form environments store theirs in; services/secret-projects.ts matches older, unnormalized rows.
//
// Precedence, when an environment gets several secrets of one name (or one file path): the most
// specific wins, user > project > organisation.
//
// Project secrets reach every member whose environment names the project, unless an admin
// restricted one to named users or roles (services/secret-allow.ts); forEnv applies it.
//
// Who may write: any member their own user secrets; admins organisation and project secrets.
// Reads of names follow the same visibility: organisation and project secrets of the caller's
// organisation, and the caller's own user secrets (admins see every user's names).
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import {
  normalizeProject,
  type PutSecretRequest,
  SECRET_SCOPES,
  SECRETS_DIR,
  type SecretDelivery,
  type SecretInfo,
  type SecretScope,
  secretNameProblem,
  secretPathProblem,
  WarrenError,
} from "@warren/protocol";
import type { Selectable } from "kysely";
import { type Clock, isoNow } from "../clock.ts";
import { reencryptRelayCa } from "../relay/relay-ca.ts";
import type { Db } from "../store/db.ts";
import { BOOTSTRAP_OWNER_ID } from "../store/migrations/005_identity.ts";
import { getRole } from "../store/queries/identity.ts";
import type { SecretsTable } from "../store/schema-secrets.ts";
import { type Actor, requireActor } from "./actor.ts";
import { isAdmin } from "./identity.ts";
import { keyFile, loadOrCreateKey, type SecretBox, sealWithKey, secretBox } from "./registry-secrets.ts";
import { nameOrg, requireAdmin, requirePlatform, requireSystem } from "./scope.ts";
import { allowedFor, shownAllow, storedAllow } from "./secret-allow.ts";
import { projectOwners } from "./secret-projects.ts";
import { openOld, readPending, syncDir, writeKey } from "./secret-rotation.ts";
import { reencryptSshHostKeys } from "./ssh-host-key.ts";

export const SECRETS_KEY = "secrets.key";
const MAX_VALUE = 64 * 1024;

export interface SecretService {
  set(a: Actor, scope: string, name: string, req: PutSecretRequest): Promise<SecretInfo>;
  list(a: Actor): Promise<SecretInfo[]>;
  remove(a: Actor, scope: string, name: string, project?: string): Promise<boolean>;
  /**
   * Decrypted secrets for an environment: org, then its project's (none without a project), then
   * its owner's; a later one replaces an earlier one of the same name or path. `project` is
   * normalized (an environment's stored project). The system only: it decrypts.
   */
  forEnv(a: Actor, orgId: string, ownerId: string, project?: string): Promise<SecretDelivery[]>;
  /**
   * The values delivered to one environment (what forEnv gives it), for masking its logs and
   * events: never another organisation's or another user's, which a log line must not be able to
   * confirm. The system only. Cached per (organisation, owner, project) until the next write.
   */
  knownValues(a: Actor, env: EnvSecretsKey): Promise<string[]>;
  /** `warren admin rotate-key`: new keys for secrets and registry logins, rows re-encrypted. */
  rotateKey(a: Actor): Promise<{ secrets: number; registryLogins: number }>;
}

/** Whose secrets an environment gets: its organisation, its owner and its (normalized) project. */
export interface EnvSecretsKey {
  orgId: string;
  ownerId: string;
  project?: string | undefined;
}

type SecretRow = Selectable<SecretsTable>;

const aad = (r: Pick<SecretsTable, "org_id" | "scope" | "owner" | "name">) =>
  `secret\0${r.org_id}\0${r.scope}\0${r.owner}\0${r.name}`;

export function secretsBox(root: string): SecretBox {
  return secretBox(root, {
    file: SECRETS_KEY,
    undecryptable: (_aad, file) =>
      new WarrenError(
        "INVALID_ARGUMENT",
        `a stored secret cannot be decrypted (was ${file} replaced?); set it again with \`warren secret set\``,
      ),
  });
}

function parseScope(scope: string): SecretScope {
  if (!(SECRET_SCOPES as readonly string[]).includes(scope)) {
    throw new WarrenError("INVALID_ARGUMENT", `scope must be one of ${SECRET_SCOPES.join(", ")}`, {
      field: "scope",
    });
  }
  return scope as SecretScope;
}

function checkName(name: string, kind: "env" | "file"): void {
  const problem = secretNameProblem(name, kind);
  if (problem) throw new WarrenError("INVALID_ARGUMENT", problem, { field: "name" });
}

function checkProject(project: string | undefined): string {
  if (!project) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "project secrets need `project`, the repository URL (e.g. https://github.com/acme/api)",
      { field: "project" },
    );
  }
  return normalizeProject(project);
}

/**
 * The secrets row key for a scope, checking who may touch it. The system writes as the bootstrap
 * owner in the bootstrap organisation; a runner writes nothing.
 */
function rowKey(a: Actor, scope: SecretScope, project: string | undefined) {
  const actor = requireActor(a, "writing a secret");
  if (scope !== "user" || actor.kind === "runner") requireAdmin(actor, `${scope} secrets`);
  const org_id = nameOrg(actor);
  const user = actor.kind === "user" ? actor.userId : BOOTSTRAP_OWNER_ID;
  const owner = scope === "org" ? "" : scope === "user" ? user : checkProject(project);
  return { org_id, scope, owner, created_by: user };
}

function toInfo(r: SecretRow, allow: string[] | undefined): SecretInfo {
  return {
    name: r.name,
    scope: r.scope,
    kind: r.kind,
    ...(r.path ? { path: r.path } : {}),
    ...(r.scope === "project" ? { project: r.owner } : {}),
    ...(r.scope === "user" ? { user: r.owner } : {}),
    ...(allow ? { allow } : {}),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function createSecretService(o: {
  db: Db;
  clock: Clock;
  root: string;
  box?: SecretBox;
  /** The registry logins' box, reset after a rotation. */
  registryBox?: SecretBox;
}): SecretService {
  const box = o.box ?? secretsBox(o.root);
  const cache = new Map<string, Promise<string[]>>();
  /** After a project write under the normal form: the same name under older spellings goes. */
  async function removeOlderSpellings(orgId: string, project: string, name: string): Promise<void> {
    const older = (await projectOwners(o.db, orgId, project)).filter((s) => s !== project);
    if (older.length === 0) return;
    await o.db
      .deleteFrom("secrets")
      .where("org_id", "=", orgId)
      .where("scope", "=", "project")
      .where("owner", "in", older)
      .where("name", "=", name)
      .execute();
  }
  const svc: SecretService = {
    async set(a, rawScope, name, req) {
      requireActor(a, "writing a secret");
      const scope = parseScope(rawScope);
      if (
        typeof req.value !== "string" ||
        req.value.length === 0 ||
        Buffer.byteLength(req.value) > MAX_VALUE
      ) {
        throw new WarrenError("INVALID_ARGUMENT", "the value must be 1 byte to 64 KiB", { field: "value" });
      }
      let filePath: string | null = null;
      if (req.kind === "file") {
        checkName(name, "file");
        filePath = req.path ?? `${SECRETS_DIR}/${name}`;
        const problem = secretPathProblem(filePath);
        if (problem) throw new WarrenError("INVALID_ARGUMENT", problem, { field: "path" });
      } else if (req.kind === "env") {
        checkName(name, "env");
        if (req.path !== undefined) {
          throw new WarrenError("INVALID_ARGUMENT", "only file secrets take a path", { field: "path" });
        }
        if (req.value.includes("\0")) {
          throw new WarrenError("INVALID_ARGUMENT", "an environment variable cannot hold a NUL byte", {
            field: "value",
          });
        }
      } else {
        throw new WarrenError("INVALID_ARGUMENT", 'kind must be "env" or "file"', { field: "kind" });
      }
      const key = rowKey(a, scope, req.project);
      const allowed = await storedAllow(o.db, key.org_id, scope, req.allow);
      const now = isoNow(o.clock);
      const row: SecretRow = {
        org_id: key.org_id,
        scope,
        owner: key.owner,
        name,
        kind: req.kind,
        path: filePath,
        secret: await box.seal(req.value, aad({ ...key, scope, name })),
        created_by: key.created_by,
        created_at: now,
        updated_at: now,
        allowed: allowed ?? null,
      };
      await o.db
        .insertInto("secrets")
        .values(row)
        .onConflict((oc) =>
          oc.columns(["org_id", "scope", "owner", "name"]).doUpdateSet({
            kind: row.kind,
            path: row.path,
            secret: row.secret,
            created_by: row.created_by,
            updated_at: now,
            // An update that says nothing about `allow` keeps the restriction it had.
            ...(allowed !== undefined ? { allowed } : {}),
          }),
        )
        .execute();
      if (scope === "project") await removeOlderSpellings(row.org_id, row.owner, name);
      cache.clear();
      const stored = await o.db
        .selectFrom("secrets")
        .selectAll()
        .where("org_id", "=", row.org_id)
        .where("scope", "=", scope)
        .where("owner", "=", row.owner)
        .where("name", "=", name)
        .executeTakeFirstOrThrow();
      return toInfo(stored, await shownAllow(o.db, stored.allowed));
    },
    async list(a) {
      const c = requireActor(a, "listing secrets");
      if (c.kind === "runner") return [];
      let q = o.db.selectFrom("secrets").selectAll();
      if (c.kind === "user") {
        q = q.where("org_id", "=", c.orgId);
        if (!isAdmin(c)) {
          q = q.where((eb) => eb.or([eb("scope", "!=", "user"), eb("owner", "=", c.userId)]));
        }
      }
      const rows = await q.orderBy("scope").orderBy("owner").orderBy("name").execute();
      return Promise.all(rows.map(async (r) => toInfo(r, await shownAllow(o.db, r.allowed))));
    },
    async remove(a, rawScope, name, project) {
      requireActor(a, "removing a secret");
      const scope = parseScope(rawScope);
      checkName(name, "file"); // a superset of variable names: either kind may be removed
      const key = rowKey(a, scope, project);
      const owners = scope === "project" ? await projectOwners(o.db, key.org_id, key.owner) : [key.owner];
      if (owners.length === 0) return false;
      const res = await o.db
        .deleteFrom("secrets")
        .where("org_id", "=", key.org_id)
        .where("scope", "=", scope)
        .where("owner", "in", owners)
        .where("name", "=", name)
        .executeTakeFirst();
      cache.clear();
      return Number(res.numDeletedRows) > 0;
    },
    async forEnv(a, orgId, ownerId, project) {
      requireSystem(a, "decrypting an environment's secrets");
      const spellings = project ? await projectOwners(o.db, orgId, project) : [];
      const rows = await o.db
        .selectFrom("secrets")
        .selectAll()
        .where("org_id", "=", orgId)
        .where((eb) =>
          eb.or([
            eb("scope", "=", "org"),
            eb.and([eb("scope", "=", "user"), eb("owner", "=", ownerId)]),
            ...(spellings.length > 0
              ? [eb.and([eb("scope", "=", "project"), eb("owner", "in", spellings)])]
              : []),
          ]),
        )
        .execute();
      // A restricted project secret goes only to the environments of the owners it names.
      const role = rows.some((r) => r.allowed !== null) ? await getRole(o.db, orgId, ownerId) : undefined;
      const delivered = rows.filter((r) => allowedFor(r.allowed, ownerId, role));
      // Later wins. Within the project, a row under the normal form beats an older spelling.
      const rank = (r: SecretRow) =>
        ({ org: 0, project: 1, user: 3 })[r.scope] + (r.scope === "project" && r.owner === project ? 1 : 0);
      delivered.sort((a, b) => rank(a) - rank(b));
      const byTarget = new Map<string, SecretDelivery>();
      for (const r of delivered) {
        const value = await box.open(r.secret, aad(r));
        const target = r.kind === "env" ? `env:${r.name}` : `file:${r.path}`;
        byTarget.set(target, {
          name: r.name,
          kind: r.kind,
          ...(r.path ? { path: r.path } : {}),
          value,
        });
      }
      return [...byTarget.values()];
    },
    async knownValues(a, env) {
      requireSystem(a, "decrypting an environment's secrets");
      const k = `${env.orgId}\0${env.ownerId}\0${env.project ?? ""}`;
      let values = cache.get(k);
      if (!values) {
        if (cache.size >= 1000) cache.clear(); // bounded: a miss only costs a query
        values = svc
          .forEnv(a, env.orgId, env.ownerId, env.project)
          // Short values would mask ordinary words in every line.
          .then((ds) => ds.map((d) => d.value).filter((v) => v.length >= 4));
        values.catch(() => cache.delete(k));
        cache.set(k, values);
      }
      return values;
    },
    async rotateKey(a) {
      requirePlatform(a, "owner", "rotating the encryption keys");
      const files = [keyFile(o.root, SECRETS_KEY), keyFile(o.root)];
      const [oldSec, oldReg] = await Promise.all(files.map((f) => loadOrCreateKey(f)));
      // A `.new` left by a rotation that committed but died before its rename holds the key some
      // rows are under now: keep it as a second old key.
      const [pendSec, pendReg] = await Promise.all(files.map((f) => readPending(`${f}.new`)));
      const [newSec, newReg] = [randomBytes(32), randomBytes(32)];
      // 1. The new keys, beside the old ones (0600, synced), before any row changes.
      await writeKey(`${files[0]}.new`, newSec);
      await writeKey(`${files[1]}.new`, newReg);
      // 2. Every row re-encrypted in one transaction: all under the new keys, or none.
      const counts = await o.db.transaction().execute(async (trx) => {
        const secretRows = await trx.selectFrom("secrets").selectAll().execute();
        for (const r of secretRows) {
          const plain = openOld(oldSec!, pendSec, r.secret, aad(r));
          await trx
            .updateTable("secrets")
            .set({ secret: sealWithKey(newSec, plain, aad(r)) })
            .where("org_id", "=", r.org_id)
            .where("scope", "=", r.scope)
            .where("owner", "=", r.owner)
            .where("name", "=", r.name)
            .execute();
        }
        const logins = await trx.selectFrom("registry_credentials").selectAll().execute();
        for (const r of logins) {
          const plain = openOld(oldReg!, pendReg, r.secret, r.host);
          await trx
            .updateTable("registry_credentials")
            .set({ secret: sealWithKey(newReg, plain, r.host) })
            .where("org_id", "=", r.org_id)
            .where("host", "=", r.host)
            .execute();
        }
        // The SSH gateway's host key and the relay CA's key are sealed under the secrets key too.
        await reencryptSshHostKeys(
          trx,
          (sealed, ad) => openOld(oldSec!, pendSec, sealed, ad),
          (plain, ad) => sealWithKey(newSec, plain, ad),
        );
        await reencryptRelayCa(
          trx,
          (sealed, ad) => openOld(oldSec!, pendSec, sealed, ad),
          (plain, ad) => sealWithKey(newSec, plain, ad),
        );
        return { secrets: secretRows.length, registryLogins: logins.length };
      });
      // 3. The new keys replace the old ones (rename: the old key is gone in the same step).
      //    Until then the boxes fall back to `.new` for rows that do not open under the old key.
      for (const f of files) await fs.rename(`${f}.new`, f);
      await syncDir(path.dirname(files[0]!));
      box.reset?.();
      o.registryBox?.reset?.();
      cache.clear();
      return counts;
    },
  };
  return svc;
}
