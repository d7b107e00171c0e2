// Who receives a project secret. By default every member whose environment names the project's
// URL does: a project is a repository, and whoever works on it needs its secrets. An admin may
// restrict one to named users and roles (`--allow user:NAME`, `--allow role:admin`); then only an
// environment whose owner matches an entry receives it, at delivery time (forEnv), so a demotion
// or a removal takes effect on the owner's next start.
//
// Stored (secrets.allowed) as a JSON array of "user:<user id>" and "role:<role>": ids, not names,
// so a user who leaves and a new one who takes the name do not share access. Shown with names.
import { MAX_SECRET_ALLOW, type Role, WarrenError } from "@warren/protocol";
import type { Queryable } from "../store/queries/envs.ts";

const ROLES: readonly Role[] = ["member", "admin", "owner"];
const rank = (r: Role) => ROLES.indexOf(r);

const bad = (msg: string) =>
  new WarrenError(
    "INVALID_ARGUMENT",
    `${msg}; allow entries are user:NAME (a member of this organisation) or role:member|admin|owner`,
    { field: "allow" },
  );

/**
 * The stored form of a request's `allow`: undefined keeps the row's current value, null lifts the
 * restriction, a list must be non-empty and name members of `orgId` and real roles.
 */
export async function storedAllow(
  db: Queryable,
  orgId: string,
  scope: string,
  allow: readonly string[] | null | undefined,
): Promise<string | null | undefined> {
  if (allow === undefined) return undefined;
  if (scope !== "project" && allow !== null) {
    throw bad(`only project secrets take an allow list, not ${scope} secrets`);
  }
  if (allow === null) return null;
  if (!Array.isArray(allow) || allow.length === 0 || allow.length > MAX_SECRET_ALLOW) {
    throw bad(`allow must list 1 to ${MAX_SECRET_ALLOW} entries (null lifts a restriction)`);
  }
  const out = new Set<string>();
  for (const entry of allow) {
    const m = typeof entry === "string" ? /^(user|role):(.{1,200})$/.exec(entry) : null;
    if (!m) throw bad(`"${String(entry).slice(0, 80)}" is not an allow entry`);
    const [, kind, value] = m as unknown as [string, "user" | "role", string];
    if (kind === "role") {
      if (!(ROLES as readonly string[]).includes(value)) throw bad(`"${value}" is not a role`);
      out.add(`role:${value}`);
      continue;
    }
    const user = await db
      .selectFrom("users")
      .innerJoin("memberships", "memberships.user_id", "users.id")
      .select("users.id as id")
      .where("memberships.org_id", "=", orgId)
      .where((eb) => eb.or([eb("users.name", "=", value), eb("users.id", "=", value)]))
      .executeTakeFirst();
    if (!user) throw bad(`"${value}" is not a member of this organisation`);
    out.add(`user:${user.id}`);
  }
  return JSON.stringify([...out].sort());
}

function parse(stored: string | null): string[] | undefined {
  if (stored === null) return undefined;
  try {
    const v = JSON.parse(stored) as unknown;
    return Array.isArray(v) ? v.filter((e): e is string => typeof e === "string") : [];
  } catch {
    return []; // unreadable: fail closed, nobody matches
  }
}

/** Whether an environment owned by `ownerId` (with `role`, undefined when no longer a member) gets it. */
export function allowedFor(stored: string | null, ownerId: string, role: Role | undefined): boolean {
  const entries = parse(stored);
  if (entries === undefined) return true;
  if (role === undefined) return false;
  return entries.some((e) =>
    e.startsWith("role:")
      ? rank(role) >= rank(e.slice(5) as Role) && rank(e.slice(5) as Role) >= 0
      : e === `user:${ownerId}`,
  );
}

/** The entries as the API shows them: user ids replaced by names (a removed user keeps its id). */
export async function shownAllow(db: Queryable, stored: string | null): Promise<string[] | undefined> {
  const entries = parse(stored);
  if (entries === undefined) return undefined;
  const ids = entries.filter((e) => e.startsWith("user:")).map((e) => e.slice(5));
  const names = new Map<string, string>();
  if (ids.length > 0) {
    for (const u of await db.selectFrom("users").select(["id", "name"]).where("id", "in", ids).execute()) {
      names.set(u.id, u.name);
    }
  }
  return entries.map((e) => (e.startsWith("user:") ? `user:${names.get(e.slice(5)) ?? e.slice(5)}` : e));
}
