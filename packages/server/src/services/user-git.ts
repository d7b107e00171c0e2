// Users' developer identity (`warren user set --git-name --git-email --dotfiles URL`): what every
// environment a user creates from a repository is set up with (controllers/setup/clone.ts's
// runDotfiles). Each user reads and writes only their own; the setup controller reads the
// environment owner's through getUserGit (the system, by user id). Runners see nothing.
import {
  checkGitEmail,
  checkGitName,
  checkGitUrl,
  type SetUserGitRequest,
  type UserGit,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import type { Queryable } from "../store/queries/envs.ts";
import { getUserGitRow, putUserGitRow, type UserGitRow } from "../store/queries/user-git.ts";
import { type Actor, requireUser } from "./actor.ts";

export interface UserGitService {
  get(a: Actor): Promise<UserGit>;
  set(a: Actor, req: SetUserGitRequest): Promise<UserGit>;
}

function toUserGit(r: UserGitRow | undefined): UserGit {
  if (!r) return {};
  return {
    ...(r.git_name !== null ? { gitName: r.git_name } : {}),
    ...(r.git_email !== null ? { gitEmail: r.git_email } : {}),
    ...(r.dotfiles !== null ? { dotfiles: r.dotfiles } : {}),
    updatedAt: r.updated_at,
  };
}

/** A field of the request: undefined keeps `old`, null or "" clears it, a string is checked. */
function field(
  v: string | null | undefined,
  old: string | null,
  check: (s: string) => string,
): string | null {
  if (v === undefined) return old;
  if (typeof v !== "string" && v !== null) {
    throw new WarrenError("INVALID_ARGUMENT", "each field is a string, or null (or empty) to clear it");
  }
  // Empty clears too: the request validator may coerce a JSON null to "" before it gets here.
  if (v === null || v.trim() === "") return null;
  return check(v);
}

/** What `warren user set` stored for a user (the environment's owner), for the setup controller. */
export async function getUserGit(db: Queryable, userId: string): Promise<UserGit> {
  return toUserGit(await getUserGitRow(db, userId));
}

export function createUserGitService(o: { db: Db; clock: Clock }): UserGitService {
  return {
    async get(a) {
      const user = requireUser(a, "reading your git identity");
      return getUserGit(o.db, user.userId);
    },
    async set(a, req) {
      const user = requireUser(a, "setting your git identity");
      const known = new Set(["gitName", "gitEmail", "dotfiles"]);
      const unknown = Object.keys(req ?? {}).filter((k) => !known.has(k));
      if (unknown.length > 0) {
        throw new WarrenError(
          "INVALID_ARGUMENT",
          `unknown field ${unknown[0]}: give gitName, gitEmail or dotfiles`,
        );
      }
      return o.db.transaction().execute(async (tx) => {
        const old = await getUserGitRow(tx, user.userId);
        const row: UserGitRow = {
          user_id: user.userId,
          git_name: field(req.gitName, old?.git_name ?? null, checkGitName),
          git_email: field(req.gitEmail, old?.git_email ?? null, checkGitEmail),
          dotfiles: field(req.dotfiles, old?.dotfiles ?? null, (u) => checkGitUrl(u, "dotfiles")),
          updated_at: isoNow(o.clock),
        };
        await putUserGitRow(tx, row);
        return toUserGit(row);
      });
    },
  };
}
