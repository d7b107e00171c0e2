// `warren up --repo` of a repository whose prebuild is ready: the environment is created with the
// prebuild's image, user, container env and volumes, its disk is a copy of the prebuild's disk
// template (RunnerEnvSpec.template), and its setup starts in phase `update` (prebuild-update.ts)
// with the prebuild's merged configuration. Anything that makes the prebuild not stand for this
// create (another devcontainer.json, an explicit image, ${localEnv:X} values, a template on
// another runner, an image that is gone) means no match: the create goes the usual way.
import { type CreateEnvRequest, normalizeProject, type RunnerApi } from "@warren/protocol";
import type { Actor } from "../../services/actor.ts";
import type { RunnerFor } from "../../services/runner-for.ts";
import { actorOrg } from "../../services/scope.ts";
import type { Db } from "../../store/db.ts";
import { findPrebuild, type PrebuildRow } from "../../store/queries/prebuilds.ts";
import type { SetupState } from "../../store/queries/setups.ts";

/** A repository create as the environment service makes it (repo-source.ts repoCreate). */
export interface RepoCreate {
  req: CreateEnvRequest;
  setup: SetupState;
  /** The runner-spec parts the row starts with (container env, named volumes). */
  runSpec?: { env: Record<string, string>; volumes: { name: string; target: string }[] };
}

/** What a prebuild row keeps for environments made from it (prebuilds.setup, JSON). */
export interface PrebuiltSetup {
  setup: Omit<SetupState, "source" | "localEnv" | "prebuild" | "phase">;
  user: string;
  className: string;
  env: Record<string, string>;
  volumes: { name: string; target: string }[];
}

export function parsePrebuilt(row: Pick<PrebuildRow, "setup">): PrebuiltSetup | undefined {
  if (!row.setup) return undefined;
  try {
    return JSON.parse(row.setup) as PrebuiltSetup;
  } catch {
    return undefined;
  }
}

/** The pure half: the create from a usable prebuild row, or undefined when it does not match. */
export function fromPrebuiltRow(made: RepoCreate, row: PrebuildRow | undefined): RepoCreate | undefined {
  const src = made.setup.source;
  const prebuilt = row && parsePrebuilt(row);
  if (!row || !prebuilt || !row.template_key || !row.image || !row.config_digest) return undefined;
  if ((src.devcontainerPath ?? null) !== row.devcontainer_path) return undefined;
  if (made.setup.image !== undefined) return undefined;
  if (Object.keys(made.setup.localEnv ?? {}).length > 0) return undefined;
  const setup: SetupState = {
    ...prebuilt.setup,
    source: src,
    dir: made.setup.dir,
    workspaceFolder: prebuilt.setup.workspaceFolder,
    phase: "update",
    hooks: prebuilt.setup.hooks ?? [],
    ...(made.setup.classGiven ? { classGiven: true } : {}),
    fromPrebuild: {
      id: row.id,
      configDigest: row.config_digest,
      template: row.template_key,
      ...(row.commit_sha ? { commit: row.commit_sha } : {}),
    },
  };
  delete setup.created;
  delete setup.startedFor;
  delete setup.settled;
  return {
    req: {
      ...made.req,
      image: row.image,
      user: prebuilt.user,
      ...(made.req.className === undefined && !made.setup.classGiven
        ? { className: prebuilt.className }
        : {}),
    },
    setup,
    runSpec: { env: prebuilt.env, volumes: prebuilt.volumes },
  };
}

/** Looks the prebuild up for the actor's organisation and checks its runner still has it. */
export async function matchPrebuild(
  o: { db: Db; runnerFor: RunnerFor<Pick<RunnerApi, "info" | "hasImage">> },
  a: Actor,
  made: RepoCreate,
): Promise<RepoCreate> {
  const url = made.setup.source.url;
  const org = actorOrg(a);
  if (!url || !org) return made;
  const row = await findPrebuild(o.db, org, normalizeProject(url), made.setup.source.branch ?? "");
  const next = fromPrebuiltRow(made, row);
  if (!next || !row) return made;
  const host = o.runnerFor(org);
  const [info, hasImage] = await Promise.all([
    host.info().catch(() => undefined),
    host.hasImage(row.image as string).catch(() => false),
  ]);
  if (!info || info.id !== row.runner_id || !hasImage) return made;
  return next;
}
