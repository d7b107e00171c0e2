// Users' developer identity (migration 026): one row per user, read and replaced whole.
import type { Selectable } from "kysely";
import type { UserGitTable } from "../schema-user-git.ts";
import type { Queryable } from "./envs.ts";

export type UserGitRow = Selectable<UserGitTable>;

export function getUserGitRow(db: Queryable, userId: string): Promise<UserGitRow | undefined> {
  return db.selectFrom("user_git").selectAll().where("user_id", "=", userId).executeTakeFirst();
}

/** Writes the row as given (an upsert: the first `user set` inserts it). */
export async function putUserGitRow(db: Queryable, row: UserGitRow): Promise<void> {
  await db
    .insertInto("user_git")
    .values(row)
    .onConflict((oc) =>
      oc.column("user_id").doUpdateSet({
        git_name: row.git_name,
        git_email: row.git_email,
        dotfiles: row.dotfiles,
        updated_at: row.updated_at,
      }),
    )
    .execute();
}
