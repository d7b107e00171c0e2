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
// Who may write: any member their own user secrets; admins organisation and project secrets.
// Reads of names follow the same visibility: organisation and project secrets of the caller's
// organisation, and the caller's own user secrets (admins see every user's names).
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import {
  normalizeProject,
  type PutSecretRequest,
  SECRET_NAME_RE,
  SECRET_SCOPES,
  SECRETS_DIR,
  type SecretDelivery,
  type SecretInfo,
  type SecretScope,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import { BOOTSTRAP_ORG_ID, BOOTSTRAP_OWNER_ID } from "../store/migrations/005_identity.ts";
import type { SecretsTable } from "../store/schema-secrets.ts";
import { currentCaller, isAdmin, requirePlatformRole, requireRole } from "./identity.ts";
import {
  keyFile,
  loadOrCreateKey,
  openWithKey,
  type SecretBox,
  sealWithKey,
  secretBox,
} from "./registry-secrets.ts";
import { projectOwners } from "./secret-projects.ts";

export const SECRETS_KEY = "secrets.key";
const MAX_VALUE = 64 * 1024;

export interface SecretService {
  set(scope: string, name: string, req: PutSecretRequest): Promise<SecretInfo>;
  list(): Promise<SecretInfo[]>;
  remove(scope: string, name: string, project?: string): Promise<boolean>;
  /**
   * Decrypted secrets for an environment: org, then its project's (none without a project), then
   * its owner's; a later one replaces an earlier one of the same name or path. `project` is
   * normalized (an environment's stored project).
   */
  forEnv(orgId: string, ownerId: string, project?: string): Promise<SecretDelivery[]>;
  /** Every stored value, decrypted, for masking logs. Cached until the next write. */
  knownValues(): Promise<string[]>;
  /** `warren admin rotate-key`: new keys for secrets and registry logins, rows re-encrypted. */
  rotateKey(): Promise<{ secrets: number; registryLogins: number }>;
}

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

function checkName(name: string): void {
  if (!SECRET_NAME_RE.test(name)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "a secret name is 1-128 letters, digits and underscores, not starting with a digit",
      { field: "name" },
    );
  }
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

/** The secrets row key for a scope, checking who may touch it. */
function rowKey(scope: SecretScope, project: string | undefined, write: boolean) {
  const c = currentCaller();
  const org_id = c?.orgId ?? BOOTSTRAP_ORG_ID;
  const user = c?.userId ?? BOOTSTRAP_OWNER_ID;
  if (scope !== "user" && write && c) requireRole(c, "admin", `${scope} secrets`);
  const owner = scope === "org" ? "" : scope === "user" ? user : checkProject(project);
  return { org_id, scope, owner, created_by: user };
}

function toInfo(r: SecretsTable): SecretInfo {
  return {
    name: r.name,
    scope: r.scope,
    kind: r.kind,
    ...(r.path ? { path: r.path } : {}),
    ...(r.scope === "project" ? { project: r.owner } : {}),
    ...(r.scope === "user" ? { user: r.owner } : {}),
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
  let cache: Promise<string[]> | undefined;
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
    async set(rawScope, name, req) {
      const scope = parseScope(rawScope);
      checkName(name);
      if (
        typeof req.value !== "string" ||
        req.value.length === 0 ||
        Buffer.byteLength(req.value) > MAX_VALUE
      ) {
        throw new WarrenError("INVALID_ARGUMENT", "the value must be 1 byte to 64 KiB", { field: "value" });
      }
      let filePath: string | null = null;
      if (req.kind === "file") {
        filePath = req.path ?? `${SECRETS_DIR}/${name}`;
        const base = filePath.slice(SECRETS_DIR.length + 1);
        if (!filePath.startsWith(`${SECRETS_DIR}/`) || !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(base)) {
          throw new WarrenError(
            "INVALID_ARGUMENT",
            `a file secret's path must be ${SECRETS_DIR}/FILE (a tmpfs inside the environment), FILE being letters, digits, '.', '_' or '-'`,
            { field: "path" },
          );
        }
      } else if (req.kind === "env") {
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
      const key = rowKey(scope, req.project, true);
      const now = isoNow(o.clock);
      const row: SecretsTable = {
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
          }),
        )
        .execute();
      if (scope === "project") await removeOlderSpellings(row.org_id, row.owner, name);
      cache = undefined;
      const stored = await o.db
        .selectFrom("secrets")
        .selectAll()
        .where("org_id", "=", row.org_id)
        .where("scope", "=", scope)
        .where("owner", "=", row.owner)
        .where("name", "=", name)
        .executeTakeFirstOrThrow();
      return toInfo(stored);
    },
    async list() {
      const c = currentCaller();
      let q = o.db.selectFrom("secrets").selectAll();
      if (c) {
        q = q.where("org_id", "=", c.orgId);
        if (!isAdmin(c)) {
          q = q.where((eb) => eb.or([eb("scope", "!=", "user"), eb("owner", "=", c.userId)]));
        }
      }
      const rows = await q.orderBy("scope").orderBy("owner").orderBy("name").execute();
      return rows.map(toInfo);
    },
    async remove(rawScope, name, project) {
      const scope = parseScope(rawScope);
      checkName(name);
      const key = rowKey(scope, project, true);
      const owners = scope === "project" ? await projectOwners(o.db, key.org_id, key.owner) : [key.owner];
      if (owners.length === 0) return false;
      const res = await o.db
        .deleteFrom("secrets")
        .where("org_id", "=", key.org_id)
        .where("scope", "=", scope)
        .where("owner", "in", owners)
        .where("name", "=", name)
        .executeTakeFirst();
      cache = undefined;
      return Number(res.numDeletedRows) > 0;
    },
    async forEnv(orgId, ownerId, project) {
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
      // Later wins. Within the project, a row under the normal form beats an older spelling.
      const rank = (r: SecretsTable) =>
        ({ org: 0, project: 1, user: 3 })[r.scope] + (r.scope === "project" && r.owner === project ? 1 : 0);
      rows.sort((a, b) => rank(a) - rank(b));
      const byTarget = new Map<string, SecretDelivery>();
      for (const r of rows) {
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
    knownValues() {
      cache ??= (async () => {
        const rows = await o.db.selectFrom("secrets").selectAll().execute();
        const out: string[] = [];
        for (const r of rows) out.push(await box.open(r.secret, aad(r)).catch(() => ""));
        return out.filter((v) => v.length >= 4);
      })().catch((err) => {
        cache = undefined;
        throw err;
      });
      return cache;
    },
    async rotateKey() {
      const c = currentCaller();
      if (c) requirePlatformRole(c, "owner", "rotating the encryption keys");
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
        return { secrets: secretRows.length, registryLogins: logins.length };
      });
      // 3. The new keys replace the old ones (rename: the old key is gone in the same step).
      //    Until then the boxes fall back to `.new` for rows that do not open under the old key.
      for (const f of files) await fs.rename(`${f}.new`, f);
      await syncDir(path.dirname(files[0]!));
      box.reset?.();
      o.registryBox?.reset?.();
      cache = undefined;
      return counts;
    },
  };
  return svc;
}

async function readPending(file: string): Promise<Buffer | undefined> {
  const k = await fs.readFile(file).catch(() => undefined);
  return k?.length === 32 ? k : undefined;
}

function openOld(oldKey: Buffer, pending: Buffer | undefined, sealed: string, ad: string): string {
  try {
    return openWithKey(oldKey, sealed, ad);
  } catch {
    try {
      if (!pending) throw new Error("no pending key");
      return openWithKey(pending, sealed, ad);
    } catch {
      throw new WarrenError(
        "INTERNAL",
        "a stored value does not decrypt under the current key; rotation aborted",
      );
    }
  }
}

async function writeKey(file: string, key: Buffer): Promise<void> {
  await fs.rm(file, { force: true });
  const fh = await fs.open(file, "wx", 0o600);
  try {
    await fh.writeFile(key);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
