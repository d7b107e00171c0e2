// The setup controller's state of a repository environment, one JSON column on its row
// (migration 025). Only the setup controller and `rebuild` write it; readers get EnvSetup, the
// public part (toEnvironment), never localEnv or the merged configuration's internals.
import type { EnvSetup, HookRun, LifecycleHookName, RepoSource } from "@warren/protocol";
import type { Db } from "../db.ts";
import type { EnvRow, Queryable } from "./envs.ts";

export interface SetupState extends EnvSetup {
  /** The CLI's variables for ${localEnv:X}; kept only until configure has read them. */
  localEnv?: Record<string, string>;
  /** The merged devcontainer configuration (@warren/devcontainer MergedConfig) once configured. */
  merged?: Record<string, unknown>;
  /** The parsed .warren/automations.yaml, when the repository has a valid one. */
  automations?: Record<string, unknown>;
  /** What configure decided to build: a Dockerfile and/or Features (runner BuildImageRequest less envId). */
  build?: Record<string, unknown>;
  /** The create-time hooks (onCreate, updateContent, postCreate) ran, successfully or not. */
  created?: boolean;
  /** observed.startedAt of the start whose postStart hooks and automations ran. */
  startedFor?: string;
  /** How many times clone/configure/build failed in a row (attempts before `failed`). */
  failures?: number;
  /** The create named a class or sizes: hostRequirements then pick nothing. */
  classGiven?: boolean;
  /** A prebuild's environment: only onCreate and updateContent run, then its disk is saved. */
  prebuild?: boolean;
  /** Started from a prebuild's disk template (phase `update` checks it against the latest commit). */
  fromPrebuild?: { id: string; commit?: string; configDigest: string; template: string };
  /** Create-time hooks the prebuild already ran (skipped by the create-time hooks here). */
  skipHooks?: LifecycleHookName[];
}

export function parseSetup(row: Pick<EnvRow, "setup">): SetupState | undefined {
  if (!row.setup) return undefined;
  try {
    return JSON.parse(row.setup) as SetupState;
  } catch {
    return undefined;
  }
}

/** What the API shows: the source without localEnv, the phase, hooks. */
export function publicSetup(s: SetupState): EnvSetup {
  const {
    localEnv: _l,
    merged: _m,
    automations: _a,
    build: _b,
    created: _c,
    startedFor: _s,
    failures: _f,
    prebuild: _p,
    fromPrebuild: _fp,
    skipHooks: _sh,
    ...pub
  } = s;
  const { localEnv: _le, ...source } = pub.source as RepoSource;
  return { ...pub, source };
}

export async function saveSetup(db: Queryable, id: string, s: SetupState, now: string): Promise<void> {
  await db
    .updateTable("environments")
    .set({ setup: JSON.stringify(s), updated_at: now })
    .where("id", "=", id)
    .execute();
}

/** The disk template a repository environment's disk is made from (a prebuild's), if any. */
export function templateOf(row: Pick<EnvRow, "setup">): string | undefined {
  return row.setup ? parseSetup(row)?.fromPrebuild?.template : undefined;
}

/** Records one hook run (replacing the last run of the same hook). */
export function withHookRun(s: SetupState, run: HookRun): SetupState {
  return { ...s, hooks: [...s.hooks.filter((h) => h.name !== run.name), run] };
}

/** The parsed automations of an environment (services/automations.ts reads them for the CLI). */
export async function getSetupAutomations(
  db: Db,
  envId: string,
): Promise<Record<string, unknown> | undefined> {
  const row = await db.selectFrom("environments").select("setup").where("id", "=", envId).executeTakeFirst();
  return row ? parseSetup(row)?.automations : undefined;
}

/** The runner-spec parts configure decided (container env, volumes), saved with the new image. */
export async function saveRunSpec(
  db: Queryable,
  id: string,
  o: {
    image: string;
    user: string;
    env: Record<string, string>;
    volumes: { name: string; target: string }[];
  },
  now: string,
): Promise<void> {
  await db
    .updateTable("environments")
    .set({
      image: o.image,
      user_name: o.user,
      container_env: Object.keys(o.env).length ? JSON.stringify(o.env) : null,
      volumes: o.volumes.length ? JSON.stringify(o.volumes) : null,
      updated_at: now,
    })
    .where("id", "=", id)
    .execute();
}

/** A start is asked for: its hooks have not run yet (`up` waits for settled). */
export async function markUnsettled(db: Queryable, id: string): Promise<void> {
  const row = await db.selectFrom("environments").select("setup").where("id", "=", id).executeTakeFirst();
  const s = row ? parseSetup(row) : undefined;
  if (!s || s.settled === false) return;
  await db
    .updateTable("environments")
    .set({ setup: JSON.stringify({ ...s, settled: false }) })
    .where("id", "=", id)
    .execute();
}
