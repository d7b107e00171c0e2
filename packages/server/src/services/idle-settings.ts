// Idle timeouts: the owner's own setting within their class's and organisation's limits.
// - A new environment gets what it asked for (refused when above a limit) or the default, 30
//   minutes, shortened to the limits.
// - `warren set --idle-timeout` is checked the same way.
// - What the idle controller applies is the shortest of the three, so an admin lowering the
//   organisation's maximum bounds environments made before.
// Timeouts are seconds; null means never.
import {
  DEFAULT_IDLE_TIMEOUT_SECONDS,
  type EnvActivity,
  formatIdleTimeout,
  parseIdleTimeout,
  shortestTimeout,
  WarrenError,
} from "@warren/protocol";
import { getClass } from "../store/queries/classes.ts";
import type { EnvRow, Queryable } from "../store/queries/envs.ts";
import { getEnvById } from "../store/queries/envs.ts";
import { updateIdleTimeout, writeActivity } from "../store/queries/idle.ts";
import { getQuotaRow } from "../store/queries/quotas.ts";
import { ownershipOf } from "./scope.ts";

export interface IdleLimits {
  /** The class's limit (seconds) and its name, for messages. */
  classMax: number | null;
  className: string;
  /** The organisation's maximum (seconds). */
  orgMax: number | null;
}

/** `input` as seconds (null: never), or INVALID_ARGUMENT naming the field and the forms it takes. */
export function idleTimeoutArg(input: string, field = "idleTimeout"): number | null {
  try {
    return parseIdleTimeout(input, field);
  } catch (err) {
    throw new WarrenError("INVALID_ARGUMENT", (err as Error).message, { field });
  }
}

export async function idleLimits(db: Queryable, orgId: string, className: string): Promise<IdleLimits> {
  const cls = await getClass(db, className, orgId);
  const quota = await getQuotaRow(db, orgId);
  return { classMax: cls?.idle_timeout_s ?? null, className, orgMax: quota?.max_idle_timeout_s ?? null };
}

/** Refuses an owner's timeout above a limit, naming the limit and what to ask for instead. */
export function checkIdleTimeout(seconds: number | null, l: IdleLimits): number | null {
  const over = (limit: number) => seconds === null || seconds > limit;
  const refuse = (limit: number, whose: string) =>
    new WarrenError(
      "INVALID_ARGUMENT",
      `idle timeout ${formatIdleTimeout(seconds)} is longer than ${whose} maximum of ${formatIdleTimeout(limit)}; ask for ${formatIdleTimeout(limit)} or less`,
      { field: "idleTimeout", max: limit },
    );
  if (l.orgMax !== null && over(l.orgMax)) throw refuse(l.orgMax, "the organisation's");
  if (l.classMax !== null && over(l.classMax)) throw refuse(l.classMax, `class "${l.className}"'s`);
  return seconds;
}

/** A new environment's own timeout: the one asked for (checked), else the default within the limits. */
export function newEnvIdleTimeout(asked: number | null | undefined, l: IdleLimits): number | null {
  if (asked !== undefined) return checkIdleTimeout(asked, l);
  return shortestTimeout(DEFAULT_IDLE_TIMEOUT_SECONDS, l.classMax, l.orgMax);
}

/** What the idle controller applies: the shortest of the owner's, the class's and the organisation's. */
export function effectiveIdleTimeout(own: number | null, l: Pick<IdleLimits, "classMax" | "orgMax">) {
  return shortestTimeout(own, l.classMax, l.orgMax);
}

/** `warren set --idle-timeout`: checked against the limits, then stored. Returns the updated row. */
export async function setEnvIdleTimeout(
  db: Queryable,
  row: EnvRow,
  input: string,
  now: string,
): Promise<EnvRow> {
  const seconds = idleTimeoutArg(input);
  checkIdleTimeout(seconds, await idleLimits(db, ownershipOf(row).org_id, row.class_name));
  await updateIdleTimeout(db, row.id, seconds, now);
  return (await getEnvById(db, row.id)) ?? row;
}

/**
 * Writes one activity (services/activity.ts calls this at most once a minute per environment):
 * its last use, and the deadline that use gives under the timeout in force now.
 */
export async function persistActivity(db: Queryable, envId: string, a: EnvActivity): Promise<void> {
  const row = await getEnvById(db, envId);
  if (!row) return;
  const own = row.idle_timeout_s;
  const limits = await idleLimits(db, ownershipOf(row).org_id, row.class_name);
  const timeout = effectiveIdleTimeout(own, limits);
  const deadline = timeout === null ? null : new Date(Date.parse(a.at) + timeout * 1000).toISOString();
  await writeActivity(db, envId, { ...a, deadline });
}
