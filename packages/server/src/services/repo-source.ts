// `warren up --repo`: checks the source a create names and makes the setup controller's first
// state. The environment starts from the base image (the bootstrap container, which has git);
// the setup controller clones, configures and restarts it into its real image.
import {
  type CreateEnvRequest,
  DEFAULT_IMAGE,
  ENV_NAME_RE,
  normalizeProject,
  type RepoSource,
  WarrenError,
} from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { RepoCreate } from "../controllers/setup/prebuild-match.ts";
import type { Db } from "../store/db.ts";
import type { SetupState } from "../store/queries/setups.ts";
import type { Actor } from "./actor.ts";
import { requireUpload } from "./uploads.ts";

const MAX_BRANCH = 255;
const MAX_LOCAL_ENV = 64;
const MAX_LOCAL_ENV_VALUE = 4096;
// A ref name as git allows it, less what a shell or an option could misread.
const BRANCH_RE = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/+@-]+(?<!\.lock)(?<![/.])$/;
const KNOWN_HOST_RE = /^[^\s#][^\n\r\0]{0,4000}$/;
const UPLOAD_ID_RE = /^up_[a-z0-9]{16,40}$/;

function bad(field: string, why: string): WarrenError {
  return new WarrenError("INVALID_ARGUMENT", `invalid --repo ${field}: ${why}`, { field: `repo.${field}` });
}

/** The folder under /workspaces: the repository's name as git clone would pick it, made safe. */
export function repoDir(source: RepoSource): string {
  const from = source.url ?? source.localWorkspaceFolder ?? "";
  const last =
    from
      .replace(/[\\/]+$/, "")
      .split(/[/:\\]/)
      .pop() ?? "";
  const name = last
    .replace(/\.git$/, "")
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[.-]+/, "")
    .slice(0, 100);
  return name || "workspace";
}

/** Checks the source; the error names the field and the fix. */
export function checkRepoSource(src: RepoSource): RepoSource {
  if ((src.url === undefined) === (src.uploadId === undefined))
    throw bad("source", "give either a git URL or an uploaded directory, not both or neither");
  if (src.url !== undefined) {
    if (typeof src.url !== "string" || src.url.length > 1024) throw bad("url", "at most 1024 characters");
    normalizeProject(src.url); // refuses file://, local paths and credentials in the URL
  }
  if (src.uploadId !== undefined && !UPLOAD_ID_RE.test(src.uploadId))
    throw bad("uploadId", "not an upload id; the CLI uploads a directory itself with `warren up --repo DIR`");
  if (src.branch !== undefined && (src.branch.length > MAX_BRANCH || !BRANCH_RE.test(src.branch)))
    throw bad("branch", `${JSON.stringify(src.branch.slice(0, 80))} is not a branch or tag name`);
  if (src.devcontainerPath !== undefined) {
    const p = src.devcontainerPath;
    if (
      p.length > 512 ||
      p.startsWith("/") ||
      p.split("/").some((s) => s === ".." || s === "") ||
      !p.endsWith(".json")
    )
      throw bad(
        "devcontainer",
        `${JSON.stringify(p.slice(0, 80))}: give a path relative to the repository root, e.g. .devcontainer/python/devcontainer.json`,
      );
  }
  for (const line of src.knownHosts ?? []) {
    if (!KNOWN_HOST_RE.test(line))
      throw bad("knownHosts", "each entry is one known_hosts line: HOST KEYTYPE BASE64");
  }
  if ((src.knownHosts?.length ?? 0) > 32) throw bad("knownHosts", "at most 32 pinned keys");
  const env = src.localEnv ?? {};
  if (Object.keys(env).length > MAX_LOCAL_ENV) throw bad("localEnv", `at most ${MAX_LOCAL_ENV} variables`);
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_NAME_RE.test(k) || typeof v !== "string" || v.length > MAX_LOCAL_ENV_VALUE || v.includes("\0"))
      throw bad(
        "localEnv",
        `${JSON.stringify(k.slice(0, 40))}: a shell variable name with a value of at most ${MAX_LOCAL_ENV_VALUE} characters`,
      );
  }
  if (
    src.localWorkspaceFolder !== undefined &&
    (src.localWorkspaceFolder.length > 4096 || src.localWorkspaceFolder.includes("\0"))
  )
    throw bad("localWorkspaceFolder", "at most 4096 characters");
  return src;
}

/** The create as the environment service resolves it, and the setup's first state. */
export function repoCreate(
  req: CreateEnvRequest,
  o: { prebuild?: boolean } = {},
): { req: CreateEnvRequest; setup: SetupState } | undefined {
  if (!req.repo) return undefined;
  const source = checkRepoSource(req.repo);
  const dir = repoDir(source);
  const setup: SetupState = {
    source,
    dir,
    phase: "clone",
    workspaceFolder: `/workspaces/${dir}`,
    hooks: [],
    ...(req.className !== undefined || req.cpus !== undefined || req.memory !== undefined
      ? { classGiven: true }
      : {}),
    ...(req.image !== undefined && req.image !== DEFAULT_IMAGE ? { image: req.image } : {}),
    // A prebuild's environment: its disk becomes a template (prebuild-controller.ts).
    ...(o.prebuild ? { prebuild: true } : {}),
  };
  const { repo: _r, ...rest } = req;
  return {
    // The bootstrap container: the base image has git. A given --image is used when the
    // repository has no devcontainer.json.
    req: {
      ...rest,
      image: DEFAULT_IMAGE,
      ...(rest.project === undefined && source.url ? { project: source.url } : {}),
    },
    setup,
  };
}

/**
 * `up` of an existing repository environment: its image, user, class and project are the setup's
 * (devcontainer.json decided them), so only a different repository or branch is a conflict.
 * `warren up --name N` alone (no --repo) just starts it.
 */
export function repoDifferences(existing: { setup: string | null }, asked: SetupState | undefined): string[] {
  if (!asked) return [];
  const had = existing.setup ? (JSON.parse(existing.setup) as SetupState).source : undefined;
  const out: string[] = [];
  const show = (v: string | undefined) => v ?? "(default)";
  if (
    had &&
    asked.source.url !== undefined &&
    had.url !== undefined &&
    normalizeProject(had.url) !== normalizeProject(asked.source.url)
  )
    out.push(`repository ${had.url} (existing) vs ${asked.source.url} (requested)`);
  if (had && (had.uploadId !== undefined) !== (asked.source.uploadId !== undefined))
    out.push("an uploaded directory vs a git URL");
  if (had && asked.source.branch !== undefined && had.branch !== asked.source.branch)
    out.push(`branch ${show(had.branch)} (existing) vs ${asked.source.branch} (requested)`);
  return out;
}

/** A new row's repository columns (migration 025): the setup, and a prebuild's container env and volumes. */
export function repoColumns(repo: RepoCreate | undefined): {
  setup: string | null;
  container_env: string | null;
  volumes: string | null;
} {
  const env = repo?.runSpec?.env;
  const volumes = repo?.runSpec?.volumes;
  return {
    setup: repo ? JSON.stringify(repo.setup) : null,
    container_env: env && Object.keys(env).length ? JSON.stringify(env) : null,
    volumes: volumes?.length ? JSON.stringify(volumes) : null,
  };
}

/**
 * A create's repository part: checked, matched against a ready prebuild (unless it is one), and
 * its upload checked to be the creator's own. Undefined for a create from an image.
 */
export function repoRequests(deps: {
  db: Db;
  clock: Clock;
  prebuilds?: { fromTemplate(a: Actor, made: RepoCreate): Promise<RepoCreate> } | undefined;
}) {
  return async (
    a: Actor,
    asked: CreateEnvRequest,
    own: { org_id: string; owner_id: string },
    prebuild: boolean,
  ): Promise<RepoCreate | undefined> => {
    const made = repoCreate(asked, { prebuild });
    const repo = made && deps.prebuilds && !prebuild ? await deps.prebuilds.fromTemplate(a, made) : made;
    const upload = repo?.setup.source.uploadId;
    if (upload) await requireUpload(deps.db, upload, own, isoNow(deps.clock));
    return repo;
  };
}
